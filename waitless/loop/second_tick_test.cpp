#include "waitless/loop/second_tick.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <vector>

namespace waitless {
namespace {

// Ticks come just after wall-clock second boundaries, one per second; the tick alone does not keep the
// loop alive. A loaded machine can run a callback late (even past the next boundary), so the test waits
// for two successive ticks that ran on time (within 300 ms of their boundary), at most six ticks.
TEST(SecondTick, FiresOnSecondBoundariesAndDoesNotHoldTheLoop) {
  Loop loop;
  {
    SecondTick tick(loop);
    std::vector<timespec> at;
    auto on_time = [](const timespec& ts) { return ts.tv_nsec < 300'000'000; };
    auto two_on_time = [&] { return at.size() >= 2 && on_time(at[at.size() - 2]) && on_time(at.back()); };
    Timer keep_alive(loop);  // the loop runs while this waits; the tick stops it
    ASSERT_FALSE(keep_alive.start(std::chrono::seconds(10), [] {}));
    ASSERT_FALSE(tick.start([&] {
      timespec ts{};
      clock_gettime(CLOCK_REALTIME, &ts);
      at.push_back(ts);
      if (two_on_time() || at.size() == 6) {
        tick.stop();
        (void)keep_alive.stop();
      }
    }));
    EXPECT_TRUE(tick.running());
    loop.run();
    ASSERT_TRUE(two_on_time()) << "no two successive ticks ran within 300 ms of their second";
    const timespec& a = at[at.size() - 2];
    const timespec& b = at.back();
    EXPECT_EQ(b.tv_sec, a.tv_sec + 1);
    EXPECT_GE(a.tv_nsec, 1'000'000);  // never before the boundary (+1 ms)
    EXPECT_GE(b.tv_nsec, 1'000'000);
    EXPECT_FALSE(tick.running());
    EXPECT_FALSE(loop.alive());

    // Alone, it lets the loop end at once.
    ASSERT_FALSE(tick.start([] {}));
    loop.run();
    tick.stop();
    EXPECT_FALSE(loop.alive());
  }
  EXPECT_EQ(loop.handle_count(), 0u);
}

}  // namespace
}  // namespace waitless
