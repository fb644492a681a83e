// Deadlines on the loop's clock: nanoseconds like Loop::now(), 0 meaning "none".
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>

namespace waitless {

// A duration as the loop's clock counts it; any std::chrono duration converts (milliseconds, seconds...).
constexpr int64_t to_ns(std::chrono::nanoseconds d) noexcept { return static_cast<int64_t>(d.count()); }

// The earlier of two deadlines, where 0 is no deadline (so the other one wins).
constexpr int64_t earliest_deadline(int64_t a, int64_t b) noexcept {
  if (a == 0) return b;
  if (b == 0) return a;
  return std::min(a, b);
}

}  // namespace waitless
