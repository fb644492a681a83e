#include "waitless/web/rate_limit.hpp"

#include <algorithm>
#include <cmath>
#include <list>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "waitless/web/http_error.hpp"
#include "waitless/web/request.hpp"
#include "waitless/web/response.hpp"

namespace waitless::web {

Result<RateDecision> RateLimitStore::take_now(std::string_view, const RateLimitRule&, Clock::time_point) {
  return make_error_code(Error::invalid_argument);  // not a synchronous store: take() is the way
}

namespace {

constexpr std::size_t kShards = 16;

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

}  // namespace

struct MemoryRateLimitStore::Shard {
  struct Bucket {
    std::string key;
    double tokens = 0;
    Clock::time_point last;
  };
  std::mutex mu;
  std::list<Bucket> lru;  // most recently used first
  std::unordered_map<std::string, std::list<Bucket>::iterator, StringHash, std::equal_to<>> index;
  std::size_t capacity = 1;
};

MemoryRateLimitStore::MemoryRateLimitStore(std::size_t max_keys)
    : max_keys_(std::max<std::size_t>(max_keys, kShards)), shards_(new Shard[kShards]) {
  for (std::size_t i = 0; i < kShards; ++i) shards_[i].capacity = (max_keys_ + kShards - 1) / kShards;
}

MemoryRateLimitStore::~MemoryRateLimitStore() = default;

std::size_t MemoryRateLimitStore::size() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < kShards; ++i) {
    std::lock_guard lock(shards_[i].mu);
    n += shards_[i].index.size();
  }
  return n;
}

Result<RateDecision> MemoryRateLimitStore::take_now(std::string_view key, const RateLimitRule& rule,
                                                    Clock::time_point now) {
  if (rule.limit == 0 || rule.window.count() <= 0) return make_error_code(Error::invalid_argument);
  Shard& s = shards_[StringHash{}(key) % kShards];
  const double limit = rule.limit;
  const double window_ms = static_cast<double>(rule.window.count());
  std::lock_guard lock(s.mu);
  auto found = s.index.find(key);
  Shard::Bucket* b;
  if (found != s.index.end()) {
    s.lru.splice(s.lru.begin(), s.lru, found->second);  // most recent first
    b = &*found->second;
    const double elapsed_ms = std::chrono::duration<double, std::milli>(now - b->last).count();
    if (elapsed_ms > 0) {
      b->tokens = std::min(limit, b->tokens + elapsed_ms * limit / window_ms);
      b->last = now;
    }
  } else {
    if (s.index.size() >= s.capacity) {  // the least recently used key goes
      s.index.erase(s.lru.back().key);
      s.lru.pop_back();
    }
    s.lru.push_front(Shard::Bucket{std::string(key), limit, now});
    s.index.emplace(s.lru.front().key, s.lru.begin());
    b = &s.lru.front();
  }
  RateDecision d;
  const double ms_per_token = window_ms / limit;
  if (b->tokens >= 1) {
    b->tokens -= 1;
    d.allowed = true;
  } else {
    d.retry_after =
        std::chrono::milliseconds(static_cast<int64_t>(std::ceil((1 - b->tokens) * ms_per_token)));
  }
  d.remaining = static_cast<uint32_t>(std::floor(b->tokens));
  d.reset = std::chrono::milliseconds(static_cast<int64_t>(std::ceil((limit - b->tokens) * ms_per_token)));
  return d;
}

Task<Result<RateDecision>> MemoryRateLimitStore::take(std::string key, RateLimitRule rule,
                                                      Clock::time_point now) {
  co_return take_now(key, rule, now);
}

std::string rate_limit_policy(const RateLimitRule& rule) {
  return std::to_string(rule.limit) + ";w=" + std::to_string(rate_limit_seconds(rule.window));
}

namespace {

struct RateLimitConfig {
  RateLimitOptions options;
  RateLimitRule rule;
  std::string policy;
  std::string limit;
};

RateLimitStore::Clock::time_point now(const RateLimitConfig& cfg) {
  return cfg.options.clock ? cfg.options.clock() : RateLimitStore::Clock::now();
}

std::string key_of(const RateLimitConfig& cfg, Request& req) {
  if (cfg.options.key) return cfg.options.key(req);
  return std::string(req.ip());
}

// The headers, and the 429 when refused.
void apply(const RateLimitConfig& cfg, Response& res, const RateDecision& d) {
  if (cfg.options.headers) {
    res.set_header("RateLimit-Policy", cfg.policy);
    res.set_header("RateLimit-Limit", cfg.limit);
    res.set_header("RateLimit-Remaining", std::to_string(d.remaining));
    res.set_header("RateLimit-Reset", std::to_string(rate_limit_seconds(d.reset)));
  }
  if (!d.allowed) {
    throw HttpError(429, "too many requests, try again later")
        .with_header("Retry-After", std::to_string(std::max<int64_t>(1, rate_limit_seconds(d.retry_after))));
  }
}

}  // namespace

Layer rate_limit(RateLimitOptions options) {
  auto cfg = std::make_shared<RateLimitConfig>();
  if (!options.store) options.store = std::make_shared<MemoryRateLimitStore>(options.max_keys);
  if (options.limit == 0) options.limit = 1;
  if (options.window.count() <= 0) options.window = std::chrono::milliseconds(1000);
  cfg->rule = {options.limit, options.window};
  cfg->limit = std::to_string(options.limit);
  cfg->policy = rate_limit_policy(cfg->rule);
  cfg->options = std::move(options);

  Layer layer;
  if (cfg->options.store->synchronous()) {
    layer.sync = [cfg](Request& req, Response& res, Next next) {
      std::string key = key_of(*cfg, req);
      if (!key.empty()) {
        auto d = cfg->options.store->take_now(key, cfg->rule, now(*cfg));
        if (!d) throw HttpError::from(d.error());
        apply(*cfg, res, *d);
      }
      next();
    };
  } else {
    layer.async = [cfg](Request& req, Response& res, Next next) -> Task<> {
      std::string key = key_of(*cfg, req);
      if (!key.empty()) {
        auto d = co_await cfg->options.store->take(std::move(key), cfg->rule, now(*cfg));
        if (!d) throw HttpError::from(d.error());  // the store is down: 503 / 500 by its error
        apply(*cfg, res, *d);
      }
      co_await next();
    };
  }
  return layer;
}

}  // namespace waitless::web
