// The monotonic clock in nanoseconds: for timing a single event (a latency, a deadline's start), where the
// loop's cached time of the iteration (Loop::now) would be too coarse.
#pragma once
#include <time.h>

#include <cstdint>

namespace waitless {

inline int64_t monotonic_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace waitless
