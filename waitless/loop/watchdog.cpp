#include "waitless/loop/watchdog.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <exception>

#include "waitless/base/log.hpp"

namespace waitless {
namespace {

// "file:line", plus " (function)" where the location type records one (std::source_location does;
// waitless::SourceLocation, built on the __builtin_FILE/LINE intrinsics, does not).
template <typename Where>
std::string describe(const Where& where) {
  if constexpr (requires { where.function_name(); }) {
    return fmt::format("{}:{} ({})", where.file_name(), where.line(), where.function_name());
  } else {
    return fmt::format("{}:{}", where.file_name(), where.line());
  }
}

}  // namespace

Watchdog::Watchdog(Loop& loop, Duration threshold)
    : loop_(loop), threshold_(std::max(threshold, Duration(kMinThreshold))) {
  try {
    thread_ = std::jthread([this](const std::stop_token& stop) { watch(stop); });
  } catch (const std::exception& e) {
    log::error("watchdog not started: {}", e.what());
  }
}

Watchdog::~Watchdog() {
  if (!thread_.joinable()) return;
  thread_.request_stop();  // wakes the wait below through its stop_token
  thread_.join();
}

bool Watchdog::sample(Loop::Running& out) const noexcept {
  // The loop publishes `where` before the seq that announces it; reading the seq again after `where` and
  // finding it unchanged means `where` was not yet overwritten by a later callback's (as loop.hpp
  // documents). Strictly, on weakly ordered CPUs this needs the loop to store `where` with release and
  // load it with acquire; on x86 stores and loads are not reordered with each other, so it holds today.
  Loop::Running first = loop_.running_callback();
  Loop::Running second = loop_.running_callback();
  if (first.seq != second.seq) return false;
  out = first;
  return true;
}

void Watchdog::watch(const std::stop_token& stop) noexcept {
  using Clock = std::chrono::steady_clock;
  const Duration period = std::max(threshold_ / 4, Duration(std::chrono::microseconds(250)));
  uint64_t seen_seq = 0;    // the callback being timed (odd), or 0
  Clock::time_point since;  // when it was first seen running
  uint64_t warned_seq = 0;  // the callback already reported: one warning each

  std::unique_lock lock(mutex_);
  // wait_for returns true only when stop was requested (the predicate); a timeout is the sampling tick.
  while (!wake_.wait_for(lock, stop, period, [] { return false; })) {
    if (stop.stop_requested()) break;
    Loop::Running r{};
    if (!sample(r) || !r.in_callback()) {
      seen_seq = 0;
      continue;
    }
    Clock::time_point now = Clock::now();
    if (r.seq != seen_seq) {
      seen_seq = r.seq;
      since = now;
      continue;
    }
    if (r.seq == warned_seq || now - since < threshold_) continue;
    warned_seq = r.seq;
    warnings_.fetch_add(1, std::memory_order_relaxed);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - since).count();
    try {
      log::warn("loop blocked for {} ms in callback registered at {}", ms, describe(r.where));
    } catch (...) {
      // Formatting or the sink failed: the count above still records the finding.
    }
  }
}

std::string format_loop_metrics(const LoopMetrics& m, const LoopUtilization& u) {
  return fmt::format(
      "loop: {:.1f}% busy, {} iterations, {} callbacks, timer lag {:.2f} ms (max {:.2f} ms), {} exceptions",
      u.utilization * 100.0, m.iterations, m.callbacks, static_cast<double>(m.last_lag_ns) / 1e6,
      static_cast<double>(m.max_lag_ns) / 1e6, m.exceptions);
}

}  // namespace waitless
