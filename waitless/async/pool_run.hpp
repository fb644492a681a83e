// The coroutine face of the thread pools (the pools and their callback face are loop/thread_pool.hpp):
//
//   Result<std::string> r = co_await pools::cpu().run([body] { return pbkdf2_hex(body, 200000); });
//
// `co_await pool.run(fn)` resumes the awaiting task on its own loop with Result<T> (T = fn's return type;
// see detail::Unwrap in thread_pool.hpp for Result/error_code-returning fns). If fn throws, the exception
// is rethrown at the co_await. Nothing is queued until the co_await; a full pool answers
// Error::queue_full at once, without suspending.
//
// Cancellation (the awaiting task's CancelToken):
//   - a job still queued is removed from the queue and the await completes with Error::cancelled at once;
//     fn never runs;
//   - a job already running runs to the end and its result is DELIVERED (not reported as cancelled): its
//     effects happened (a write reached the file, an fd was opened) and reporting "cancelled" would lose
//     or leak them. The awaiting task resumes only when fn has returned, so fn's captures stay valid. The
//     task sees the cancellation at its next await.
//
// Lifetime: fn should own what it uses (capture by value). A task destroyed while its job runs detaches
// the job: fn finishes on the worker and its result is dropped; anything fn captured by reference from the
// destroyed frame would dangle by then.
//
// GCC 12 miscompiles a lambda WITH CAPTURES that is written inside a co_await expression (the closure
// temporary is destroyed twice: a double free / refcount underflow; seen under ASan, also reported by other
// projects). Capture-less and by-reference lambdas are unaffected. With GCC 12, either name the lambda
// first or pass the values as arguments, which run() stores and hands to fn:
//   auto job = [body] { return hash(body); };            // named: fine
//   co_await pool.run(std::move(job));
//   co_await pool.run([](const std::string& b) { return hash(b); }, body);   // arguments: fine
//   co_await pool.run([body] { return hash(body); });    // AVOID on GCC 12
// (The same holds for any braced aggregate temporary written inside co_await.)
#pragma once
#include <coroutine>
#include <memory>
#include <type_traits>
#include <utility>

#include "waitless/base/cancel.hpp"
#include "waitless/base/result.hpp"
#include "waitless/loop/coroutine_context.hpp"
#include "waitless/loop/loop.hpp"
#include "waitless/loop/thread_pool.hpp"

namespace waitless {

template <typename F>
class [[nodiscard]] PoolRunAwaiter {
  using R = std::invoke_result_t<F&>;
  using Value = typename detail::Unwrap<R>::type;

  struct Job final : detail::PoolJob {
    explicit Job(F&& f) : fn(std::move(f)) {}
    void execute() noexcept override { outcome.run(fn); }
    void deliver() override {
      if (waiter) waiter->on_delivered();
    }
    F fn;
    detail::Outcome<R> outcome;
    PoolRunAwaiter* waiter = nullptr;  // touched on the loop's thread only
  };

 public:
  explicit PoolRunAwaiter(PoolRun<F>&& run) : core_(run.take_core()), fn_(run.take_fn()) {}
  PoolRunAwaiter(const PoolRunAwaiter&) = delete;
  PoolRunAwaiter& operator=(const PoolRunAwaiter&) = delete;
  ~PoolRunAwaiter() {
    if (!pending_) return;
    // The awaiting frame is being destroyed mid-wait: leave the queue, or let a running job finish alone.
    job_->waiter = nullptr;
    (void)core_->cancel(*job_);
  }

  bool await_ready() const noexcept { return false; }

  template <typename P>
  bool await_suspend(std::coroutine_handle<P> awaiting) {
    Loop& loop = detail::loop_of(awaiting);
    CancelToken token = detail::token_of(awaiting);
    if (token.cancelled()) {
      status_ = Error::cancelled;
      return false;
    }
    auto job = detail::JobRef<Job>::adopt(new Job(std::move(fn_)));
    if (std::error_code ec = core_->enqueue(job, loop)) {
      status_ = ec;
      return false;
    }
    job->waiter = this;
    job_ = std::move(job);
    awaiting_ = awaiting;
    pending_ = true;
    cancel_.attach(token, [this] { on_cancel(); });
    return true;
  }

  Result<Value> await_resume() {
    if (status_) return status_;
    return job_->outcome.take(job_->status());
  }

 private:
  void on_delivered() {
    pending_ = false;
    cancel_.detach();
    awaiting_.resume();
  }
  void on_cancel() {
    if (!core_->cancel(*job_)) return;  // running: its result will be delivered
    pending_ = false;
    status_ = Error::cancelled;
    job_->loop->queue_resume(awaiting_);
  }

  std::shared_ptr<detail::PoolCore> core_;
  detail::JobRef<Job> job_;
  std::coroutine_handle<> awaiting_;
  std::error_code status_;
  CancelCallback cancel_;
  bool pending_ = false;
  [[no_unique_address]] F fn_;
};

// Found by argument-dependent lookup: `co_await pool.run(fn)` awaits the PoolRun through this.
template <typename F>
PoolRunAwaiter<F> operator co_await(PoolRun<F>&& run) {
  return PoolRunAwaiter<F>(std::move(run));
}

}  // namespace waitless
