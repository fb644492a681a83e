// Pool<T> against a connection factory test double (connections are plain objects; connects take a
// real timer wait and can be made to fail). Pool + PostgreSQL together: postgres_pool_test.cpp.
#include "waitless/data/pool.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <vector>

#include "waitless/async/sleep.hpp"
#include "waitless/async/when_all.hpp"
#include "waitless/data/db_test_support.hpp"
#include "waitless/loop/test_support.hpp"

namespace waitless::data {
namespace {

struct FakeConn {
  int id = 0;
  bool usable = true;
  bool is_usable() const noexcept { return usable; }
};

// Counts connects; fails them while `failing` is set.
struct FakeServer {
  int made = 0;
  int attempts = 0;
  bool failing = false;
  Duration latency = 1ms;

  Pool<FakeConn>::Factory factory() {
    return [this]() -> Task<Result<std::unique_ptr<FakeConn>>> { return connect(this); };
  }
  static Task<Result<std::unique_ptr<FakeConn>>> connect(FakeServer* self) {
    ++self->attempts;
    if (auto ec = co_await sleep(self->latency)) co_return ec;
    if (self->failing) co_return make_error_code(DbError::connect_failed);
    auto c = std::make_unique<FakeConn>();
    c->id = ++self->made;
    co_return c;
  }
};

// Polls `cond` on the loop for up to 3 s (a loaded machine may run the pool's timers late).
Task<bool> eventually(std::function<bool()> cond) {
  for (int i = 0; i < 1500; ++i) {
    if (cond()) co_return true;
    (void)co_await sleep(2ms);
  }
  co_return cond();
}

void finish(Loop& loop) {
  loop.run();  // lets cancelled background work end
  test::expect_empty(loop);
}

TEST(Pool, ReturnedConnectionIsReused) {
  Loop loop;
  FakeServer server;
  run(
      [&]() -> Task<> {
        Pool<FakeConn> pool(server.factory());
        int first = 0;
        {
          auto h = co_await pool.acquire();
          EXPECT_TRUE(h.ok());
          first = (*h)->id;
          EXPECT_EQ(pool.metrics().in_use, 1u);
        }
        EXPECT_EQ(pool.metrics().idle, 1u);
        auto h = co_await pool.acquire();
        EXPECT_EQ((*h)->id, first);
        EXPECT_EQ(server.made, 1);
        EXPECT_EQ(pool.metrics().acquired, 2u);
      }(),
      loop);
  finish(loop);
}

TEST(Pool, ExhaustionEndsWithTimeoutError) {
  Loop loop;
  FakeServer server;
  run(
      [&]() -> Task<> {
        Pool<FakeConn> pool(server.factory(), {.max = 1, .acquire_timeout = 30ms});
        auto held = co_await pool.acquire();
        EXPECT_TRUE(held.ok());
        const int64_t t0 = loop.now();
        auto second = co_await pool.acquire();
        CO_ASSERT_FALSE(second.ok());
        EXPECT_EQ(second.error(), DbError::pool_timeout);
        EXPECT_TRUE(second.error() == DbCondition::unavailable);
        EXPECT_EQ(http_status_for(second.error()), 503);
        EXPECT_GE(loop.now() - t0, 30'000'000);
        EXPECT_EQ(pool.metrics().timeouts, 1u);
        EXPECT_EQ(pool.metrics().waiting, 0u);
        EXPECT_EQ(server.made, 1);
      }(),
      loop);
  finish(loop);
}

TEST(Pool, WaitersAreServedInOrderAsConnectionsReturn) {
  Loop loop;
  FakeServer server;
  run(
      [&]() -> Task<> {
        Pool<FakeConn> pool(server.factory(), {.max = 1});
        std::vector<int> order;
        auto user = [&](int who, Duration hold) -> Task<> {
          auto h = co_await pool.acquire();
          EXPECT_TRUE(h.ok());
          order.push_back(who);
          (void)co_await sleep(hold);
        };
        co_await when_all(user(1, 5ms), user(2, 1ms), user(3, 1ms));
        EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
        EXPECT_EQ(server.made, 1);
        EXPECT_GT(pool.metrics().max_wait_ns, 0);
      }(),
      loop);
  finish(loop);
}

TEST(Pool, BrokenConnectionsAreNeverHandedOut) {
  Loop loop;
  FakeServer server;
  run(
      [&]() -> Task<> {
        Pool<FakeConn> pool(server.factory());
        FakeConn* raw = nullptr;
        {
          auto h = co_await pool.acquire();
          raw = h->get();
        }
        raw->usable = false;  // e.g. the server closed it while idle
        {
          auto h = co_await pool.acquire();
          EXPECT_EQ((*h)->id, 2);
          h->discard();  // state unknown: destroyed, not returned
        }
        EXPECT_EQ(pool.metrics().idle, 0u);
        EXPECT_EQ(pool.metrics().discarded, 2u);
      }(),
      loop);
  finish(loop);
}

TEST(Pool, KeepsMinimumOpenInTheBackground) {
  Loop loop;
  FakeServer server;
  run(
      [&]() -> Task<> {
        Pool<FakeConn> pool(server.factory(), {.min = 2, .max = 4, .maintenance_interval = 5ms});
        EXPECT_TRUE(co_await eventually([&] { return pool.metrics().idle == 2; }));
        // Both break: the sweep drops them and the refill replaces them.
        {
          auto a = co_await pool.acquire();
          auto b = co_await pool.acquire();
          (*a)->usable = false;
          (*b)->usable = false;
        }
        EXPECT_TRUE(co_await eventually([&] { return pool.metrics().idle == 2; }));
        EXPECT_EQ(server.made, 4);
      }(),
      loop);
  finish(loop);
}

TEST(Pool, RefillBacksOffWhileTheServerIsDownThenRecovers) {
  Loop loop;
  FakeServer server;
  server.failing = true;
  run(
      [&]() -> Task<> {
        Pool<FakeConn> pool(server.factory(), {.min = 1,
                                               .maintenance_interval = 5ms,
                                               .backoff_initial = 4ms,
                                               .backoff_max = 16ms,
                                               .breaker_threshold = 0});
        (void)co_await sleep(100ms);
        // Backoff: 100 ms of a down server costs a bounded number of tries, not one per millisecond.
        EXPECT_GE(server.attempts, 3);
        EXPECT_LE(server.attempts, 20);
        server.failing = false;
        EXPECT_TRUE(co_await eventually([&] { return pool.metrics().idle == 1; }));
      }(),
      loop);
  finish(loop);
}

TEST(Pool, CircuitOpensAfterRepeatedFailuresThenProbes) {
  Loop loop;
  FakeServer server;
  server.failing = true;
  run(
      [&]() -> Task<> {
        Pool<FakeConn> pool(server.factory(), {.breaker_threshold = 3, .breaker_cooldown = 30ms});
        for (int i = 0; i < 3; ++i) {
          auto r = co_await pool.acquire();
          EXPECT_EQ(r.error(), DbError::connect_failed);
        }
        EXPECT_EQ(pool.metrics().breaker, BreakerState::open);
        const int before = server.attempts;
        auto fast = co_await pool.acquire();
        EXPECT_EQ(fast.error(), DbError::circuit_open);
        EXPECT_EQ(http_status_for(fast.error()), 503);
        EXPECT_EQ(server.attempts, before);  // failed fast: no connect tried
        (void)co_await sleep(35ms);
        // Half-open: the probe fails, the circuit reopens.
        auto probe = co_await pool.acquire();
        EXPECT_EQ(probe.error(), DbError::connect_failed);
        EXPECT_EQ(pool.metrics().breaker, BreakerState::open);
        (void)co_await sleep(35ms);
        server.failing = false;
        auto ok = co_await pool.acquire();
        EXPECT_TRUE(ok.ok());
        EXPECT_EQ(pool.metrics().breaker, BreakerState::closed);
      }(),
      loop);
  finish(loop);
}

TEST(Pool, IdleConnectionsBeyondMinimumTimeOut) {
  Loop loop;
  FakeServer server;
  run(
      [&]() -> Task<> {
        Pool<FakeConn> pool(server.factory(),
                            {.min = 1, .max = 4, .idle_timeout = 10ms, .maintenance_interval = 5ms});
        {
          auto a = co_await pool.acquire();
          auto b = co_await pool.acquire();
          auto c = co_await pool.acquire();
        }
        EXPECT_EQ(pool.metrics().idle, 3u);
        EXPECT_TRUE(co_await eventually([&] { return pool.metrics().idle == 1; }));
        (void)co_await sleep(30ms);  // and no further: `min` stays open
        EXPECT_EQ(pool.metrics().idle, 1u);
      }(),
      loop);
  finish(loop);
}

TEST(Pool, CancelledAcquireLeavesTheQueue) {
  Loop loop;
  FakeServer server;
  run(
      [&]() -> Task<> {
        Pool<FakeConn> pool(server.factory(), {.max = 1});
        auto held = co_await pool.acquire();
        CancelSource source;
        auto waiter = [&]() -> Task<std::error_code> {
          auto r = co_await pool.acquire();
          co_return r.error();
        };
        auto canceller = [&]() -> Task<> {
          (void)co_await sleep(5ms);
          EXPECT_EQ(pool.metrics().waiting, 1u);
          source.cancel();
        };
        auto [ec, none] = co_await when_all(waiter().with_token(source.token()), canceller());
        EXPECT_EQ(ec, Error::cancelled);
        EXPECT_EQ(pool.metrics().waiting, 0u);
        held->release();
        auto again = co_await pool.acquire();
        EXPECT_TRUE(again.ok());
      }(),
      loop);
  finish(loop);
}

TEST(Pool, ClosingFailsWaitersAndDropsReturnedConnections) {
  Loop loop;
  FakeServer server;
  run(
      [&]() -> Task<> {
        auto pool = std::make_unique<Pool<FakeConn>>(server.factory(), PoolOptions{.max = 1});
        auto held = co_await pool->acquire();
        auto waiter = [&]() -> Task<std::error_code> { co_return (co_await pool->acquire()).error(); };
        auto closer = [&]() -> Task<> {
          (void)co_await sleep(2ms);
          pool.reset();
        };
        auto [ec, none] = co_await when_all(waiter(), closer());
        EXPECT_EQ(ec, DbError::pool_closed);
        held->release();  // the pool is gone: the connection is destroyed
      }(),
      loop);
  finish(loop);
}

TEST(Pool, BackoffDelayDoublesWithJitterUpToTheCap) {
  for (unsigned attempt = 0; attempt < 10; ++attempt) {
    for (int i = 0; i < 50; ++i) {
      const Duration d = detail::backoff_delay(10ms, 100ms, attempt);
      const Duration full = std::min<Duration>(Duration(10ms) * (1 << std::min(attempt, 4u)), 100ms);
      EXPECT_GE(d, full / 2);
      EXPECT_LE(d, full);
    }
  }
}

}  // namespace
}  // namespace waitless::data
