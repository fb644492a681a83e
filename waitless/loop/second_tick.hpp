// SecondTick: a callback on every wall-clock second boundary (about 1 ms after it), for clocks that show
// seconds (the HTTP Date header) and once-a-second sweeps. It does not keep the loop alive.
//
// Where the kernel has timerfd it is an fd the loop watches rather than a Timer: with no timer in the
// loop's heap, epoll_wait blocks without a timeout, so the kernel arms no hrtimer for each wait of a busy
// server. Elsewhere (or if timerfd fails) it is a repeating Timer started at the next boundary.
#pragma once
#include <functional>
#include <optional>
#include <system_error>

#include "waitless/loop/io_watcher.hpp"
#include "waitless/loop/timer.hpp"

namespace waitless {

class SecondTick {
 public:
  explicit SecondTick(Loop& loop) noexcept : loop_(loop), timer_(loop) {}
  ~SecondTick() { stop(); }
  SecondTick(const SecondTick&) = delete;
  SecondTick& operator=(const SecondTick&) = delete;

  // Calls `cb` at each second boundary from now on; restarting replaces the callback. An error only when
  // neither a timerfd nor a timer could be started.
  std::error_code start(std::function<void()> cb);
  void stop() noexcept;
  bool running() const noexcept { return watcher_.has_value() || timer_.pending(); }
  // Whether it runs on a timerfd (false: on a loop Timer).
  bool uses_timerfd() const noexcept { return watcher_.has_value(); }

 private:
  bool start_timerfd() noexcept;
  void on_readable() noexcept;

  Loop& loop_;
  Timer timer_;  // the fallback
  int fd_ = -1;
  std::optional<IoWatcher> watcher_;
  std::function<void()> cb_;
};

}  // namespace waitless
