// Proxy: the reverse proxy's request handler. One Proxy holds the configuration in force (a Snapshot:
// the config and its live upstreams) and is shared by every loop; each loop that serves requests has a
// ProxyLoop, which owns that loop's upstream connection pools (an http::Client: keep-alive connections per
// upstream server, per loop) and caches the snapshot.
//
//   proxy::Proxy proxy(std::move(config));
//   http::Server server(proxy.handler());
//   // on each loop that serves it, before it runs:  proxy::ProxyLoop pl(proxy, loop);
//
// One request: the route (host, then longest path prefix), the upstream's balancer picks a usable server,
// the request goes there with its headers rewritten (forward.hpp), and the response head and body come
// back streamed: the body is read from the upstream while it is written to the client, and the upstream
// is read ahead of a slow client by at most ProxyConfig::response_buffer bytes, beyond which the proxy
// waits for the client (backpressure); so a slow client holds an upstream connection only for responses
// larger than that buffer. The request body is streamed to the upstream as the client sends it
// (request_body.hpp), bounded by max_request_body. An upgrade (WebSocket) answered 101 becomes a tunnel
// (tunnel.hpp) between the two sockets.
//
// Failures: no route 404; no usable server 503; connect error, reset, or a malformed or incomplete head
// 502; no response head within the first-byte timeout 504 (each with a one-line text body). An
// idempotent request (GET, HEAD, PUT, DELETE, OPTIONS) that fails before any byte of its response went to
// the client (connect error, reset or close before or right after the upstream's head; not a timeout) is
// retried once on another server, within the retry budget. A body that fails after
// its head went to the client cannot be retried: the client connection is closed so that the truncated
// response is not taken as complete.
//
// Reload: reload() swaps in a new snapshot; requests in flight finish on the one they started with, new
// requests take the new one (each ProxyLoop notices the generation change at its next request).
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "waitless/async/task.hpp"
#include "waitless/http/client.hpp"
#include "waitless/http/request.hpp"
#include "waitless/http/response.hpp"
#include "waitless/http/server_options.hpp"
#include "waitless/loop/loop.hpp"
#include "waitless/proxy/config.hpp"
#include "waitless/proxy/edge_limit.hpp"
#include "waitless/proxy/response_cache.hpp"
#include "waitless/proxy/upstream.hpp"

namespace waitless::proxy {

struct Snapshot {
  ProxyConfig config;
  std::vector<std::shared_ptr<Upstream>> upstreams;    // in config.upstreams' order
  std::vector<std::shared_ptr<EdgeLimiter>> limiters;  // per route (null: no rate limit)
  std::vector<std::shared_ptr<CacheCounters>> caches;  // per route (null: no response cache)
};

// The route of (host, path): host-specific routes first, then the longest prefix; null if none.
const RouteSpec* match_route(const ProxyConfig& config, std::string_view host,
                             std::string_view path) noexcept;

class Proxy {
 public:
  explicit Proxy(ProxyConfig config);
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // The new configuration for new requests. The listen address, threads and TLS files are not changed by a
  // reload (the caller restarts for those); servers with the same address keep their state.
  void reload(ProxyConfig config);
  std::shared_ptr<const Snapshot> snapshot() const;
  uint64_t generation() const noexcept { return generation_.load(std::memory_order_acquire); }

  // The server handler: runs the request on the current loop's ProxyLoop (a 500 if the loop has none).
  http::Handler handler();

  // Prometheus text exposition of every upstream's metrics (metrics.hpp).
  std::string metrics_text() const;

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::atomic<uint64_t> generation_{1};
};

class ProxyLoop {
 public:
  // Registers itself as the current thread's ProxyLoop (one per thread) until destroyed.
  ProxyLoop(Proxy& proxy, Loop& loop);
  ~ProxyLoop();
  ProxyLoop(const ProxyLoop&) = delete;
  ProxyLoop& operator=(const ProxyLoop&) = delete;

  static ProxyLoop* current() noexcept;
  Task<> handle(http::Request& req, http::Response& res);
  // The upstream pools' counters (tests, metrics).
  http::ClientMetrics client_metrics() const noexcept { return client_->metrics(); }

 private:
  void refresh();
  Task<> tunnel(http::Response& res, http::ClientStream& from, const ProxyConfig& cfg,
                std::shared_ptr<ServerState> server);

  Proxy& proxy_;
  Loop& loop_;
  uint64_t generation_ = 0;
  std::shared_ptr<const Snapshot> snapshot_;
  // Shared with the requests in flight: a reload that changes the timeouts makes a new Client while the
  // old one finishes its requests.
  std::shared_ptr<http::Client> client_;
  // Per upstream of the snapshot: its https client (upstream_tls.hpp), null for a plain-HTTP upstream.
  std::vector<std::shared_ptr<http::Client>> tls_clients_;
  ResponseCaches caches_;  // this loop's response caches, per route of the snapshot
};

}  // namespace waitless::proxy
