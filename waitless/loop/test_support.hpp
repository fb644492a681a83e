// Helpers shared by the tests of every layer (header only; not part of the library).
#pragma once
#include <gtest/gtest.h>

#include <latch>
#include <semaphore>

#include "waitless/loop/loop.hpp"

namespace waitless::test {

// Every test ends with the loop empty: no leaked handle, timer or request, nothing keeping it alive.
inline void expect_empty(const Loop& loop) {
  EXPECT_EQ(loop.handle_count(), 0u);
  EXPECT_EQ(loop.timer_count(), 0u);
  EXPECT_EQ(loop.pending_requests(), 0u);
  EXPECT_FALSE(loop.alive());
}

// Holds a pool thread busy: a job made by job() signals that it runs, then waits for let_go(). Tests use it
// to fill a pool's threads, so that what they submit next waits in the queue.
class ThreadHolder {
 public:
  auto job() {
    return [this] { hold(); };
  }
  auto job(int value) {
    return [this, value] {
      hold();
      return value;
    };
  }
  // Until the held job runs on its thread.
  void wait_until_running() { started_.acquire(); }
  void let_go() { release_.count_down(); }

 private:
  void hold() {
    started_.release();
    release_.wait();
  }
  std::binary_semaphore started_{0};
  std::latch release_{1};
};

}  // namespace waitless::test
