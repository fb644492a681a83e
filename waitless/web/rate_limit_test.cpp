#include "waitless/web/rate_limit.hpp"

#include <gtest/gtest.h>

#include "waitless/web/app_test_support.hpp"
#include "waitless/web/test_support.hpp"

namespace waitless::web {
namespace {

using namespace std::chrono_literals;
using Clock = RateLimitStore::Clock;
using http::testing::get;
using test::request;
using test::serve;

TEST(RateLimitStore, TokenBucketBurstsThenRefillsAtTheSteadyRate) {
  MemoryRateLimitStore store;
  const RateLimitRule rule{.limit = 3, .window = 3000ms};  // one token a second
  const auto t0 = Clock::now();
  for (uint32_t i = 0; i < 3; ++i) {
    auto d = store.take_now("k", rule, t0);
    ASSERT_TRUE(d.ok());
    EXPECT_TRUE(d->allowed);
    EXPECT_EQ(d->remaining, 2 - i);
    EXPECT_EQ(d->reset, std::chrono::milliseconds(1000 * (i + 1)));
  }
  auto refused = store.take_now("k", rule, t0);
  EXPECT_FALSE(refused->allowed);
  EXPECT_EQ(refused->remaining, 0u);
  EXPECT_EQ(refused->retry_after, 1000ms);
  auto half = store.take_now("k", rule, t0 + 500ms);
  EXPECT_FALSE(half->allowed);
  EXPECT_EQ(half->retry_after, 500ms);
  EXPECT_TRUE(store.take_now("k", rule, t0 + 1000ms)->allowed);
  EXPECT_FALSE(store.take_now("k", rule, t0 + 1000ms)->allowed);
  // Other keys have their own bucket; a long pause refills only up to the limit.
  EXPECT_TRUE(store.take_now("other", rule, t0)->allowed);
  auto later = store.take_now("k", rule, t0 + 1h);
  EXPECT_TRUE(later->allowed);
  EXPECT_EQ(later->remaining, 2u);
  EXPECT_FALSE(store.take_now("k", {.limit = 0}, t0).ok());
}

TEST(RateLimitStore, AFloodOfDistinctKeysStaysBounded) {
  MemoryRateLimitStore store(1000);
  const RateLimitRule rule{.limit = 1, .window = 60s};
  const auto t0 = Clock::now();
  EXPECT_TRUE(store.take_now("victim", rule, t0)->allowed);
  EXPECT_FALSE(store.take_now("victim", rule, t0)->allowed);
  const std::size_t heap_before = test::heap_in_use();
  for (int i = 0; i < 200'000; ++i) ASSERT_TRUE(store.take_now("flood-" + std::to_string(i), rule, t0).ok());
  EXPECT_LE(store.size(), 1000u + 16u);
  EXPECT_LT(test::heap_in_use(), heap_before + 1024 * 1024);  // ~1000 buckets, not 200 000
  // The least recently used went first: the victim's bucket was dropped (full again).
  EXPECT_TRUE(store.take_now("victim", rule, t0)->allowed);
  // A key kept in use survives a flood.
  EXPECT_TRUE(store.take_now("busy", rule, t0)->allowed);
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(store.take_now("f2-" + std::to_string(i), rule, t0).ok());
    if (i % 10 == 0) EXPECT_FALSE(store.take_now("busy", rule, t0)->allowed);
  }
}

TEST(RateLimit, Answers429WithRetryAfterAndStandardHeaders) {
  App app;
  app.use(errors());
  const auto t0 = Clock::now();
  app.use(rate_limit({.limit = 2, .window = 60s, .clock = [t0] { return t0; }}));  // frozen: exact headers
  app.get("/x", [](Request&, Response& res) { res.send("x"); });
  serve(app, [&](uint16_t port) {
    auto a = request(port, get("/x"));
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(a.header("RateLimit-Policy"), "2;w=60");
    EXPECT_EQ(a.header("RateLimit-Limit"), "2");
    EXPECT_EQ(a.header("RateLimit-Remaining"), "1");
    EXPECT_EQ(a.header("RateLimit-Reset"), "30");
    auto b = request(port, get("/x"));
    EXPECT_EQ(b.header("RateLimit-Remaining"), "0");
    auto c = request(port, get("/x"));
    EXPECT_EQ(c.status, 429);
    EXPECT_EQ(c.header("Retry-After"), "30");
    EXPECT_EQ(c.header("RateLimit-Remaining"), "0");
    EXPECT_EQ(c.header("RateLimit-Limit"), "2");
    EXPECT_EQ(c.header("Content-Type"), "application/problem+json");
    EXPECT_NE(c.body.find("\"status\":429"), std::string::npos);
  });
}

// A store that answers later, as a networked one would: the middleware becomes a coroutine.
class SlowStore final : public RateLimitStore {
 public:
  Task<Result<RateDecision>> take(std::string key, RateLimitRule rule, Clock::time_point now) override {
    co_await sleep(1ms);
    co_return inner.take_now(key, rule, now);
  }
  MemoryRateLimitStore inner;
};

TEST(RateLimit, KeyFunctionAndAnAsyncStore) {
  App app;
  app.use(rate_limit({.limit = 1,
                      .window = 10s,
                      .key = [](Request& req) { return std::string(req.header("X-Api-Key")); },
                      .store = std::make_shared<SlowStore>(),
                      .headers = false}));
  app.get("/x", [](Request&, Response& res) { res.send("x"); });
  serve(app, [&](uint16_t port) {
    auto a = request(port, get("/x", "X-Api-Key: a\r\n"));
    EXPECT_EQ(a.status, 200);
    EXPECT_FALSE(a.has("RateLimit-Limit"));
    auto a2 = request(port, get("/x", "X-Api-Key: a\r\n"));
    EXPECT_EQ(a2.status, 429);
    EXPECT_EQ(a2.header("Retry-After"), "10");
    EXPECT_EQ(request(port, get("/x", "X-Api-Key: b\r\n")).status, 200);
    // No key: not limited.
    EXPECT_EQ(request(port, get("/x")).status, 200);
    EXPECT_EQ(request(port, get("/x")).status, 200);
  });
}

}  // namespace
}  // namespace waitless::web
