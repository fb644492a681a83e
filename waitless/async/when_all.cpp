#include "waitless/async/when_all.hpp"

#include "waitless/base/log.hpp"

namespace waitless::detail {
namespace {

// Enters the child by symmetric transfer with the joiner as its continuation, so a child that completes
// without suspending comes straight back to its joiner.
struct EnterChild {
  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(JoinChild::Handle self) noexcept {
    JoinChild::promise_type& jp = self.promise();
    PromiseBase& p = *jp.child_promise;
    p.started = true;
    p.continuation = self;
    if (!p.token_set) p.token = jp.state->child_token();
    return jp.child_handle;
  }
  void await_resume() const noexcept {}
};

// The promise reads the parameters; the body only has to enter the child.
JoinChild join_child(JoinState&, PromiseBase&, std::coroutine_handle<>, uint32_t) { co_await EnterChild{}; }

}  // namespace

std::coroutine_handle<> JoinChild::promise_type::Final::await_suspend(
    std::coroutine_handle<promise_type> h) noexcept {
  promise_type& jp = h.promise();
  return jp.state->child_done(jp.index, *jp.child_promise);
}

JoinState::~JoinState() {
  // Normally every joiner is at its final suspension here. If the combinator's frame is destroyed
  // mid-way, joiners are still suspended in their child; the children's frames go next, with the Tasks.
  for (JoinChild::promise_type* jp = joiners_; jp;) {
    JoinChild::promise_type* next = jp->next;
    JoinChild::Handle::from_promise(*jp).destroy();
    jp = next;
  }
}

void JoinState::add_joiner(PromiseBase& p, std::coroutine_handle<> h, uint32_t index) {
  JoinChild::promise_type* jp = &join_child(*this, p, h, index).release().promise();
  if (last_) {
    last_->next = jp;
  } else {
    joiners_ = jp;
  }
  last_ = jp;
  ++count_;
}

bool JoinState::start(std::coroutine_handle<> self, const CancelToken& parent) {
  continuation_ = self;
  source_.emplace(parent);
  child_token_ = source_->token();
  // The extra count keeps a child that completes during start-up from resuming `self`, which is the
  // coroutine running this very loop.
  remaining_ = count_ + 1;
  for (JoinChild::promise_type* jp = joiners_; jp; jp = jp->next)
    JoinChild::Handle::from_promise(*jp).resume();
  return --remaining_ != 0;  // false: everything finished already, go on without suspending
}

std::coroutine_handle<> JoinState::child_done(uint32_t index, PromiseBase& child) noexcept {
  if (first_ == kNone && (mode_ == Mode::any || child.exception)) {
    first_ = index;
    if (mode_ == Mode::all) first_error_ = child.exception;
    // Cancel callbacks only stop their work and queue a resumption: no sibling finishes inside this call
    // (and if one did, `remaining_` still counts this child, so nothing resumes the combinator early).
    try {
      source_->cancel();
    } catch (...) {
      log::error("when_all/when_any: a cancel callback threw; siblings may not all be cancelled");
    }
  }
  if (--remaining_ == 0) return continuation_;
  return std::noop_coroutine();
}

}  // namespace waitless::detail
