#include "waitless/web/chain.hpp"

#include <exception>
#include <stdexcept>

#include "waitless/base/log.hpp"

namespace waitless::web {

NextCall::~NextCall() {
  if (!pending_) return;
  if (awaited_) {
    // Our awaiting frame is being destroyed mid-way: the rest is torn down with it.
    std::exchange(pending_, {}).destroy();
    return;
  }
  // Dropped without co_await (a plain middleware): the chain waits for the rest and sees its exception.
  chain_->defer(std::exchange(pending_, {}));
}

void NextCall::await_resume() {
  detail::TaskHandle h = std::exchange(pending_, {});
  if (!h) return;
  std::exception_ptr err = h.promise().exception;
  h.destroy();
  if (err) std::rethrow_exception(err);
}

namespace detail {

Chain::~Chain() {
  if (deferred_) deferred_.destroy();
}

void Chain::defer(TaskHandle pending) noexcept {
  if (deferred_) {
    // Only one rest can be pending per layer: a second one means next() was misused; keep the first.
    log::error("web: a second unfinished rest of the chain was dropped; destroying it");
    pending.destroy();
    return;
  }
  deferred_ = pending;
}

NextCall Chain::next(uint32_t index) {
  if (index < reached_) throw std::logic_error("next() called twice by one middleware");
  reached_ = index + 1;
  return NextCall(this, run(index));
}

TaskHandle Chain::run(uint32_t index) {
  const Layer* layer = at(index);
  if (layer == nullptr) return {};  // past the last layer: nothing more to run
  if (layer->sync && (all_sync_ || !layer->async)) {
    layer->sync(req_, res_, Next(this, index + 1));
    // A rest it started and dropped is its rest: the layer before it awaits it through our NextCall.
    TaskHandle rest = std::exchange(deferred_, {});
    if (rest && rest.done()) {
      std::exception_ptr err = rest.promise().exception;
      rest.destroy();
      if (err) std::rethrow_exception(err);
      return {};
    }
    return rest;
  }
  // A coroutine layer: started now (eagerly, like an async function called in Node) under the request's
  // token, and run until it first suspends.
  TaskHandle h = layer->async(req_, res_, Next(this, index + 1)).release();
  if (!h) return {};
  auto& p = h.promise();
  p.started = true;
  p.token = token_;
  p.token_set = true;
  h.resume();
  if (h.done()) {
    std::exception_ptr err = p.exception;
    h.destroy();
    if (err) std::rethrow_exception(err);
    return {};
  }
  return h;
}

}  // namespace detail
}  // namespace waitless::web
