#include "waitless/loop/watchdog.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "waitless/base/log.hpp"
#include "waitless/loop/test_support.hpp"
#include "waitless/loop/timer.hpp"

namespace waitless {
namespace {

using Clock = std::chrono::steady_clock;

using waitless::test::expect_empty;

// Captures warnings (logged from the watchdog's thread) for the test's lifetime.
class WarningCapture {
 public:
  WarningCapture() : saved_(log::level()) {
    log::set_level(log::Level::info);
    log::set_sink([this](log::Level l, std::string_view m) {
      if (l != log::Level::warn) return;
      std::lock_guard lock(mutex_);
      lines_.emplace_back(m);
    });
  }
  ~WarningCapture() {
    log::set_sink({});
    log::set_level(saved_);
  }
  std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  log::Level saved_;
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

// Holds the loop's thread without yielding to the loop, as a CPU-bound handler would.
void busy_for(Duration d) {
  auto end = Clock::now() + d;
  while (Clock::now() < end) {
  }
}

int64_t blocked_ms(const std::string& line) {
  const std::string prefix = "loop blocked for ";
  if (line.rfind(prefix, 0) != 0) return -1;
  return std::stoll(line.substr(prefix.size()));
}

TEST(Watchdog, BusyTimerCallbackGivesExactlyOneWarningNamingThisFile) {
  WarningCapture warnings;
  Loop loop;
  {
    Watchdog dog(loop);  // default threshold: 100 ms
    ASSERT_TRUE(dog.running());
    EXPECT_EQ(dog.threshold(), 100ms);
    Timer t(loop);
    uint64_t warned_while_blocked = 0;
    const int line = __LINE__ + 1;
    (void)t.start(1ms, [&] {
      busy_for(250ms);
      warned_while_blocked = dog.warnings();  // reported while the callback still held the loop
    });
    loop.run();
    EXPECT_EQ(warned_while_blocked, 1u);
    EXPECT_EQ(dog.warnings(), 1u);
    auto lines = warnings.lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("watchdog_test.cpp:" + std::to_string(line)), std::string::npos) << lines[0];
    int64_t ms = blocked_ms(lines[0]);
    EXPECT_GE(ms, 100) << lines[0];
    EXPECT_LE(ms, 300) << lines[0];
  }
  expect_empty(loop);
}

// Quick callbacks, and a loop that idles in poll far longer than the threshold, are not blocking.
TEST(Watchdog, QuickCallbacksAndIdlePollGiveNoWarning) {
  WarningCapture warnings;
  Loop loop;
  {
    Watchdog dog(loop, 100ms);
    Timer ticker(loop), idle(loop);
    int ticks = 0;
    (void)ticker.start(
        1ms,
        [&] {
          busy_for(2ms);
          if (++ticks == 20) (void)ticker.stop();
        },
        1ms);
    (void)idle.start(300ms, [] {});  // ~250 ms with nothing to do but wait in poll
    loop.run();
    EXPECT_EQ(ticks, 20);
    EXPECT_EQ(dog.warnings(), 0u);
  }
  EXPECT_TRUE(warnings.lines().empty());
  expect_empty(loop);
}

TEST(Watchdog, EachStuckCallbackIsReportedOnce) {
  WarningCapture warnings;
  Loop loop;
  {
    Watchdog dog(loop, 40ms);
    // Two immediates in one check phase: back to back, the loop never idles between them.
    loop.set_immediate([] { busy_for(120ms); });
    loop.set_immediate([] { busy_for(120ms); });
    loop.run();
    EXPECT_EQ(dog.warnings(), 2u);
  }
  auto lines = warnings.lines();
  ASSERT_EQ(lines.size(), 2u);
  for (auto& l : lines) EXPECT_NE(l.find("watchdog_test.cpp:"), std::string::npos) << l;
  expect_empty(loop);
}

TEST(Watchdog, DestructorStopsPromptlyWhateverTheThreshold) {
  Loop loop;
  auto start = Clock::now();
  { Watchdog dog(loop, 10s); }
  EXPECT_LT(Clock::now() - start, 1s);  // the sampling wait is interrupted, not waited out
}

TEST(Watchdog, TinyThresholdIsRaisedToTheMinimum) {
  Loop loop;
  Watchdog dog(loop, 0ms);
  EXPECT_EQ(dog.threshold(), Watchdog::kMinThreshold);
}

TEST(LoopMetricsFormat, OneLineSummary) {
  LoopMetrics m;
  m.iterations = 1200;
  m.callbacks = 5300;
  m.last_lag_ns = 200'000;
  m.max_lag_ns = 3'100'000;
  m.exceptions = 2;
  LoopUtilization u;
  u.utilization = 0.42;
  EXPECT_EQ(
      format_loop_metrics(m, u),
      "loop: 42.0% busy, 1200 iterations, 5300 callbacks, timer lag 0.20 ms (max 3.10 ms), 2 exceptions");
}

}  // namespace
}  // namespace waitless
