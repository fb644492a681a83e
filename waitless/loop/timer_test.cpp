#include "waitless/loop/timer.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace waitless {
namespace {

TEST(Timer, EqualDeadlinesFireInStartOrder) {
  Loop loop;
  std::vector<std::unique_ptr<Timer>> timers;
  std::vector<int> order;
  for (int i = 0; i < 50; ++i) {
    timers.push_back(std::make_unique<Timer>(loop));
    (void)timers.back()->start(5ms, [&order, i] { order.push_back(i); });
  }
  loop.run();
  ASSERT_EQ(order.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(order[i], i);
  EXPECT_EQ(loop.timer_count(), 0u);
}

TEST(Timer, EarlierDeadlineFiresFirst) {
  Loop loop;
  std::string order;
  Timer a(loop), b(loop), c(loop);
  (void)a.start(30ms, [&] { order += "a"; });
  (void)b.start(10ms, [&] { order += "b"; });
  (void)c.start(20ms, [&] { order += "c"; });
  loop.run();
  EXPECT_EQ(order, "bca");
}

TEST(Timer, NeverFiresEarly) {
  Loop loop;
  Timer t(loop);
  int64_t started = loop.now();
  int64_t fired_at = 0;
  (void)t.start(15ms, [&] { fired_at = loop.now(); });
  loop.run();
  EXPECT_GE(fired_at - started, 15'000'000);
}

TEST(Timer, CancelBeforeFire) {
  Loop loop;
  Timer t(loop);
  bool fired = false;
  (void)t.start(5ms, [&] { fired = true; });
  EXPECT_FALSE(t.stop());
  loop.run();
  EXPECT_FALSE(fired);
  EXPECT_EQ(loop.timer_count(), 0u);
}

TEST(Timer, CancellingAFiredTimerIsANoOp) {
  Loop loop;
  Timer t(loop);
  int fired = 0;
  (void)t.start(1ms, [&] { ++fired; });
  loop.run();
  EXPECT_EQ(t.stop(), make_error_code(Error::not_started));
  EXPECT_EQ(fired, 1);
}

TEST(Timer, RepeatAndStopFromCallback) {
  Loop loop;
  Timer t(loop);
  int n = 0;
  (void)t.start(
      1ms,
      [&] {
        if (++n == 5) (void)t.stop();
      },
      1ms);
  loop.run();
  EXPECT_EQ(n, 5);
  EXPECT_FALSE(t.pending());
}

TEST(Timer, RestartReschedules) {
  Loop loop;
  Timer t(loop), kicker(loop);
  int64_t started = loop.now(), fired_at = 0;
  (void)t.start(10ms, [&] { fired_at = loop.now(); });
  (void)kicker.start(5ms, [&] { (void)t.start(20ms, [&] { fired_at = loop.now(); }); });
  loop.run();
  EXPECT_GE(fired_at - started, 25'000'000);
}

TEST(Timer, AgainRequiresRepeat) {
  Loop loop;
  Timer t(loop);
  EXPECT_EQ(t.again(), make_error_code(Error::not_started));
  int n = 0;
  (void)t.start(
      1h,
      [&] {
        if (++n == 2) (void)t.stop();
      },
      1ms);
  EXPECT_FALSE(t.again());  // now due in 1 ms instead of 1 h
  loop.run();
  EXPECT_EQ(n, 2);
}

TEST(Timer, DestroyedInsideItsCallback) {
  Loop loop;
  auto t = std::make_unique<Timer>(loop);
  bool ran = false;
  (void)t->start(1ms, [&] {
    ran = true;
    t.reset();
  });
  loop.run();
  EXPECT_TRUE(ran);
  EXPECT_EQ(loop.handle_count(), 0u);
}

// Many timers with random deadlines, some cancelled: each uncancelled one fires once, in deadline order.
TEST(Timer, RandomDeadlinesFireInOrder) {
  Loop loop;
  std::mt19937 rng(7);
  constexpr int kCount = 2000;
  std::vector<std::unique_ptr<Timer>> timers;
  std::vector<int64_t> deadlines(kCount);
  std::vector<int> fired;
  for (int i = 0; i < kCount; ++i) {
    timers.push_back(std::make_unique<Timer>(loop));
    int64_t ms = rng() % 20;
    deadlines[i] = ms;
    (void)timers[i]->start(std::chrono::milliseconds(ms), [&fired, i] { fired.push_back(i); });
  }
  for (int i = 0; i < kCount; i += 3) (void)timers[i]->stop();
  loop.run();
  EXPECT_EQ(fired.size(), static_cast<size_t>(kCount - (kCount + 2) / 3));
  for (size_t k = 1; k < fired.size(); ++k) {
    int a = fired[k - 1], b = fired[k];
    EXPECT_TRUE(deadlines[a] < deadlines[b] || (deadlines[a] == deadlines[b] && a < b));
  }
}

}  // namespace
}  // namespace waitless
