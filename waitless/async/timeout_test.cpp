#include "waitless/async/timeout.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "waitless/async/sleep.hpp"
#include "waitless/async/when_all.hpp"

namespace waitless {
namespace {

constexpr int64_t kMs = 1'000'000;

struct Trace {
  int64_t started = -1;
  int64_t finished = -1;
  std::error_code ec;
};

Task<int> value_after(Duration d, int v, Trace* trace = nullptr) {
  if (trace) trace->started = Loop::running()->now();
  std::error_code ec = co_await sleep(d);
  if (trace) {
    trace->ec = ec;
    trace->finished = Loop::running()->now();
  }
  co_return v;
}

Task<std::error_code> sleeper(Duration d, Trace* trace) {
  trace->started = Loop::running()->now();
  trace->ec = co_await sleep(d);
  trace->finished = Loop::running()->now();
  co_return trace->ec;
}

Task<int> throw_after(Duration d) {
  (void)co_await sleep(d);
  throw std::runtime_error("inner failed");
}

Task<int> immediate(int v) { co_return v; }

void expect_loop_empty(Loop& loop) {
  EXPECT_EQ(loop.handle_count(), 0u);
  EXPECT_FALSE(loop.alive());
}

TEST(WithTimeout, FiresCancelsAndAwaitsTheTask) {
  Loop loop;
  Trace inner;
  int64_t began = 0, ended = 0;
  auto body = [&]() -> Task<Result<int>> {
    began = loop.now();
    auto r = co_await with_timeout(value_after(10s, 1, &inner), 20ms);
    ended = loop.now();
    co_return r;
  };
  Result<int> r = run(body(), loop);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), make_error_code(Error::timed_out));
  EXPECT_EQ(inner.ec, make_error_code(Error::cancelled));
  EXPECT_GE(inner.finished, 0);
  EXPECT_LE(inner.finished, ended);  // structured: finished before with_timeout returned
  EXPECT_GE(ended - began, 20 * kMs);
  EXPECT_LT(ended - began, 1000 * kMs);
  expect_loop_empty(loop);
}

TEST(WithTimeout, DoesNotFireWhenTheTaskIsFaster) {
  Loop loop;
  int64_t began = 0, ended = 0;
  auto body = [&]() -> Task<Result<int>> {
    began = loop.now();
    auto r = co_await with_timeout(value_after(5ms, 3), 10s);
    ended = loop.now();
    EXPECT_EQ(loop.timer_count(), 0u);  // the deadline stopped with the task
    co_return r;
  };
  Result<int> r = run(body(), loop);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 3);
  EXPECT_LT(ended - began, 1000 * kMs);
  expect_loop_empty(loop);
}

TEST(WithTimeout, InnerExceptionIsRethrown) {
  Loop loop;
  auto body = []() -> Task<std::string> {
    try {
      (void)co_await with_timeout(throw_after(1ms), 10s);
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "";
  };
  EXPECT_EQ(run(body(), loop), "inner failed");
  expect_loop_empty(loop);
}

TEST(WithTimeout, CancelledInnerWorkStops) {
  Loop loop;
  int ticks = 0;
  std::error_code last;
  struct Worker {
    static Task<> run(int* ticks, std::error_code* last) {
      for (;;) {
        std::error_code ec = co_await sleep(1ms);
        if (ec) {
          *last = ec;
          co_return;
        }
        ++*ticks;
      }
    }
  };
  auto body = [&]() -> Task<Result<void>> {
    co_return co_await with_timeout(Worker::run(&ticks, &last), 15ms);
  };
  Result<void> r = run(body(), loop);
  EXPECT_EQ(r.error(), make_error_code(Error::timed_out));
  EXPECT_EQ(last, make_error_code(Error::cancelled));
  int seen = ticks;
  EXPECT_GT(seen, 0);
  loop.run();  // nothing left that could tick
  EXPECT_EQ(ticks, seen);
  expect_loop_empty(loop);
}

TEST(WithTimeout, VoidTaskInTime) {
  Loop loop;
  bool done = false;
  struct Job {
    static Task<> run(bool* done) {
      (void)co_await sleep(1ms);
      *done = true;
    }
  };
  auto body = [&]() -> Task<Result<void>> { co_return co_await with_timeout(Job::run(&done), 10s); };
  EXPECT_TRUE(run(body(), loop).ok());
  EXPECT_TRUE(done);
  expect_loop_empty(loop);
}

TEST(WithTimeout, ErrorCodeTaskGivesAPlainErrorCode) {
  Loop loop;
  Trace t;
  auto body = [&]() -> Task<std::error_code> { co_return co_await with_timeout(sleeper(10s, &t), 5ms); };
  EXPECT_EQ(run(body(), loop), make_error_code(Error::timed_out));
  EXPECT_EQ(t.ec, make_error_code(Error::cancelled));
  expect_loop_empty(loop);
}

TEST(WithTimeout, NestedOuterDeadlineFirst) {
  Loop loop;
  Trace t;
  auto body = [&]() -> Task<Result<Result<int>>> {
    co_return co_await with_timeout(with_timeout(value_after(10s, 1, &t), 5s), 10ms);
  };
  auto r = run(body(), loop);
  EXPECT_EQ(r.error(), make_error_code(Error::timed_out));
  EXPECT_EQ(t.ec, make_error_code(Error::cancelled));
  EXPECT_LT(t.finished - t.started, 1000 * kMs);
  expect_loop_empty(loop);
}

TEST(WithTimeout, NestedInnerDeadlineFirst) {
  Loop loop;
  Trace t;
  auto body = [&]() -> Task<Result<Result<int>>> {
    co_return co_await with_timeout(with_timeout(value_after(10s, 1, &t), 10ms), 5s);
  };
  auto r = run(body(), loop);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->error(), make_error_code(Error::timed_out));
  EXPECT_EQ(t.ec, make_error_code(Error::cancelled));
  expect_loop_empty(loop);
}

TEST(WithTimeout, OuterCancellationGivesCancelled) {
  Loop loop;
  CancelSource source;
  auto canceller = std::make_unique<Timer>(loop);
  (void)canceller->start(5ms, [&] { source.cancel(); });
  Trace t;
  auto body = [&]() -> Task<Result<int>> { co_return co_await with_timeout(value_after(10s, 1, &t), 5s); };
  Result<int> r = run(body().with_token(source.token()), loop);
  EXPECT_EQ(r.error(), make_error_code(Error::cancelled));
  EXPECT_EQ(t.ec, make_error_code(Error::cancelled));
  EXPECT_LT(t.finished - t.started, 1000 * kMs);
  canceller.reset();
  expect_loop_empty(loop);
}

TEST(WithTimeout, AlreadyCancelledParent) {
  Loop loop;
  CancelSource source;
  source.cancel();
  Trace t;
  auto body = [&]() -> Task<Result<int>> { co_return co_await with_timeout(value_after(10s, 1, &t), 5s); };
  EXPECT_EQ(run(body().with_token(source.token()), loop).error(), make_error_code(Error::cancelled));
  EXPECT_EQ(t.ec, make_error_code(Error::cancelled));
  expect_loop_empty(loop);
}

// A task that will not be cancelled (its own token) is still awaited: with_timeout returns only when it
// ends, and still reports the deadline.
TEST(WithTimeout, TaskWithItsOwnTokenIsAwaitedPastTheDeadline) {
  Loop loop;
  CancelSource never;
  Trace t;
  int64_t ended = 0;
  auto body = [&]() -> Task<Result<int>> {
    auto r = co_await with_timeout(value_after(30ms, 1, &t).with_token(never.token()), 5ms);
    ended = loop.now();
    co_return r;
  };
  EXPECT_EQ(run(body(), loop).error(), make_error_code(Error::timed_out));
  EXPECT_FALSE(t.ec);
  EXPECT_GE(t.finished - t.started, 30 * kMs);
  EXPECT_LE(t.finished, ended);
  expect_loop_empty(loop);
}

TEST(WithTimeout, SynchronousTaskAndZeroDeadline) {
  Loop loop;
  auto body = []() -> Task<int> {
    auto a = co_await with_timeout(immediate(4), 0ms);
    auto b = co_await with_timeout(immediate(5), Duration::max());  // clamped, no overflow
    co_return *a + *b;
  };
  EXPECT_EQ(run(body(), loop), 9);
  expect_loop_empty(loop);
}

TEST(WithTimeout, HugeDeadlineDoesNotFire) {
  Loop loop;
  auto body = []() -> Task<Result<int>> {
    co_return co_await with_timeout(value_after(5ms, 6), Duration::max());
  };
  auto r = run(body(), loop);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 6);
  expect_loop_empty(loop);
}

TEST(WithTimeout, BoundsAWhenAll) {
  Loop loop;
  Trace a, b;
  auto body = [&]() -> Task<bool> {
    auto r = co_await with_timeout(when_all(value_after(1ms, 1, &a), value_after(10s, 2, &b)), 10ms);
    co_return r.error() == Error::timed_out;
  };
  EXPECT_TRUE(run(body(), loop));
  EXPECT_FALSE(a.ec);
  EXPECT_EQ(b.ec, make_error_code(Error::cancelled));
  EXPECT_LT(b.finished - b.started, 1000 * kMs);
  expect_loop_empty(loop);
}

TEST(WithTimeout, UnstartableTaskIsAnError) {
  Loop loop;
  auto body = []() -> Task<bool> {
    try {
      (void)co_await with_timeout(Task<int>{}, 1s);
    } catch (const std::system_error& e) {
      co_return e.code() == Error::already_awaited;
    }
    co_return false;
  };
  EXPECT_TRUE(run(body(), loop));
  expect_loop_empty(loop);
}

}  // namespace
}  // namespace waitless
