// when_all / when_any: run several Tasks at once on the awaiting task's loop (Node's Promise.all and
// Promise.race, made structured: no child ever outlives the co_await).
//
//   auto [user, orders] = co_await when_all(load_user(id), load_orders(id));   // std::tuple
//   std::vector<int> sizes = co_await when_all(std::move(tasks));              // std::vector<Task<int>>
//   auto first = co_await when_any(from_cache(k), from_db(k));                 // std::variant, index()
//   auto [i, value] = co_await when_any(std::move(mirrors));                   // std::pair<size_t, T>
//
// Semantics, for both:
// - Every child starts at once, in argument order: each runs until its first suspension before the next
//   one starts (as calling async functions without await in Node). They then run concurrently.
// - Children run under a child CancelSource linked to the awaiting task's token: cancelling the awaiting
//   task cancels every child. A child given its own token with with_token() keeps it (and is then not
//   cancelled by its siblings' failure; it is still awaited).
// - when_all: if a child throws, the others are cancelled (their pending waits end with Error::cancelled),
//   when_all waits until every child has finished, then rethrows the FIRST exception (in completion
//   order); other exceptions and the siblings' values are dropped. Otherwise the results, in argument
//   order: std::tuple<T...> (std::monostate for Task<void>), or std::vector<T> for a vector (a vector of
//   Task<void> gives Task<void>). An empty vector completes at once.
// - when_any: the first child to complete (with a value or an exception) wins, the rest are cancelled and
//   awaited, then the winner's value is returned or its exception rethrown; the losers' values and
//   exceptions are dropped. Variadic: std::variant<T...> (std::monostate for void) whose index() is the
//   winner's position, duplicates allowed. Vector: std::pair<size_t, T> (just the index for Task<void>).
//   An empty vector throws std::system_error(Error::invalid_argument).
// - An empty, moved-from or already started child throws std::system_error(Error::already_awaited)
//   before any child starts.
//
// Cost: one coroutine frame for the combinator plus one small joiner frame per child (it tells which
// child finished, so completion is O(1), not a scan), all from the pooled frame allocator: no malloc per
// child after warm-up. The CancelSource allocates its shared state once per call.
#pragma once
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "waitless/async/task.hpp"
#include "waitless/base/cancel.hpp"

namespace waitless {

namespace detail {

// What a Task<T> contributes to a tuple or variant.
template <typename T>
using JoinValue = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

class JoinState;

// The per-child joiner: a coroutine that starts one child by symmetric transfer, is its continuation,
// and reports its completion (with its index) to the JoinState.
class JoinChild {
 public:
  struct promise_type {
    promise_type(JoinState& s, PromiseBase& child, std::coroutine_handle<> h, uint32_t i) noexcept
        : state(&s), child_promise(&child), child_handle(h), index(i) {}
    static void* operator new(std::size_t size) { return allocate_frame(size); }
    static void operator delete(void* p, std::size_t size) noexcept { free_frame(p, size); }

    JoinChild get_return_object() noexcept {
      return JoinChild(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct Final {
      bool await_ready() const noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept;
      void await_resume() const noexcept {}
    };
    Final final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    // The body only awaits EnterChild, which cannot throw.
    void unhandled_exception() noexcept { std::terminate(); }

    JoinState* state;
    PromiseBase* child_promise;
    std::coroutine_handle<> child_handle;
    uint32_t index;
    promise_type* next = nullptr;  // JoinState's list of joiners, for destruction
  };
  using Handle = std::coroutine_handle<promise_type>;

  explicit JoinChild(Handle h) noexcept : h_(h) {}
  Handle release() noexcept { return std::exchange(h_, {}); }
  JoinChild(JoinChild&& o) noexcept : h_(o.release()) {}
  JoinChild& operator=(JoinChild&&) = delete;
  ~JoinChild() {
    if (h_) h_.destroy();
  }

 private:
  Handle h_;
};

// Shared by the combinator's frame (which owns it) and its joiners. Invariant: every joiner created is on
// `joiners_` until the destructor destroys it; the children's frames belong to the Tasks the combinator
// holds, and outlive the joiners' use of them because the combinator resumes only once all are done.
class JoinState {
 public:
  enum class Mode : uint8_t { all, any };
  static constexpr uint32_t kNone = UINT32_MAX;

  explicit JoinState(Mode mode) noexcept : mode_(mode) {}
  JoinState(const JoinState&) = delete;
  JoinState& operator=(const JoinState&) = delete;
  ~JoinState();

  // Throws std::system_error(Error::already_awaited) for a task that cannot be started.
  template <typename T>
  static void check_count(const std::vector<Task<T>>& tasks) {
    if (tasks.size() >= kNone) throw std::system_error(Error::limit_exceeded, "too many tasks");
  }
  template <typename T>
  static void check(const Task<T>& t) {
    if (!t.valid() || t.handle().promise().started) throw std::system_error(Error::already_awaited);
  }
  // Creates the joiner of child `index` (not started yet).
  template <typename T>
  void add(Task<T>& t, uint32_t index) {
    add_joiner(t.handle().promise(), t.handle(), index);
  }

  // co_await state.run(): starts every child in order, resumes when all have finished.
  struct Run {
    JoinState& s;
    bool await_ready() const noexcept { return s.count_ == 0; }
    template <typename P>
    bool await_suspend(std::coroutine_handle<P> self) {
      return s.start(self, detail::token_of(self));
    }
    void await_resume() const noexcept {}
  };
  Run run() noexcept { return Run{*this}; }

  // all: the first child that threw (kNone if none); any: the first child that completed.
  uint32_t first() const noexcept { return first_; }
  const std::exception_ptr& first_error() const noexcept { return first_error_; }

  // Called by a joiner when its child has finished; returns what to resume next.
  std::coroutine_handle<> child_done(uint32_t index, PromiseBase& child) noexcept;
  const CancelToken& child_token() const noexcept { return child_token_; }

 private:
  void add_joiner(PromiseBase& p, std::coroutine_handle<> h, uint32_t index);
  bool start(std::coroutine_handle<> self, const CancelToken& parent);

  Mode mode_;
  uint32_t count_ = 0;
  uint32_t remaining_ = 0;  // children not finished, +1 while start() runs
  uint32_t first_ = kNone;
  std::exception_ptr first_error_;
  std::coroutine_handle<> continuation_;
  std::optional<CancelSource> source_;
  CancelToken child_token_;
  JoinChild::promise_type* joiners_ = nullptr;
  JoinChild::promise_type* last_ = nullptr;
};

template <typename T>
JoinValue<T> take_value(Task<T>& t) {
  auto& p = t.handle().promise();
  p.consumed = true;
  if constexpr (std::is_void_v<T>) {
    p.take();
    return std::monostate{};
  } else {
    return p.take();
  }
}

template <typename V, std::size_t I = 0, typename Tasks>
V take_variant(Tasks& tasks, std::size_t winner) {
  if constexpr (I + 1 == std::tuple_size_v<Tasks>) {
    return V(std::in_place_index<I>, take_value(std::get<I>(tasks)));
  } else {
    if (winner == I) return V(std::in_place_index<I>, take_value(std::get<I>(tasks)));
    return take_variant<V, I + 1>(tasks, winner);
  }
}

}  // namespace detail

template <typename... T>
Task<std::tuple<detail::JoinValue<T>...>> when_all(Task<T>... tasks) {
  (detail::JoinState::check(tasks), ...);
  detail::JoinState state(detail::JoinState::Mode::all);
  uint32_t i = 0;
  (state.add(tasks, i++), ...);
  co_await state.run();
  if (state.first_error()) std::rethrow_exception(state.first_error());
  // Braced initialisation evaluates left to right.
  co_return std::tuple<detail::JoinValue<T>...>{detail::take_value(tasks)...};
}

template <typename T>
Task<std::conditional_t<std::is_void_v<T>, void, std::vector<T>>> when_all(std::vector<Task<T>> tasks) {
  detail::JoinState::check_count(tasks);
  for (auto& t : tasks) detail::JoinState::check(t);
  detail::JoinState state(detail::JoinState::Mode::all);
  for (std::size_t i = 0; i < tasks.size(); ++i) state.add(tasks[i], static_cast<uint32_t>(i));
  co_await state.run();
  if (state.first_error()) std::rethrow_exception(state.first_error());
  if constexpr (std::is_void_v<T>) {
    co_return;
  } else {
    std::vector<T> out;
    out.reserve(tasks.size());
    for (auto& t : tasks) out.push_back(detail::take_value(t));
    co_return out;
  }
}

template <typename... T>
Task<std::variant<detail::JoinValue<T>...>> when_any(Task<T>... tasks) {
  static_assert(sizeof...(T) > 0, "when_any needs at least one task");
  (detail::JoinState::check(tasks), ...);
  detail::JoinState state(detail::JoinState::Mode::any);
  uint32_t i = 0;
  (state.add(tasks, i++), ...);
  co_await state.run();
  auto refs = std::forward_as_tuple(tasks...);
  co_return detail::take_variant<std::variant<detail::JoinValue<T>...>>(refs, state.first());
}

template <typename T>
Task<std::conditional_t<std::is_void_v<T>, std::size_t, std::pair<std::size_t, T>>> when_any(
    std::vector<Task<T>> tasks) {
  if (tasks.empty()) throw std::system_error(Error::invalid_argument, "when_any of no task");
  detail::JoinState::check_count(tasks);
  for (auto& t : tasks) detail::JoinState::check(t);
  detail::JoinState state(detail::JoinState::Mode::any);
  for (std::size_t i = 0; i < tasks.size(); ++i) state.add(tasks[i], static_cast<uint32_t>(i));
  co_await state.run();
  std::size_t winner = state.first();
  if constexpr (std::is_void_v<T>) {
    detail::take_value(tasks[winner]);
    co_return winner;
  } else {
    co_return std::pair<std::size_t, T>(winner, detail::take_value(tasks[winner]));
  }
}

}  // namespace waitless
