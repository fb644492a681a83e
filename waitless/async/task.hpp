// Task<T>: a lazy coroutine. Nothing runs until it is awaited (or spawned); completion resumes the awaiter
// by symmetric transfer (no stack growth); an exception thrown inside is rethrown at the co_await.
//
// Each task carries a CancelToken. An awaited task inherits the awaiting task's token unless one was set
// with with_token(); every library awaitable reads it, so cancelling the source stops pending waits.
//
// Misuse is an error, not a crash: awaiting a task twice, or a moved-from task, throws
// std::system_error(Error::already_awaited) at that co_await.
#pragma once
#include <coroutine>
#include <exception>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>
#include "waitless/base/source_location.hpp"

#include "waitless/async/frame_allocator.hpp"
#include "waitless/base/cancel.hpp"
#include "waitless/base/error.hpp"
#include "waitless/base/log.hpp"
#include "waitless/loop/coroutine_context.hpp"
#include "waitless/loop/loop.hpp"

namespace waitless {

template <typename T = void>
class Task;

namespace detail {

// The loop and token (CoroutineContext, loop/coroutine_context.hpp) are what awaitables read through
// detail::loop_of / detail::token_of.
struct PromiseBase : CoroutineContext {
  std::coroutine_handle<> continuation;
  std::exception_ptr exception;
  bool token_set = false;
  bool started = false;
  bool detached = false;
  bool consumed = false;  // the result was handed to an awaiter
  bool finished = false;  // at its final suspend point: nothing can be queued to resume it
  SourceLocation where;   // for detached tasks: where spawn() was called, in error reports

  static void* operator new(std::size_t size) { return allocate_frame(size); }
  static void operator delete(void* p, std::size_t size) noexcept { free_frame(p, size); }

  std::suspend_always initial_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { exception = std::current_exception(); }
  void report_detached_failure() noexcept;
};

inline void PromiseBase::report_detached_failure() noexcept {
  if (!exception) return;
  try {
    std::rethrow_exception(exception);
  } catch (const std::exception& e) {
    log::error("detached task spawned at {}:{} failed: {}", where.file_name(), where.line(), e.what());
  } catch (...) {
    log::error("detached task spawned at {}:{} failed with a non-std exception", where.file_name(),
               where.line());
  }
}

template <typename Promise>
struct FinalAwaiter {
  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> h) noexcept {
    PromiseBase& p = h.promise();
    p.finished = true;
    if (p.detached) {
      p.report_detached_failure();
      h.destroy();
      return std::noop_coroutine();
    }
    return p.continuation ? p.continuation : std::noop_coroutine();
  }
  void await_resume() const noexcept {}
};

// A frame destroyed while its resumption is queued (cancelled, then destroyed by its owner) withdraws it.
// That takes a scan of the microtask queue, so it is done only for a frame destroyed before it finished
// (rare): a finished frame, the common case (a parent destroying the child it awaited, possibly among
// thousands of siblings queued by when_all), has nothing queued.
template <typename P>
void forget_queued_resume(P& promise) noexcept {
  if (!promise.finished && promise.loop && promise.loop->has_microtasks())
    promise.loop->forget_resume(std::coroutine_handle<P>::from_promise(promise));
}

template <typename T>
struct Promise : PromiseBase {
  ~Promise() { forget_queued_resume(*this); }
  std::optional<T> value;
  Task<T> get_return_object() noexcept;
  FinalAwaiter<Promise> final_suspend() noexcept { return {}; }
  template <typename U>
  requires std::is_convertible_v<U&&, T>
  void return_value(U&& v) { value.emplace(std::forward<U>(v)); }
  T take() {
    if (exception) std::rethrow_exception(exception);
    return std::move(*value);
  }
};

template <>
struct Promise<void> : PromiseBase {
  ~Promise() { forget_queued_resume(*this); }
  Task<void> get_return_object() noexcept;
  FinalAwaiter<Promise> final_suspend() noexcept { return {}; }
  void return_void() noexcept {}
  void take() {
    if (exception) std::rethrow_exception(exception);
  }
};

}  // namespace detail

template <typename T>
class [[nodiscard]] Task {
 public:
  using promise_type = detail::Promise<T>;
  using value_type = T;
  using Handle = std::coroutine_handle<promise_type>;

  Task() noexcept = default;
  explicit Task(Handle h) noexcept : h_(h) {}
  Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { destroy(); }

  bool valid() const noexcept { return static_cast<bool>(h_); }
  bool done() const noexcept { return h_ && h_.done(); }

  // Runs the task under `token` instead of the awaiter's.
  Task&& with_token(CancelToken token) && noexcept {
    if (h_) {
      h_.promise().token = std::move(token);
      h_.promise().token_set = true;
    }
    return std::move(*this);
  }

  auto operator co_await() && noexcept { return Awaiter{h_}; }
  auto operator co_await() & noexcept { return Awaiter{h_}; }

  // For spawn() / when_all and friends: give up ownership of the frame.
  Handle release() noexcept { return std::exchange(h_, {}); }
  Handle handle() const noexcept { return h_; }

 private:
  struct Awaiter {
    Handle h;
    bool await_ready() const noexcept { return !h || h.promise().started; }
    template <typename P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> awaiting) noexcept {
      promise_type& p = h.promise();
      p.started = true;
      p.continuation = awaiting;
      if (!p.token_set) p.token = detail::token_of(awaiting);
      return h;
    }
    T await_resume() {
      if (!h || !h.done() || h.promise().consumed) throw std::system_error(Error::already_awaited);
      h.promise().consumed = true;
      return h.promise().take();
    }
  };
  void destroy() noexcept {
    // A task destroyed while suspended mid-way: its frame's destructors unregister every pending wait.
    if (h_) std::exchange(h_, {}).destroy();
  }
  Handle h_;
};

namespace detail {
template <typename T>
Task<T> Promise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}
inline Task<void> Promise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}
}  // namespace detail

// Starts `task` now, detached: it runs until its first suspension before spawn() returns (as an async
// function called without await in Node). Its exception is logged with where spawn() was called, never lost.
template <typename T>
void spawn(Task<T> task, CancelToken token = {}, SourceLocation where = SourceLocation::current()) {
  auto h = task.release();
  if (!h) {
    log::error("spawn at {}:{} of an empty or already awaited task ignored", where.file_name(), where.line());
    return;
  }
  auto& p = h.promise();
  if (p.started) {
    log::error("spawn at {}:{} of a task already started ignored", where.file_name(), where.line());
    return;
  }
  p.started = true;
  p.detached = true;
  p.where = where;
  if (!p.token_set) p.token = std::move(token);
  h.resume();
}

namespace detail {
// A coroutine that, when resumed as a task's continuation, stops the loop and then stays suspended until
// its owner destroys it.
struct StopOnResume {
  struct promise_type {
    StopOnResume get_return_object() noexcept {
      return {std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept {}
  };
  StopOnResume(std::coroutine_handle<promise_type> h) noexcept : handle(h) {}  // NOLINT
  // Movable because clang may move get_return_object()'s result instead of eliding the copy.
  StopOnResume(StopOnResume&& o) noexcept : handle(std::exchange(o.handle, {})) {}
  StopOnResume& operator=(StopOnResume&&) = delete;
  ~StopOnResume() {
    if (handle) handle.destroy();
  }
  std::coroutine_handle<promise_type> handle;
};
inline StopOnResume stop_on_resume(Loop& loop) {
  loop.stop();
  co_return;
}
}  // namespace detail

// Runs the loop until `task` completes and returns its result (or rethrows its exception). If the loop
// runs out of work first, the task can never finish: throws std::system_error(Error::closed).
template <typename T>
T run(Task<T> task, Loop& loop = Loop::current()) {
  auto h = task.handle();
  if (!h || h.promise().started) throw std::system_error(Error::already_awaited);
  // The task may finish in any phase while other handles keep the loop alive: its continuation stops the
  // loop, so the same iteration does not then block in poll.
  detail::StopOnResume stopper = detail::stop_on_resume(loop);
  h.promise().started = true;
  h.promise().continuation = stopper.handle;
  h.promise().loop = &loop;
  // The loop's clock was cached at its last iteration, which may be long past (run() is called between
  // other work): a timer the task starts must count from now, or a sleep could end early.
  loop.update_time();
  {
    Loop::Scope scope(loop);
    h.resume();
  }
  while (!h.done() && loop.run_once()) {
  }
  loop.clear_stop();
  if (!h.done()) throw std::system_error(Error::closed, "loop ran out of work before the task finished");
  h.promise().consumed = true;
  return h.promise().take();
}

}  // namespace waitless
