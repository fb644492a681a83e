// ProxyConfig: what `waitless proxy --config proxy.json` runs, parsed from JSON (docs/proxy.md is the
// reference). The smallest file that works:
//
//   { "listen": "127.0.0.1:8080",
//     "upstreams": { "app": { "servers": ["127.0.0.1:9001", {"addr": "127.0.0.1:9002", "weight": 2}],
//                             "balance": "round_robin",
//                             "health": { "path": "/healthz", "interval_ms": 500, "timeout_ms": 200,
//                                         "rise": 2, "fall": 2 } } },
//     "routes": [ { "prefix": "/", "upstream": "app" } ] }
//
// Parsing is strict: an unknown key, a value of the wrong type or out of range, a route naming an upstream
// that does not exist, is an error whose message names the field ("upstreams.app.servers[1].weight: ...").
// A typo in a config file is never silently ignored.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "waitless/base/result.hpp"
#include "waitless/net/tls_context.hpp"

namespace waitless::proxy {

using Millis = std::chrono::milliseconds;

struct ServerSpec {
  std::string addr;  // "host:port" or "[v6]:port", as written
  std::string host;  // without brackets
  uint16_t port = 0;
  unsigned weight = 1;  // 1..1000
  bool tls = false;     // "https://host:port", or the upstream has a "tls" section
};

// TLS toward an upstream's https servers: verification on unless `verify` is false, against `ca` (PEM; empty:
// the system's store); `sni` is the name sent and verified instead of the server's host (an IP literal is
// verified as an IP address and not sent as SNI). The parser makes the context (so a CA file that cannot be
// read is a config error); every loop's connections to this upstream share it.
struct UpstreamTls {
  std::string ca;
  bool verify = true;
  std::string sni;
  std::shared_ptr<net::TlsContext> context;  // null when no server of the upstream speaks TLS
  bool same_settings(const UpstreamTls& o) const noexcept {
    return ca == o.ca && verify == o.verify && sni == o.sni && (context == nullptr) == (o.context == nullptr);
  }
};

enum class Balance : uint8_t { round_robin, least_conn, hash };

struct HashKey {
  enum class Kind : uint8_t { client_ip, header, cookie };
  Kind kind = Kind::client_ip;
  std::string name;  // the header or cookie name
};

// Active checks: GET `path` on every server each `interval`; `rise` successes in a row bring a down server
// up, `fall` failures (non-2xx/3xx, error, or no answer within `timeout`) take an up one down.
struct ActiveHealth {
  bool enabled = false;
  std::string path = "/";
  Millis interval{1000};
  Millis timeout{500};
  unsigned rise = 2;
  unsigned fall = 2;
};

// Passive checks: `max_fails` consecutive failures of real requests (connect error, reset, timeout, bad
// response) eject a server for `eject` (0 max_fails: never ejected).
struct PassiveHealth {
  unsigned max_fails = 3;
  Millis eject{10'000};
};

struct UpstreamSpec {
  std::string name;
  std::vector<ServerSpec> servers;
  Balance balance = Balance::round_robin;
  HashKey hash_key;
  double hash_load_factor = 1.25;  // bounded load: no server takes more than this × the mean in flight
  ActiveHealth health;
  PassiveHealth passive;
  Millis slow_start{0};       // a recovered server's weight ramps up over this (0: at once)
  bool rewrite_host = false;  // Host: the server's "host:port" instead of the client's
  // Sticky sessions: a cookie of this name (set by the proxy on a response without it) names the server of
  // the client's later requests, as long as that server is usable. Empty: none.
  std::string sticky_cookie;
  unsigned max_connections = 256;  // per server, per loop (more requests wait for one)
  UpstreamTls tls = {};
};

// Edge rate limiting of a route (edge_limit.hpp): a token bucket per key holding `burst` tokens, refilled at
// `rate` per second; the key is the client's IP, or the value of request header `header` (a request
// without it is keyed by its IP).
struct RateLimitSpec {
  bool enabled = false;
  double rate = 0;
  uint32_t burst = 0;
  std::string header;
  std::size_t max_keys = 100'000;  // buckets kept (least recently used dropped beyond)
  bool operator==(const RateLimitSpec&) const = default;
};

// The response cache of a route (response_cache.hpp), per loop.
struct CacheSpec {
  bool enabled = false;
  uint64_t max_bytes = 16 << 20;       // all entries, per loop
  uint64_t max_entry_bytes = 1 << 20;  // a larger response is streamed and not stored
  Millis default_ttl{0};               // for a cacheable response without max-age/s-maxage (0: not stored)
  bool operator==(const CacheSpec&) const = default;
};

struct RouteSpec {
  std::string host;  // empty: any host; else matched against Host without its port, case-insensitively
  std::string prefix = "/";
  std::string upstream;
  std::size_t upstream_index = 0;  // into ProxyConfig::upstreams
  RateLimitSpec rate_limit = {};
  CacheSpec cache = {};
};

struct ProxyConfig {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 8080;
  std::string tls_cert, tls_key;  // both or neither: HTTPS on the listen address
  unsigned threads = 1;           // loops (0: one per core)
  Millis connect_timeout{2000};
  Millis first_byte_timeout{30'000};      // from sending the request to the end of the response head
  Millis idle_timeout{60'000};            // longest silence while a response body arrives
  Millis keepalive_timeout{60'000};       // an unused upstream connection is closed after this
  Millis tunnel_idle_timeout{3'600'000};  // an upgraded connection (WebSocket) silent both ways this long
  std::string metrics_path;               // empty: no metrics endpoint
  unsigned retry_budget_percent = 20;     // retries, at most this share of the requests
  uint64_t max_request_body = 64ull << 20;
  uint64_t response_buffer = 1 << 20;  // per request: upstream bytes read ahead of a slow client
  std::string via = "waitless";        // the Via pseudonym
  std::vector<UpstreamSpec> upstreams;
  std::vector<RouteSpec> routes;
};

// Parses the JSON text. On failure: Error::invalid_argument and *message says where and why.
Result<ProxyConfig> parse_config(std::string_view json, std::string* message);
// Reads and parses a file (the message names the file when it cannot be read).
Result<ProxyConfig> load_config(const std::string& path, std::string* message);

// "host:port" / "[v6]:port" into its parts (false when malformed or the port is not 1..65535).
bool split_host_port(std::string_view text, std::string& host, uint16_t& port);

}  // namespace waitless::proxy
