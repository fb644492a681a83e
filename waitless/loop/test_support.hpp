// Helpers shared by the tests of every layer (header only; not part of the library).
#pragma once
#include <gtest/gtest.h>

#include "waitless/loop/loop.hpp"

namespace waitless::test {

// Every test ends with the loop empty: no leaked handle, timer or request, nothing keeping it alive.
inline void expect_empty(const Loop& loop) {
  EXPECT_EQ(loop.handle_count(), 0u);
  EXPECT_EQ(loop.timer_count(), 0u);
  EXPECT_EQ(loop.pending_requests(), 0u);
  EXPECT_FALSE(loop.alive());
}

}  // namespace waitless::test
