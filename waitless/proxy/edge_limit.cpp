#include "waitless/proxy/edge_limit.hpp"

#include <algorithm>
#include <cmath>

#include "waitless/base/log.hpp"

namespace waitless::proxy {

namespace {

web::RateLimitRule rule_of(const RateLimitSpec& spec) {
  const double window_ms = std::max(1.0, std::round(double(spec.burst) * 1000.0 / spec.rate));
  return {spec.burst, std::chrono::milliseconds(int64_t(window_ms))};
}

}  // namespace

EdgeLimiter::EdgeLimiter(const RateLimitSpec& spec)
    : spec_(spec),
      rule_(rule_of(spec)),
      policy_(web::rate_limit_policy(rule_)),
      limit_(std::to_string(rule_.limit)),
      store_(spec.max_keys) {}

std::string EdgeLimiter::key_of(const http::Request& req, std::string_view client_ip) const {
  if (!spec_.header.empty()) {
    const std::string_view v = req.header(spec_.header);
    if (!v.empty()) return "h:" + std::string(v);
  }
  return "ip:" + std::string(client_ip);
}

bool EdgeLimiter::admit(const http::Request& req, std::string_view client_ip, http::Response& res,
                        Clock::time_point now) {
  auto d = store_.take_now(key_of(req, client_ip), rule_, now);
  if (!d) {  // only for a rule the parser never makes; let the request through rather than refuse all
    log::error("proxy: rate limit store refused the rule: {}", d.error().message());
    return true;
  }
  (void)res.set_header("RateLimit-Policy", policy_);
  (void)res.set_header("RateLimit-Limit", limit_);
  (void)res.set_header("RateLimit-Remaining", std::to_string(d->remaining));
  (void)res.set_header("RateLimit-Reset", std::to_string(web::rate_limit_seconds(d->reset)));
  if (d->allowed) return true;
  limited_.fetch_add(1, std::memory_order_relaxed);
  (void)res.set_header("Retry-After",
                       std::to_string(std::max<int64_t>(1, web::rate_limit_seconds(d->retry_after))));
  (void)res.send(429, "429 too many requests\n", "text/plain; charset=utf-8");
  return false;
}

std::vector<std::shared_ptr<EdgeLimiter>> make_edge_limiters(
    const ProxyConfig& config, const ProxyConfig* previous_config,
    const std::vector<std::shared_ptr<EdgeLimiter>>* previous) {
  std::vector<std::shared_ptr<EdgeLimiter>> out(config.routes.size());
  for (std::size_t i = 0; i < config.routes.size(); ++i) {
    const RouteSpec& r = config.routes[i];
    if (!r.rate_limit.enabled) continue;
    if (previous_config && previous) {
      for (std::size_t k = 0; k < previous_config->routes.size() && k < previous->size(); ++k) {
        const RouteSpec& p = previous_config->routes[k];
        if ((*previous)[k] && p.host == r.host && p.prefix == r.prefix && p.rate_limit == r.rate_limit) {
          out[i] = (*previous)[k];
        }
      }
    }
    if (!out[i]) out[i] = std::make_shared<EdgeLimiter>(r.rate_limit);
  }
  return out;
}

std::string route_label(const RouteSpec& route) { return route.host + route.prefix; }

}  // namespace waitless::proxy
