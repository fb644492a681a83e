#include "apps/lab/cpu_work.hpp"

#include <time.h>

#include <algorithm>
#include <cmath>

namespace waitless::lab {
double thread_cpu_ms() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

uint64_t mix_rounds(uint64_t rounds, uint64_t seed) noexcept {
  // splitmix64's finaliser, chained: every round needs the previous round's result.
  uint64_t x = seed;
  for (uint64_t i = 0; i < rounds; ++i) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    x ^= x >> 31;
  }
  return x;
}

double calibrate_rounds_per_ms() {
  // Grow the sample until it takes ~10 ms, then keep the best of five such samples.
  uint64_t rounds = 1 << 16;
  volatile uint64_t sink = 0;
  for (;;) {
    const double t0 = thread_cpu_ms();
    sink = sink + mix_rounds(rounds, rounds);
    const double took = thread_cpu_ms() - t0;
    if (took >= 10 || rounds >= (uint64_t{1} << 40)) break;
    rounds *= 2;
  }
  double best = 0;
  for (int i = 0; i < 5; ++i) {
    const double t0 = thread_cpu_ms();
    sink = sink + mix_rounds(rounds, sink);
    const double took = thread_cpu_ms() - t0;
    if (took > 0) best = std::max(best, static_cast<double>(rounds) / took);
  }
  return best > 0 ? best : 1e5;
}

uint64_t rounds_for_ms(double ms, double rounds_per_ms) noexcept {
  if (!(ms > 0) || !(rounds_per_ms > 0)) return 0;
  return static_cast<uint64_t>(std::llround(ms * rounds_per_ms));
}

}  // namespace waitless::lab
