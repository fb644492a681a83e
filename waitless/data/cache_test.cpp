#include "waitless/data/cache.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "waitless/async/sleep.hpp"
#include "waitless/async/when_all.hpp"
#include "waitless/data/redis_test_support.hpp"
#include "waitless/net/test_support.hpp"

namespace waitless::data {
namespace {

using namespace std::chrono_literals;
using net::test::expect_empty;
using net::test::run_task;

template <typename F>
void run_test(Loop& loop, F&& body) {
  run_task(body(), loop);
  loop.run();
  expect_empty(loop);
}

TEST(CacheLru, HitsMissesAndTtl) {
  Loop loop;
  run_test(loop, [&]() -> Task<> {
    Cache cache(loop);
    cache.put("a", "1", 20ms);
    cache.put("b", "2", Duration::zero());  // no expiry
    EXPECT_EQ(cache.get("a"), std::optional<std::string>("1"));
    EXPECT_EQ(cache.get("nope"), std::nullopt);
    co_await sleep(40ms);
    EXPECT_EQ(cache.get("a"), std::nullopt);  // expired
    EXPECT_EQ(cache.get("b"), std::optional<std::string>("2"));
    EXPECT_EQ(cache.stats().hits, 2u);
    EXPECT_EQ(cache.stats().misses, 2u);
    EXPECT_EQ(cache.stats().expirations, 1u);
    EXPECT_EQ(cache.size(), 1u);
    EXPECT_TRUE(cache.erase("b"));
    EXPECT_EQ(cache.bytes(), 0u);
  });
}

TEST(CacheLru, EvictsLeastRecentlyUsedWithinTheByteBound) {
  Loop loop;
  const std::size_t entry = 2 * 2 + 100 + Cache::kEntryOverhead;  // keys "k0".."k9", 100-byte values
  Cache cache(loop, {.max_bytes = 3 * entry});
  const std::string v(100, 'v');
  cache.put("k1", v, Duration::zero());
  cache.put("k2", v, Duration::zero());
  cache.put("k3", v, Duration::zero());
  EXPECT_EQ(cache.bytes(), 3 * entry);
  EXPECT_TRUE(cache.get("k1"));  // k1 is now the most recent: k2 goes first
  cache.put("k4", v, Duration::zero());
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.get("k2"));
  EXPECT_TRUE(cache.get("k1"));
  EXPECT_TRUE(cache.get("k3"));
  EXPECT_TRUE(cache.get("k4"));
  EXPECT_EQ(cache.stats().evictions, 1u);
  EXPECT_LE(cache.bytes(), 3 * entry);
  // Larger than the whole bound: not stored, nothing evicted for it.
  cache.put("big", std::string(4 * entry, 'x'), Duration::zero());
  EXPECT_FALSE(cache.get("big"));
  EXPECT_EQ(cache.size(), 3u);
  // Replacing a key replaces its bytes.
  cache.put("k4", "small", Duration::zero());
  EXPECT_EQ(cache.bytes(), 2 * entry + 2 * 2 + 5 + Cache::kEntryOverhead);
}

TEST(CacheSingleFlight, ThousandConcurrentMissesRunTheLoaderOnce) {
  Loop loop;
  run_test(loop, [&]() -> Task<> {
    Cache cache(loop);
    int runs = 0;
    auto loader = [&]() -> Task<Result<std::string>> {
      ++runs;
      co_await sleep(20ms);  // a database round trip
      co_return std::string("value");
    };
    std::vector<Task<Result<std::string>>> waiters;
    for (int i = 0; i < 1000; ++i) waiters.push_back(cache.get_or_load("hot", 10s, loader));
    std::vector<Result<std::string>> results = co_await when_all(std::move(waiters));
    EXPECT_EQ(runs, 1);
    CO_ASSERT_EQ(results.size(), 1000u);
    for (const auto& r : results) {
      CO_ASSERT_TRUE(r.ok());
      EXPECT_EQ(r.value(), "value");
    }
    EXPECT_EQ(cache.stats().misses, 1000u);
    EXPECT_EQ(cache.stats().coalesced, 999u);
    EXPECT_EQ(cache.stats().loads, 1u);
    EXPECT_EQ(cache.flights(), 0u);
    // Then a hit, without the loader.
    EXPECT_EQ((co_await cache.get_or_load("hot", 10s, loader)).value(), "value");
    EXPECT_EQ(runs, 1);
    EXPECT_EQ(cache.stats().hits, 1u);
  });
}

TEST(CacheSingleFlight, ErrorsReachEveryWaiterAndAreNotCached) {
  Loop loop;
  run_test(loop, [&]() -> Task<> {
    Cache cache(loop);
    int runs = 0;
    auto failing = [&]() -> Task<Result<std::string>> {
      ++runs;
      co_await sleep(5ms);
      co_return make_error_code(Error::timed_out);
    };
    std::vector<Task<Result<std::string>>> waiters;
    for (int i = 0; i < 10; ++i) waiters.push_back(cache.get_or_load("k", 10s, failing));
    for (const auto& r : co_await when_all(std::move(waiters)))
      EXPECT_EQ(r.error(), make_error_code(Error::timed_out));
    EXPECT_EQ(runs, 1);
    EXPECT_EQ(cache.stats().load_errors, 1u);
    EXPECT_EQ(cache.size(), 0u);
    // Not cached: the next call loads again.
    auto ok = [&]() -> Task<Result<std::string>> {
      ++runs;
      co_return std::string("fine");
    };
    EXPECT_EQ((co_await cache.get_or_load("k", 10s, ok)).value(), "fine");
    EXPECT_EQ(runs, 2);
    // A loader that throws: every waiter gets the exception.
    auto throwing = [&]() -> Task<Result<std::string>> {
      co_await sleep(1ms);
      throw std::runtime_error("boom");
    };
    int thrown = 0;
    auto call = [&]() -> Task<> {
      try {
        (void)co_await cache.get_or_load("t", 10s, throwing);
      } catch (const std::runtime_error&) {
        ++thrown;
      }
    };
    co_await when_all(call(), call(), call());
    EXPECT_EQ(thrown, 3);
  });
}

TEST(CacheSingleFlight, CancelledWaiterDoesNotCancelTheLoader) {
  Loop loop;
  run_test(loop, [&]() -> Task<> {
    Cache cache(loop);
    int runs = 0, finished = 0;
    auto loader = [&]() -> Task<Result<std::string>> {
      ++runs;
      std::error_code ec = co_await sleep(50ms);
      if (!ec) ++finished;
      co_return std::string("v");
    };
    CancelSource first;
    auto cancel_soon = [&]() -> Task<> {
      co_await sleep(10ms);
      first.cancel();
    };
    // The first caller starts the load and is cancelled; the second still gets the value.
    auto [a, b, c] = co_await when_all(cache.get_or_load("k", 10s, loader).with_token(first.token()),
                                       cache.get_or_load("k", 10s, loader), cancel_soon());
    EXPECT_EQ(a.error(), make_error_code(Error::cancelled));
    EXPECT_EQ(b.value(), "v");
    EXPECT_EQ(runs, 1);
    EXPECT_EQ(finished, 1);
    EXPECT_EQ(cache.get("k"), std::optional<std::string>("v"));
  });
}

TEST(CacheSingleFlight, DestroyingTheCacheCancelsItsLoaders) {
  Loop loop;
  run_test(loop, [&]() -> Task<> {
    std::optional<Cache> cache(std::in_place, loop);
    std::error_code loader_saw;
    auto loader = [&]() -> Task<Result<std::string>> {
      loader_saw = co_await sleep(10s);
      if (loader_saw) co_return loader_saw;
      co_return std::string("late");
    };
    auto destroy_soon = [&]() -> Task<> {
      co_await sleep(10ms);
      cache.reset();
    };
    auto [r, done] = co_await when_all(cache->get_or_load("k", 10s, loader), destroy_soon());
    EXPECT_EQ(r.error(), make_error_code(Error::cancelled));
    EXPECT_EQ(loader_saw, make_error_code(Error::cancelled));
  });
}

TEST(CacheRedis, SecondLevelSharesLoadsBetweenCaches) {
  WAITLESS_REQUIRE_REDIS(opts);
  Loop loop;
  run_test(loop, [&]() -> Task<> {
    RedisClient redis(loop, opts);
    const std::string prefix = "wl:test:cache:" + std::to_string(::getpid()) + ":";
    (void)co_await redis.command({"DEL", prefix + "k"});
    Cache one(loop, {.redis = &redis, .redis_prefix = prefix});
    Cache two(loop, {.redis = &redis, .redis_prefix = prefix});
    int runs = 0;
    auto loader = [&]() -> Task<Result<std::string>> {
      ++runs;
      co_return std::string("from-db");
    };
    EXPECT_EQ((co_await one.get_or_load("k", 10s, loader)).value(), "from-db");
    EXPECT_EQ(runs, 1);
    // The other cache (another process, in production) finds it in Redis.
    EXPECT_EQ((co_await two.get_or_load("k", 10s, loader)).value(), "from-db");
    EXPECT_EQ(runs, 1);
    EXPECT_EQ(two.stats().redis_hits, 1u);
    Result<Reply> ttl = co_await redis.command({"PTTL", prefix + "k"});
    EXPECT_GT(ttl->integer(), 0);
    EXPECT_LE(ttl->integer(), 10000);
    (void)co_await redis.command({"DEL", prefix + "k"});
  });
}

}  // namespace
}  // namespace waitless::data
