// rate_limit(): a token bucket per key, as Express's `express-rate-limit` (with its standard headers).
//
//   app.use(rate_limit());                                             // 100 requests a minute per client IP
//   app.use("/login", rate_limit({.limit = 5, .window = 15min, .key = [](Request& r) { return ...; }}));
//
// Each key (the client's IP per the App's TrustProxy by default, or `key`) has a bucket of `limit`
// tokens, refilled continuously at limit per window (a client may burst `limit` requests, then goes on at
// the steady rate). A request takes one token; with none left it is answered 429 (problem document via
// HttpError, so errors() formats it) with `Retry-After: <seconds until a token>`; every answer carries
//   RateLimit-Policy: <limit>;w=<window seconds>
//   RateLimit-Limit: <limit>
//   RateLimit-Remaining: <tokens left>
//   RateLimit-Reset: <seconds until the bucket is full again>
// (IETF draft-ietf-httpapi-ratelimit-headers-06, express-rate-limit's `standardHeaders: 'draft-6'`).
// An empty key (the connection is gone) is not limited. Defaults: 100 a minute (express-rate-limit's 5 a
// minute is meant for login forms; give those their own, tighter, scoped limiter).
//
// Stores: RateLimitStore is the seam (a Redis store would implement take() with a script doing the same
// arithmetic). MemoryRateLimitStore is the default: one per middleware, shared by the App's loops (locked,
// in 16 shards), with at most max_keys buckets: past it, the least recently used key is dropped (its
// client starts again with a full bucket), so a flood of distinct keys costs bounded memory
// (about 100 B per key). A store whose answer is immediate (synchronous() true) keeps the middleware a
// plain function (the fast path); another one makes it a coroutine.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "waitless/async/task.hpp"
#include "waitless/base/result.hpp"
#include "waitless/web/chain.hpp"

namespace waitless::web {

struct RateLimitRule {
  uint32_t limit = 100;  // tokens (burst size), refilled over `window`
  std::chrono::milliseconds window{60'000};
};

struct RateDecision {
  bool allowed = false;
  uint32_t remaining = 0;                    // whole tokens left after this request
  std::chrono::milliseconds reset{0};        // until the bucket is full again
  std::chrono::milliseconds retry_after{0};  // refused: until one token is there
};

class RateLimitStore {
 public:
  using Clock = std::chrono::steady_clock;
  virtual ~RateLimitStore() = default;
  // Takes one token from key's bucket (made full on first sight) at `now`.
  virtual Task<Result<RateDecision>> take(std::string key, RateLimitRule rule, Clock::time_point now) = 0;
  // A store that answers at once says so, and answers through take_now() (the middleware stays plain).
  virtual bool synchronous() const noexcept { return false; }
  virtual Result<RateDecision> take_now(std::string_view key, const RateLimitRule& rule,
                                        Clock::time_point now);
};

class MemoryRateLimitStore final : public RateLimitStore {
 public:
  explicit MemoryRateLimitStore(std::size_t max_keys = 100'000);
  ~MemoryRateLimitStore() override;
  Task<Result<RateDecision>> take(std::string key, RateLimitRule rule, Clock::time_point now) override;
  bool synchronous() const noexcept override { return true; }
  Result<RateDecision> take_now(std::string_view key, const RateLimitRule& rule,
                                Clock::time_point now) override;
  std::size_t size() const;  // keys held
  std::size_t max_keys() const noexcept { return max_keys_; }

 private:
  struct Shard;
  std::size_t max_keys_;
  std::unique_ptr<Shard[]> shards_;
};

// The standard fields' arithmetic, shared with the reverse proxy's edge limiter (proxy/edge_limit.hpp):
// a duration in whole seconds, rounded up (RateLimit-Reset, Retry-After), and the RateLimit-Policy value
// of a rule ("<limit>;w=<window seconds>").
inline int64_t rate_limit_seconds(std::chrono::milliseconds d) noexcept { return (d.count() + 999) / 1000; }
std::string rate_limit_policy(const RateLimitRule& rule);

class Request;

struct RateLimitOptions {
  uint32_t limit = 100;
  std::chrono::milliseconds window{60'000};
  std::function<std::string(Request&)> key;  // default: req.ip()
  std::shared_ptr<RateLimitStore> store;     // default: a MemoryRateLimitStore(max_keys)
  std::size_t max_keys = 100'000;
  bool headers = true;  // the RateLimit-* fields on every answer (Retry-After on a 429 always)
  // The time given to the store; steady_clock::now() when unset (tests freeze it to check exact headers).
  std::function<RateLimitStore::Clock::time_point()> clock;
};

Layer rate_limit(RateLimitOptions options = {});

}  // namespace waitless::web
