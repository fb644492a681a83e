// The onion: how middleware and handlers run one after another for a request.
//
// A chain is a list of layers (the App's middleware, then the matched route's own middleware and
// handler). Each layer is a plain function or a coroutine returning Task<>, with or without `Next`:
//
//   void    (Request&, Response&, Next)        plain middleware
//   Task<>  (Request&, Response&, Next)        coroutine middleware
//   void    (Request&, Response&)              plain handler (does not go on)
//   Task<>  (Request&, Response&)              coroutine handler
//
// `next()` runs the rest of the chain *now* and returns once it has finished or first suspended; a
// coroutine writes `co_await next()` to wait for the rest to finish, then acts after it (timing, headers,
// error mapping: the response is committed only when the whole chain has returned). A layer that does not
// call next() ends the chain there. Calling next() twice is a programming error (std::logic_error, 500).
//
// The zero-suspension fast path: when every layer of a request's chain is a plain function, the chain is
// a chain of ordinary calls: no coroutine frame, no allocation. A plain middleware may still sit in front
// of coroutine layers: its next() then starts the rest, and if the rest suspends, the plain middleware's
// code after next() runs at that first suspension (as in Express), while the request is not complete until
// the rest has finished (the chain awaits it). Whatever must happen after the whole rest, in every case,
// belongs in a coroutine middleware.
//
// Exceptions: one thrown by a layer propagates through next() to the layers before it (a plain
// middleware's try/catch around next() sees the synchronous ones, a coroutine's around co_await next()
// sees all), and what nobody catches reaches the App, which answers with a problem document. They never
// leave the request's chain.
#pragma once
#include <coroutine>
#include <cstdint>
#include <functional>
#include <span>
#include <type_traits>
#include <utility>

#include "waitless/async/task.hpp"
#include "waitless/base/cancel.hpp"

namespace waitless::web {

class Request;
class Response;
class Next;

namespace detail {
class Chain;
using TaskHandle = std::coroutine_handle<waitless::detail::Promise<void>>;
}  // namespace detail

// What next() returns: co_await it to wait for the rest of the chain (it is ready at once when the rest
// finished without suspending). A plain middleware may drop it: the chain then waits for the rest itself.
class NextCall {
 public:
  NextCall(NextCall&& o) noexcept
      : chain_(o.chain_), pending_(std::exchange(o.pending_, {})), awaited_(o.awaited_) {}
  NextCall& operator=(NextCall&&) = delete;
  ~NextCall();

  bool await_ready() const noexcept { return !pending_ || pending_.done(); }
  bool await_suspend(std::coroutine_handle<> awaiting) noexcept {
    awaited_ = true;
    pending_.promise().continuation = awaiting;
    return true;
  }
  // Rethrows what the rest of the chain threw.
  void await_resume();

 private:
  friend class detail::Chain;
  NextCall(detail::Chain* chain, detail::TaskHandle pending) noexcept : chain_(chain), pending_(pending) {}
  detail::Chain* chain_;
  detail::TaskHandle pending_;  // the rest, started and not finished (or finished, not yet collected)
  bool awaited_ = false;
};

class Next {
 public:
  // Runs the rest of the chain (see the file comment).
  NextCall operator()() const;

 private:
  friend class detail::Chain;
  Next(detail::Chain* chain, uint32_t index) noexcept : chain_(chain), index_(index) {}
  detail::Chain* chain_;
  uint32_t index_;
};

// One layer, type-erased. `sync` and/or `async` is set: a plain function has only `sync`, a coroutine only
// `async`; a layer with both (the body parsers) is plain when the request's chain is all plain (its body
// then arrives whole before the chain runs) and a coroutine otherwise.
struct Layer {
  using SyncFn = std::function<void(Request&, Response&, Next)>;
  using AsyncFn = std::function<Task<>(Request&, Response&, Next)>;
  SyncFn sync;
  AsyncFn async;
  // A body parser's size limit (0: the layer does not read the body). The App sets the request's body
  // limit from its chain's largest before the body is read, so the server answers 413 past it.
  uint64_t body_limit = 0;
};

template <typename F>
inline constexpr bool is_middleware_v = std::is_invocable_v<F&, Request&, Response&, Next>;
template <typename F>
inline constexpr bool is_handler_v = std::is_invocable_v<F&, Request&, Response&>;

// Wraps a middleware or a handler (see the file comment for the four forms).
template <typename F>
requires(is_middleware_v<std::decay_t<F>> || is_handler_v<std::decay_t<F>>) Layer make_layer(F&& f) {
  using Fn = std::decay_t<F>;
  Layer layer;
  if constexpr (is_middleware_v<Fn>) {
    using R = std::invoke_result_t<Fn&, Request&, Response&, Next>;
    if constexpr (std::is_same_v<R, Task<>>) {
      layer.async = std::forward<F>(f);
    } else {
      static_assert(std::is_void_v<R>, "a middleware returns void or Task<>");
      layer.sync = std::forward<F>(f);
    }
  } else {
    using R = std::invoke_result_t<Fn&, Request&, Response&>;
    // The wrappers return the handler's own task: no frame of their own.
    if constexpr (std::is_same_v<R, Task<>>) {
      layer.async = [fn = std::forward<F>(f)](Request& q, Response& s, Next) mutable { return fn(q, s); };
    } else {
      static_assert(std::is_void_v<R>, "a handler returns void or Task<>");
      layer.sync = [fn = std::forward<F>(f)](Request& q, Response& s, Next) mutable { fn(q, s); };
    }
  }
  return layer;
}
inline Layer make_layer(Layer layer) { return layer; }

namespace detail {

// One request's run through its layers: `outer` (the App's) then `inner` (the route's).
class Chain {
 public:
  // all_sync: every layer has `sync` (the body, if any, is already collected): plain calls only.
  Chain(std::span<const Layer> outer, std::span<const Layer> inner, Request& req, Response& res,
        CancelToken token, bool all_sync) noexcept
      : outer_(outer), inner_(inner), req_(req), res_(res), token_(std::move(token)), all_sync_(all_sync) {}
  Chain(const Chain&) = delete;
  Chain& operator=(const Chain&) = delete;
  ~Chain();

  // Runs the chain from its first layer: returns the started rest when it suspended (null when it
  // finished). Throws what a layer threw before any suspension.
  NextCall start() { return next(0); }
  NextCall next(uint32_t index);
  // A plain middleware dropped the NextCall of a rest that has not finished: the chain keeps it.
  void defer(TaskHandle pending) noexcept;
  // A rest dropped by a coroutine middleware (misuse, but not a reason to cut it short): the driver awaits
  // it before the request completes.
  NextCall take_deferred() noexcept { return NextCall(this, std::exchange(deferred_, {})); }
  bool has_deferred() const noexcept { return static_cast<bool>(deferred_); }

 private:
  const Layer* at(uint32_t index) const noexcept {
    if (index < outer_.size()) return &outer_[index];
    index -= static_cast<uint32_t>(outer_.size());
    return index < inner_.size() ? &inner_[index] : nullptr;
  }
  TaskHandle run(uint32_t index);

  std::span<const Layer> outer_, inner_;
  Request& req_;
  Response& res_;
  CancelToken token_;
  TaskHandle deferred_;
  uint32_t reached_ = 0;  // the highest layer index started (+1): next() may go past it only
  bool all_sync_;
};

}  // namespace detail

inline NextCall Next::operator()() const { return chain_->next(index_); }

}  // namespace waitless::web
