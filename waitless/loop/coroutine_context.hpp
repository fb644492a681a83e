// What a suspended waitless coroutine carries for whatever it awaits: the loop it runs on, and the
// CancelToken that stops its waits. Every awaitable of every layer (a timer's sleep, a pool job, a socket
// read) reads both from the awaiting coroutine's handle through detail::loop_of / detail::token_of.
//
// Why here, in the loop layer: "which loop am I on" is the loop's own question (Loop::running,
// Loop::current), and the awaitables that ask it live in every layer from the loop up. Task<T> (async/)
// is one coroutine type that carries the context (its promise derives from CoroutineContext); the loop
// layer knows the context, never Task. Cancellation itself is base/cancel.hpp: a token is a plain
// single-threaded data structure that needs no loop.
//
// A coroutine type that is not a waitless one (its promise does not derive from CoroutineContext) awaits
// on the loop running on this thread (else this thread's current loop), with a token that never fires.
#pragma once
#include <coroutine>
#include <type_traits>

#include "waitless/base/cancel.hpp"
#include "waitless/loop/loop.hpp"

namespace waitless::detail {

// The loop a coroutine created now would run on: the loop running on this thread, else its current one.
inline Loop& loop_here() noexcept { return Loop::current(); }

struct CoroutineContext {
  Loop* loop = &loop_here();
  CancelToken token;
};

// The token of the awaiting coroutine if it carries a context; an empty token (never cancelled) otherwise.
template <typename P>
CancelToken token_of(std::coroutine_handle<P> h) noexcept {
  if constexpr (std::is_base_of_v<CoroutineContext, P>) {
    return h.promise().token;
  } else {
    return {};
  }
}

// The loop of the awaiting coroutine if it carries a context; the loop here otherwise.
template <typename P>
Loop& loop_of(std::coroutine_handle<P> h) noexcept {
  if constexpr (std::is_base_of_v<CoroutineContext, P>) {
    return *h.promise().loop;
  } else {
    return loop_here();
  }
}

}  // namespace waitless::detail
