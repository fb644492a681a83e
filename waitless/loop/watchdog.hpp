// Watchdog: finds callbacks that block the loop, from a thread of its own.
//
//   Loop loop;
//   Watchdog dog(loop);          // warns when one callback holds the loop for more than 100 ms
//   loop.run();
//
// The thread samples loop.running_callback() every threshold/4. A callback is blocking when the loop's
// callback sequence number stays on the same odd value (one callback running) for at least `threshold`;
// the watchdog then logs ONE warning for that callback, while it is still running:
//   loop blocked for N ms in callback registered at file:line
// N is measured from the first sample that saw the callback, so it is a lower bound (by up to
// threshold/4). Time blocked in poll is idle, not blocking, and is never reported.
//
// On in every build type; the loop's side is two relaxed stores and one release store per callback, the
// watchdog's a few atomic loads per sample. The Loop must outlive the Watchdog. Not copyable or movable.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "waitless/loop/loop.hpp"

namespace waitless {

class Watchdog {
 public:
  static constexpr Duration kDefaultThreshold = 100ms;
  static constexpr Duration kMinThreshold = 1ms;

  // A threshold below kMinThreshold is raised to it. If the thread cannot be started the failure is
  // logged and the watchdog stays off (running() is false): a diagnostic never takes the program down.
  explicit Watchdog(Loop& loop, Duration threshold = kDefaultThreshold);
  // Stops the thread and joins it; returns within one sampling period at most.
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  Duration threshold() const noexcept { return threshold_; }
  bool running() const noexcept { return thread_.joinable(); }
  // Blocked callbacks reported so far. Readable from any thread.
  uint64_t warnings() const noexcept { return warnings_.load(std::memory_order_relaxed); }

 private:
  void watch(const std::stop_token& stop) noexcept;
  // Reads a (seq, where) pair that belongs together; false if the loop moved on while reading.
  bool sample(Loop::Running& out) const noexcept;

  const Loop& loop_;
  const Duration threshold_;
  std::atomic<uint64_t> warnings_{0};
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::jthread thread_;  // last: the thread starts after everything it reads exists, and stops first
};

// One line for logs, e.g.
//   "loop: 42.0% busy, 1200 iterations, 5300 callbacks, timer lag 0.20 ms (max 3.10 ms), 0 exceptions"
// `u` is utilisation over whatever interval the caller chose (loop.utilization(previous) for a delta).
std::string format_loop_metrics(const LoopMetrics& m, const LoopUtilization& u);

}  // namespace waitless
