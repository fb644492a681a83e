// co_await sleep(d): Node's `await setTimeout(d)`. Returns {} when the time has passed, or
// Error::cancelled as soon as the awaiting task's token fires (the timer is stopped then).
#pragma once
#include <optional>

#include "waitless/async/task.hpp"
#include "waitless/loop/timer.hpp"

namespace waitless {

class SleepAwaiter {
 public:
  explicit SleepAwaiter(Duration d) noexcept : duration_(d) {}
  SleepAwaiter(SleepAwaiter&&) = delete;

  bool await_ready() const noexcept { return false; }
  template <typename P>
  void await_suspend(std::coroutine_handle<P> awaiting) {
    loop_ = &detail::loop_of(awaiting);
    awaiting_ = awaiting;
    CancelToken token = detail::token_of(awaiting);
    if (token.cancelled()) {
      result_ = Error::cancelled;
      loop_->queue_resume(awaiting);
      return;
    }
    // Lambdas capture only `this`, so std::function stores them inline: no allocation per sleep.
    timer_.emplace(*loop_);
    (void)timer_->start(duration_, [this] {
      cancel_.detach();
      awaiting_.resume();
    });
    if (token.can_be_cancelled()) {
      cancel_.attach(token, [this] {
        timer_->stop();
        result_ = Error::cancelled;
        loop_->queue_resume(awaiting_);
      });
    }
  }
  std::error_code await_resume() const noexcept { return result_; }

 private:
  Duration duration_;
  std::error_code result_;
  Loop* loop_ = nullptr;
  std::coroutine_handle<> awaiting_;
  std::optional<Timer> timer_;
  CancelCallback cancel_;
};

inline SleepAwaiter sleep(Duration d) noexcept { return SleepAwaiter(d); }

}  // namespace waitless
