#include "waitless/async/timeout.hpp"

namespace waitless::detail {

std::coroutine_handle<> Deadline::start(std::coroutine_handle<> self, Loop& loop, const CancelToken& parent,
                                        PromiseBase& child, std::coroutine_handle<> child_handle) {
  source_.emplace(parent);  // already cancelled if the parent is: then no deadline is needed
  timer_.emplace(loop);
  if (!source_->cancelled()) {
    (void)timer_->start(timeout_, [this] {
      // A parent cancellation that came first keeps its reason.
      if (source_->cancelled()) return;
      expired_ = true;
      source_->cancel();
    });
  }
  child.started = true;
  child.continuation = self;
  if (!child.token_set) child.token = source_->token();
  return child_handle;
}

void Deadline::finish() noexcept {
  timer_.reset();  // the deadline no longer keeps the loop alive
  cancelled_ = !expired_ && source_->cancelled();
  source_.reset();  // unlink from the parent's token now rather than at the end of the frame
}

}  // namespace waitless::detail
