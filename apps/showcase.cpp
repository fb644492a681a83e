// `waitless showcase`: the runtime's central claim, measured on this machine. 100 requests that each wait
// 95 ms (a timer standing in for the database) and then compute 5 ms: a thread that waits for each in
// turn needs ~10 s; one loop that overlaps the waits needs ~0.6 s (100 x 5 ms CPU + one 95 ms wait).
#include <chrono>
#include <cstdio>
#include <vector>

#include "apps/commands.hpp"
#include "waitless/async/sleep.hpp"
#include "waitless/async/task.hpp"

namespace waitless::apps {
namespace {

using Clock = std::chrono::steady_clock;

void burn(std::chrono::milliseconds d) {
  auto until = Clock::now() + d;
  volatile uint64_t x = 0;
  while (Clock::now() < until) x = x + 1;
}

Task<> request(int& done) {
  co_await sleep(95ms);
  burn(5ms);
  ++done;
}

int showcase() {
  Loop& loop = Loop::current();
  int done = 0;
  auto t0 = Clock::now();
  for (int i = 0; i < 100; ++i) spawn(request(done));
  loop.run();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  auto u = loop.utilization();
  std::printf(
      "100 requests x (95 ms wait + 5 ms CPU) on one loop: %d done in %.3f s "
      "(sequential: ~10 s, ideal: ~0.6 s); loop utilisation %.0f%%, max timer lag %.1f ms\n",
      done, secs, u.utilization * 100, static_cast<double>(loop.metrics().max_lag_ns) / 1e6);
  return done == 100 ? 0 : 1;
}

}  // namespace

Runner define_showcase(CLI::App&) { return showcase; }

}  // namespace waitless::apps
