// Timer: one-shot or repeating, on the loop's cached clock. No allocation per start: the timer is its own
// heap node. Starting a running timer reschedules it; stopping a stopped one is a no-op.
#pragma once
#include <functional>
#include "waitless/base/source_location.hpp"

#include "waitless/base/intrusive_heap.hpp"
#include "waitless/loop/loop.hpp"

namespace waitless {

class Timer final : public Handle, private HeapNode {
 public:
  explicit Timer(Loop& loop = Loop::current()) noexcept : Handle(loop) {}
  ~Timer() override {
    stop();
    if (alive_) *alive_ = false;
  }

  // Fires `cb` after `timeout` (from the loop's cached now()), then every `repeat` if it is non-zero.
  // Returns Error::closed if the timer is closing.
  std::error_code start(Duration timeout, std::function<void()> cb, Duration repeat = Duration::zero(),
                        SourceLocation where = SourceLocation::current());
  // Stops the timer; returns Error::not_started (a harmless no-op) if it was not running.
  std::error_code stop() noexcept;
  // Restarts a repeating timer from now with its repeat interval; Error::not_started if it has none.
  std::error_code again();
  void set_repeat(Duration repeat) noexcept { repeat_ = repeat.count(); }
  Duration repeat() const noexcept { return Duration(repeat_); }
  bool pending() const noexcept { return in_heap(); }
  // Nanoseconds until the timer fires (0 if due or stopped).
  int64_t due_in() const noexcept;

 private:
  friend class Loop;
  void on_stop() noexcept override { stop(); }
  void schedule(int64_t timeout_ns) noexcept;
  void fire() noexcept;

  std::function<void()> cb_;
  int64_t repeat_ = 0;
  SourceLocation where_;
  bool* alive_ = nullptr;  // set while the callback runs; cleared by the destructor
};

}  // namespace waitless
