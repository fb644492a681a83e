#include "waitless/loop/second_tick.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <vector>

namespace waitless {
namespace {

// Two ticks, each on a new wall-clock second; the tick alone does not keep the loop alive.
TEST(SecondTick, FiresOnSecondBoundariesAndDoesNotHoldTheLoop) {
  Loop loop;
  {
    SecondTick tick(loop);
    std::vector<time_t> seconds;
    Timer keep_alive(loop);  // the loop runs while this waits; the tick stops it after two ticks
    ASSERT_FALSE(keep_alive.start(std::chrono::seconds(5), [] {}));
    ASSERT_FALSE(tick.start([&] {
      seconds.push_back(std::time(nullptr));
      if (seconds.size() == 2) {
        tick.stop();
        (void)keep_alive.stop();
      }
    }));
    EXPECT_TRUE(tick.running());
    loop.run();
    ASSERT_EQ(seconds.size(), 2u);
    EXPECT_EQ(seconds[1], seconds[0] + 1);
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
