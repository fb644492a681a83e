// with_timeout: a deadline for one Task, structured (the task never outlives the call).
//
//   Result<Row> r = co_await with_timeout(db.query_one(sql), 2s);
//   if (!r) return r.error();   // Error::timed_out, or Error::cancelled
//
// - The task starts at once under a child CancelSource linked to the awaiting task's token.
// - If the deadline passes first, the source is cancelled (the task's pending waits end with
//   Error::cancelled), the task is awaited to its end, and the result is Error::timed_out: whatever the
//   task then returns or throws is dropped.
// - If the awaiting task is cancelled first, the same happens and the result is Error::cancelled.
// - Otherwise the result is the task's value; its exception is rethrown.
// - Result type: Result<T> (Result<void> for Task<void>); for a Task<std::error_code>, a plain
//   std::error_code (the task's own code, or timed_out / cancelled), since errors are already values there.
// - A task given its own token with with_token() keeps it: the deadline cannot cancel it, it is still
//   awaited, and the result is still Error::timed_out if the deadline passed first.
// - Deadlines beyond kMaxTimeout are clamped to it (the loop's clock would overflow).
// - An empty, moved-from or started task throws std::system_error(Error::already_awaited).
// Cost: the coroutine frame (pooled), a Timer inside it, and one CancelSource state allocation.
#pragma once
#include <algorithm>
#include <optional>
#include <system_error>
#include <type_traits>

#include "waitless/async/task.hpp"
#include "waitless/base/cancel.hpp"
#include "waitless/base/result.hpp"
#include "waitless/loop/timer.hpp"

namespace waitless {

template <typename T>
using TimeoutResult = std::conditional_t<std::is_same_v<T, std::error_code>, std::error_code, Result<T>>;

inline constexpr Duration kMaxTimeout = std::chrono::hours(24 * 365 * 30);

namespace detail {

// Lives in with_timeout's frame. The child's continuation is that frame itself, so no joiner is needed.
class Deadline {
 public:
  explicit Deadline(Duration timeout) noexcept : timeout_(std::min(timeout, kMaxTimeout)) {}
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  struct Run {
    Deadline& d;
    PromiseBase& child;
    std::coroutine_handle<> child_handle;
    bool await_ready() const noexcept { return false; }
    template <typename P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> self) {
      return d.start(self, detail::loop_of(self), detail::token_of(self), child, child_handle);
    }
    void await_resume() noexcept { d.finish(); }
  };
  template <typename T>
  Run run(Task<T>& task) noexcept {
    return Run{*this, task.handle().promise(), task.handle()};
  }

  // Valid after the awaited run(): exactly one of these or neither (the task finished in time).
  bool expired() const noexcept { return expired_; }
  bool cancelled() const noexcept { return cancelled_; }

 private:
  std::coroutine_handle<> start(std::coroutine_handle<> self, Loop& loop, const CancelToken& parent,
                                PromiseBase& child, std::coroutine_handle<> child_handle);
  void finish() noexcept;

  Duration timeout_;
  bool expired_ = false;
  bool cancelled_ = false;
  std::optional<CancelSource> source_;
  std::optional<Timer> timer_;
};

}  // namespace detail

template <typename T>
Task<TimeoutResult<T>> with_timeout(Task<T> task, Duration timeout) {
  if (!task.valid() || task.handle().promise().started) throw std::system_error(Error::already_awaited);
  detail::Deadline deadline(timeout);
  co_await deadline.run(task);
  if (deadline.expired()) co_return make_error_code(Error::timed_out);
  if (deadline.cancelled()) co_return make_error_code(Error::cancelled);
  auto& p = task.handle().promise();
  p.consumed = true;
  if constexpr (std::is_void_v<T>) {
    p.take();
    co_return Result<void>{};
  } else {
    co_return p.take();
  }
}

}  // namespace waitless
