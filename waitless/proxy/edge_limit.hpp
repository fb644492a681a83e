// EdgeLimiter: the edge rate limit of one route (RouteSpec::rate_limit, docs/proxy.md), checked before the
// upstream is chosen, so a refused request never reaches an upstream.
//
// The web framework's token bucket and bounded key table (web::MemoryRateLimitStore) underneath, with the
// same header semantics as web::rate_limit(): a bucket of `burst` tokens per key, refilled continuously at
// `rate` per second (the store's rule: limit = burst, window = burst / rate). Every answer of the route
// carries
//   RateLimit-Policy: <burst>;w=<window seconds>    RateLimit-Limit: <burst>
//   RateLimit-Remaining: <tokens left>              RateLimit-Reset: <seconds until the bucket is full>
// and a refused request gets `429 too many requests` with `Retry-After: <seconds until a token>` (at least
// 1).
//
// One limiter per route, shared by every loop of the proxy (the store is locked in 16 shards): the rate is
// the route's whole rate, whatever the number of threads. A reload keeps a route's buckets when its host,
// prefix and rate_limit section are unchanged.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "waitless/http/request.hpp"
#include "waitless/http/response.hpp"
#include "waitless/proxy/config.hpp"
#include "waitless/web/rate_limit.hpp"

namespace waitless::proxy {

class EdgeLimiter {
 public:
  using Clock = web::RateLimitStore::Clock;
  explicit EdgeLimiter(const RateLimitSpec& spec);

  const RateLimitSpec& spec() const noexcept { return spec_; }
  const web::RateLimitRule& rule() const noexcept { return rule_; }

  // Takes one token of this request's bucket and puts the RateLimit-* fields on `res`. Refused: sends the
  // 429 on `res` and returns false (the request is done).
  bool admit(const http::Request& req, std::string_view client_ip, http::Response& res,
             Clock::time_point now = Clock::now());
  // The bucket key of a request: the configured header's value, else "ip:" + the client's address.
  std::string key_of(const http::Request& req, std::string_view client_ip) const;

  uint64_t limited() const noexcept { return limited_.load(std::memory_order_relaxed); }
  std::size_t keys() const { return store_.size(); }

 private:
  RateLimitSpec spec_;
  web::RateLimitRule rule_;
  std::string policy_, limit_;
  web::MemoryRateLimitStore store_;
  std::atomic<uint64_t> limited_{0};
};

// One limiter per route of `config` (null where the route has none), taking over the previous snapshot's
// limiter of a route with the same host, prefix and rate_limit section (its buckets and counter).
std::vector<std::shared_ptr<EdgeLimiter>> make_edge_limiters(
    const ProxyConfig& config, const ProxyConfig* previous_config,
    const std::vector<std::shared_ptr<EdgeLimiter>>* previous);

// The label of a route in metrics: "host/prefix" or "/prefix".
std::string route_label(const RouteSpec& route);

}  // namespace waitless::proxy
