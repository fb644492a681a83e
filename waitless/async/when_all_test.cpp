#include "waitless/async/when_all.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "waitless/async/sleep.hpp"
#include "waitless/loop/timer.hpp"

namespace waitless {
namespace {

constexpr int64_t kMs = 1'000'000;

// What a child saw, recorded in loop time.
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

Task<std::string> text_after(Duration d, std::string s) {
  (void)co_await sleep(d);
  co_return s;
}

Task<> nothing_after(Duration d, bool* done) {
  (void)co_await sleep(d);
  *done = true;
}

Task<int> throw_after(Duration d, std::string what) {
  (void)co_await sleep(d);
  throw std::runtime_error(what);
}

Task<std::error_code> sleeper(Duration d, Trace* trace) {
  trace->started = Loop::running()->now();
  trace->ec = co_await sleep(d);
  trace->finished = Loop::running()->now();
  co_return trace->ec;
}

Task<int> immediate(int v) { co_return v; }
Task<int> immediate_throw() {
  throw std::runtime_error("at once");
  co_return 0;
}

void expect_loop_empty(Loop& loop) {
  EXPECT_EQ(loop.handle_count(), 0u);
  EXPECT_FALSE(loop.alive());
}

TEST(WhenAll, ResultsInArgumentOrder) {
  Loop loop;
  bool void_done = false;
  auto body = [&]() -> Task<bool> {
    auto [a, b, c, d] = co_await when_all(value_after(30ms, 1), text_after(1ms, "two"),
                                          nothing_after(10ms, &void_done), immediate(4));
    static_assert(std::is_same_v<decltype(c), std::monostate>);
    co_return a == 1 && b == "two" && d == 4;
  };
  EXPECT_TRUE(run(body(), loop));
  EXPECT_TRUE(void_done);
  expect_loop_empty(loop);
}

TEST(WhenAll, ChildrenRunConcurrently) {
  Loop loop;
  Trace t[3];
  int64_t began = 0, ended = 0;
  auto body = [&]() -> Task<int> {
    began = loop.now();
    auto [a, b, c] = co_await when_all(value_after(50ms, 1, &t[0]), value_after(50ms, 2, &t[1]),
                                       value_after(50ms, 3, &t[2]));
    ended = loop.now();
    co_return a + b + c;
  };
  EXPECT_EQ(run(body(), loop), 6);
  // All three started in the same loop turn (same cached time) and, being due together, finished in the
  // same timer phase: concurrent by construction. Sequential would need 150 ms.
  for (const Trace& x : t) {
    EXPECT_EQ(x.started, began);
    EXPECT_EQ(x.finished, t[0].finished);
    EXPECT_GE(x.finished - x.started, 50 * kMs);
    EXPECT_FALSE(x.ec);
  }
  EXPECT_LT(ended - began, 140 * kMs);
  expect_loop_empty(loop);
}

TEST(WhenAll, EachChildRunsToItsFirstSuspensionInOrder) {
  Loop loop;
  std::string log;
  struct Step {
    static Task<int> run(std::string* log, char name, Duration d) {
      *log += name;
      (void)co_await sleep(d);
      *log += static_cast<char>(name - 'a' + 'A');
      co_return 0;
    }
  };
  auto body = [&]() -> Task<> {
    auto all = when_all(Step::run(&log, 'a', 20ms), Step::run(&log, 'b', 10ms), Step::run(&log, 'c', 1ms));
    EXPECT_EQ(log, "");  // lazy until awaited
    (void)co_await std::move(all);
  };
  run(body(), loop);
  EXPECT_EQ(log, "abcCBA");
  expect_loop_empty(loop);
}

TEST(WhenAll, FirstErrorCancelsSiblingsWaitsAndRethrows) {
  Loop loop;
  Trace slow_a, slow_b;
  int64_t began = 0, ended = 0;
  std::string caught;
  // A child that ignores cancellation for a while, then throws: its exception is not the first.
  struct Late {
    static Task<int> run(bool* finished) {
      (void)co_await sleep(10s);  // cancelled
      *finished = true;
      throw std::runtime_error("second");
    }
  };
  bool late_finished = false;
  auto body = [&]() -> Task<> {
    began = loop.now();
    try {
      (void)co_await when_all(sleeper(10s, &slow_a), throw_after(5ms, "first"), Late::run(&late_finished),
                              sleeper(10s, &slow_b));
    } catch (const std::runtime_error& e) {
      caught = e.what();
    }
    ended = loop.now();
  };
  run(body(), loop);
  EXPECT_EQ(caught, "first");
  EXPECT_EQ(slow_a.ec, make_error_code(Error::cancelled));
  EXPECT_EQ(slow_b.ec, make_error_code(Error::cancelled));
  EXPECT_TRUE(late_finished);  // awaited before when_all returned
  EXPECT_GE(slow_a.finished, 0);
  EXPECT_LE(slow_a.finished, ended);
  EXPECT_LT(ended - began, 1000 * kMs);
  expect_loop_empty(loop);
}

TEST(WhenAll, SynchronousFailureStillStartsTheRestCancelled) {
  Loop loop;
  Trace later;
  auto body = [&]() -> Task<std::string> {
    try {
      (void)co_await when_all(immediate_throw(), sleeper(10s, &later));
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "no exception";
  };
  EXPECT_EQ(run(body(), loop), "at once");
  EXPECT_GE(later.started, 0);
  EXPECT_EQ(later.ec, make_error_code(Error::cancelled));
  expect_loop_empty(loop);
}

TEST(WhenAll, AllCompleteWithoutSuspending) {
  Loop loop;
  auto body = []() -> Task<int> {
    auto [a, b] = co_await when_all(immediate(1), immediate(2));
    std::vector<Task<int>> v;
    for (int i = 0; i < 100; ++i) v.push_back(immediate(i));
    auto all = co_await when_all(std::move(v));
    int sum = 0;
    for (int x : all) sum += x;
    co_return a + b + sum;
  };
  EXPECT_EQ(run(body(), loop), 3 + 4950);
  expect_loop_empty(loop);
}

TEST(WhenAll, VectorResultsInOrder) {
  Loop loop;
  auto body = []() -> Task<std::vector<int>> {
    std::vector<Task<int>> tasks;
    for (int i = 0; i < 8; ++i) tasks.push_back(value_after(std::chrono::milliseconds(16 - 2 * i), i));
    co_return co_await when_all(std::move(tasks));
  };
  EXPECT_EQ(run(body(), loop), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
  expect_loop_empty(loop);
}

TEST(WhenAll, VectorOfVoid) {
  Loop loop;
  bool done[3] = {};
  auto body = [&]() -> Task<> {
    std::vector<Task<>> tasks;
    for (bool& d : done) tasks.push_back(nothing_after(2ms, &d));
    co_await when_all(std::move(tasks));
  };
  run(body(), loop);
  EXPECT_TRUE(done[0] && done[1] && done[2]);
  expect_loop_empty(loop);
}

TEST(WhenAll, EmptyVectorCompletesAtOnce) {
  Loop loop;
  auto body = []() -> Task<std::size_t> {
    auto r = co_await when_all(std::vector<Task<int>>{});
    co_await when_all(std::vector<Task<>>{});
    auto t = co_await when_all();
    static_assert(std::tuple_size_v<decltype(t)> == 0);
    co_return r.size();
  };
  EXPECT_EQ(run(body(), loop), 0u);
  expect_loop_empty(loop);
}

TEST(WhenAll, OuterCancellationCancelsEveryChild) {
  Loop loop;
  CancelSource source;
  auto canceller = std::make_unique<Timer>(loop);
  (void)canceller->start(5ms, [&] { source.cancel(); });
  Trace a, b;
  auto body = [&]() -> Task<bool> {
    auto [x, y] = co_await when_all(sleeper(10s, &a), sleeper(10s, &b));
    co_return x == Error::cancelled&& y == Error::cancelled;
  };
  EXPECT_TRUE(run(body().with_token(source.token()), loop));
  EXPECT_LT(a.finished - a.started, 1000 * kMs);
  EXPECT_LT(b.finished - b.started, 1000 * kMs);
  canceller.reset();
  expect_loop_empty(loop);
}

TEST(WhenAll, ChildWithItsOwnTokenIsNotCancelledButAwaited) {
  Loop loop;
  Trace own, shared;
  CancelSource never;
  auto body = [&]() -> Task<std::string> {
    try {
      (void)co_await when_all(sleeper(20ms, &own).with_token(never.token()), throw_after(1ms, "x"),
                              sleeper(10s, &shared));
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "";
  };
  EXPECT_EQ(run(body(), loop), "x");
  EXPECT_FALSE(own.ec);
  EXPECT_GE(own.finished, 0);
  EXPECT_EQ(shared.ec, make_error_code(Error::cancelled));
  expect_loop_empty(loop);
}

// Completion is O(1) per child (each has its own joiner), so a wide fan-out stays cheap.
TEST(WhenAll, WideFanOut) {
  Loop loop;
  constexpr int kTasks = 10'000;
  auto body = []() -> Task<long> {
    std::vector<Task<int>> tasks;
    tasks.reserve(kTasks);
    for (int i = 0; i < kTasks; ++i) tasks.push_back(value_after(std::chrono::milliseconds(i % 7), i));
    auto values = co_await when_all(std::move(tasks));
    long sum = 0;
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (values[i] != static_cast<int>(i)) co_return -1;
      sum += values[i];
    }
    co_return sum;
  };
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(run(body(), loop), static_cast<long>(kTasks) * (kTasks - 1) / 2);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  expect_loop_empty(loop);
}

TEST(WhenAll, UnstartableChildIsAnError) {
  Loop loop;
  auto body = []() -> Task<bool> {
    Task<int> moved = immediate(1);
    Task<int> keep = std::move(moved);
    try {
      (void)co_await when_all(std::move(moved), immediate(2));  // NOLINT(bugprone-use-after-move)
    } catch (const std::system_error& e) {
      co_return e.code() == Error::already_awaited;
    }
    co_return false;
  };
  EXPECT_TRUE(run(body(), loop));
  expect_loop_empty(loop);
}

TEST(WhenAll, DestroyedMidWayReleasesEverything) {
  Loop loop;
  {
    Loop::Scope scope(loop);
    auto t = when_all(value_after(10s, 1), value_after(10s, 2));
    auto h = t.handle();
    h.promise().started = true;
    h.promise().continuation = std::noop_coroutine();
    h.resume();
    EXPECT_TRUE(loop.alive());
    EXPECT_EQ(loop.timer_count(), 2u);
  }  // the combinator, its joiners and both children are destroyed mid-sleep
  expect_loop_empty(loop);
}

TEST(WhenAny, FastestWinsOthersCancelledAndAwaited) {
  Loop loop;
  Trace slow;
  int64_t began = 0, ended = 0;
  auto body = [&]() -> Task<std::variant<std::error_code, int, std::string>> {
    began = loop.now();
    auto r = co_await when_any(sleeper(10s, &slow), value_after(5ms, 7), text_after(1s, "late"));
    ended = loop.now();
    co_return r;
  };
  auto r = run(body(), loop);
  ASSERT_EQ(r.index(), 1u);
  EXPECT_EQ(std::get<1>(r), 7);
  EXPECT_EQ(slow.ec, make_error_code(Error::cancelled));
  EXPECT_LE(slow.finished, ended);
  EXPECT_LT(ended - began, 900 * kMs);
  expect_loop_empty(loop);
}

TEST(WhenAny, DuplicateTypesKeepTheIndex) {
  Loop loop;
  auto body = []() -> Task<std::variant<int, int>> {
    co_return co_await when_any(value_after(1s, 1), value_after(1ms, 2));
  };
  auto r = run(body(), loop);
  EXPECT_EQ(r.index(), 1u);
  EXPECT_EQ(std::get<1>(r), 2);
  expect_loop_empty(loop);
}

TEST(WhenAny, VectorGivesIndexAndValue) {
  Loop loop;
  auto body = []() -> Task<std::pair<std::size_t, int>> {
    std::vector<Task<int>> tasks;
    tasks.push_back(value_after(1s, 10));
    tasks.push_back(value_after(2ms, 11));
    tasks.push_back(value_after(1s, 12));
    co_return co_await when_any(std::move(tasks));
  };
  auto [i, v] = run(body(), loop);
  EXPECT_EQ(i, 1u);
  EXPECT_EQ(v, 11);
  expect_loop_empty(loop);
}

TEST(WhenAny, VectorOfVoidGivesTheIndex) {
  Loop loop;
  bool done[2] = {};
  auto body = [&]() -> Task<std::size_t> {
    std::vector<Task<>> tasks;
    tasks.push_back(nothing_after(1s, &done[0]));
    tasks.push_back(nothing_after(1ms, &done[1]));
    co_return co_await when_any(std::move(tasks));
  };
  EXPECT_EQ(run(body(), loop), 1u);
  EXPECT_TRUE(done[1]);
  EXPECT_TRUE(done[0]);  // cancelled sleep, then ran to its end
  expect_loop_empty(loop);
}

TEST(WhenAny, WinnersExceptionIsRethrownLosersAreDropped) {
  Loop loop;
  Trace slow;
  auto body = [&]() -> Task<std::string> {
    try {
      (void)co_await when_any(throw_after(1ms, "winner failed"), sleeper(10s, &slow));
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "";
  };
  EXPECT_EQ(run(body(), loop), "winner failed");
  EXPECT_EQ(slow.ec, make_error_code(Error::cancelled));
  expect_loop_empty(loop);
}

TEST(WhenAny, FirstToCompleteSynchronouslyWins) {
  Loop loop;
  Trace t;
  auto body = [&]() -> Task<std::size_t> {
    auto r = co_await when_any(sleeper(10s, &t), immediate(3));
    co_return r.index();
  };
  EXPECT_EQ(run(body(), loop), 1u);
  EXPECT_EQ(t.ec, make_error_code(Error::cancelled));
  expect_loop_empty(loop);
}

TEST(WhenAny, EmptyVectorIsInvalid) {
  Loop loop;
  auto body = []() -> Task<bool> {
    try {
      (void)co_await when_any(std::vector<Task<int>>{});
    } catch (const std::system_error& e) {
      co_return e.code() == Error::invalid_argument;
    }
    co_return false;
  };
  EXPECT_TRUE(run(body(), loop));
  expect_loop_empty(loop);
}

TEST(WhenAny, OuterCancellationCancelsEveryChild) {
  Loop loop;
  CancelSource source;
  auto canceller = std::make_unique<Timer>(loop);
  (void)canceller->start(5ms, [&] { source.cancel(); });
  Trace a, b;
  auto body = [&]() -> Task<std::error_code> {
    auto r = co_await when_any(sleeper(10s, &a), sleeper(10s, &b));
    co_return std::get<0>(r);
  };
  EXPECT_EQ(run(body().with_token(source.token()), loop), make_error_code(Error::cancelled));
  EXPECT_EQ(a.ec, make_error_code(Error::cancelled));
  EXPECT_EQ(b.ec, make_error_code(Error::cancelled));
  canceller.reset();
  expect_loop_empty(loop);
}

}  // namespace
}  // namespace waitless
