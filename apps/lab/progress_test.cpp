#include "apps/lab/progress.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace waitless::lab {
namespace {

TEST(LabProgress, RendersOverallProgressAndTheStep) {
  EXPECT_EQ(Progress::render(0, 4, 0, "start", 8), "[........] 1/4 start 0%");
  // Step 2 of 4 half done: 1.5 / 4 of the bar.
  EXPECT_EQ(Progress::render(1, 4, 0.5, "sweep", 8), "[###.....] 2/4 sweep 50%");
  EXPECT_EQ(Progress::render(4, 4, 0, "done", 8), "[########] 4/4 done 0%");
}

TEST(LabProgress, ClampsWhatItIsGiven) {
  EXPECT_EQ(Progress::render(0, 0, 2.0, "x", 4), "[####] 1/1 x 100%");
  EXPECT_EQ(Progress::render(0, 2, NAN, "x", 4), "[....] 1/2 x 0%");
  EXPECT_EQ(Progress::render(0, 2, -1, "x", 4), "[....] 1/2 x 0%");
}

}  // namespace
}  // namespace waitless::lab
