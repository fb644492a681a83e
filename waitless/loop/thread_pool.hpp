// ThreadPool: named, bounded pools of threads for work the kernel cannot do asynchronously (file I/O,
// CPU-heavy work, user code that blocks). A finished job returns to the submitting loop as itself, queued on
// the loop's post queue without allocation (LoopRemote::post_item; one eventfd write per batch); while a job
// is outstanding it holds a pending request, so the loop stays alive.
//
// libuv runs everything on one shared pool, so slow DNS lookups can starve file I/O. waitless keeps
// separate pools with their own threads and queues: pools::fs(), pools::cpu(), pools::blocking().
//
// This is the pool and its callback face (submit). The coroutine face,
//
//   Result<std::string> r = co_await pools::cpu().run([body] { return pbkdf2_hex(body, 200000); });
//
// is in waitless/async/pool_run.hpp (include it to co_await run()'s result): run() here only packs the
// pool and fn into a PoolRun, and awaiting one is the async layer's business. The pieces both faces share
// (PoolJob, Outcome, PoolCore::enqueue / cancel) are below, in detail.
//
// Bound: at most threads + max_queue jobs are outstanding (running or waiting) per pool. Past it,
// submit() returns Error::queue_full (and an awaited run() answers it) at once: the loop never blocks on a
// full pool.
//
// Threading: run() and submit() are called on the submitting loop's thread (they touch its pending-request
// count); the pool itself may be shared by any number of loops. Destroying a pool stops taking work,
// completes queued jobs with Error::closed on their loops, waits for running jobs and joins its threads.
#pragma once
#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "waitless/base/block_cache.hpp"
#include "waitless/base/intrusive_list.hpp"
#include "waitless/base/result.hpp"
#include "waitless/loop/loop.hpp"

namespace waitless {

// A snapshot, taken under the pool's lock (the queue waits are read next to it, not under it).
//
// Queue wait is measured for the jobs that find every thread busy: job by job while fewer than
// kMeasureAllBelow jobs are waiting, and for one job in kMeasureEvery beyond that. A measurement reads the
// clock twice (about 50 ns each on a VM's kvm-clock), once on the submitting loop's thread: in a burst of
// small jobs those reads took a fifth of the loop thread's time, while the jobs of a deep queue wait about
// as long as their neighbours. A job that finds a thread free waits only for its wake-up: it is not
// measured, and it sets last_queue_wait_ns back to 0 (a pool that was saturated and no longer is).
struct ThreadPoolMetrics {
  static constexpr std::size_t kMeasureAllBelow = 32;
  static constexpr unsigned kMeasureEvery = 16;

  std::size_t threads = 0;
  std::size_t max_queue = 0;
  std::size_t queue_depth = 0;     // jobs waiting for a thread
  std::size_t busy_threads = 0;    // jobs running now
  uint64_t submitted = 0;          // jobs accepted
  uint64_t completed = 0;          // jobs whose fn ran to the end (returned or threw)
  uint64_t rejected = 0;           // submissions refused with Error::queue_full
  uint64_t cancelled = 0;          // jobs removed from the queue before they ran
  int64_t last_queue_wait_ns = 0;  // enqueue-to-start time of the most recently started measured job
  int64_t max_queue_wait_ns = 0;   // worst measured enqueue-to-start time since the pool started
};

namespace detail {

// run()'s value type for a fn returning R: R itself, except that a fn which already answers with an error
// value is not wrapped twice: Result<U> gives Result<U>, std::error_code gives Result<void> (an error code
// is a status, and Result<std::error_code> would be ambiguous).
template <typename R>
struct Unwrap {
  using type = R;
};
template <typename U>
struct Unwrap<Result<U>> {
  using type = U;
};
template <>
struct Unwrap<std::error_code> {
  using type = void;
};

// What a job produced on its worker: fn's value or its exception.
template <typename R>
struct Outcome {
  std::optional<R> value;
  std::exception_ptr exception;

  template <typename F>
  void run(F& fn) noexcept {
    try {
      value.emplace(fn());
    } catch (...) {
      exception = std::current_exception();
    }
  }
  // `status` is the job's own fate (Error::cancelled / Error::closed), empty when fn ran.
  Result<typename Unwrap<R>::type> take(std::error_code status) {
    if (status) return status;
    if (exception) std::rethrow_exception(exception);
    if constexpr (std::is_same_v<R, std::error_code>) {
      if (*value) return *value;
      return {};
    } else {
      return std::move(*value);
    }
  }
};

template <>
struct Outcome<void> {
  std::exception_ptr exception;

  template <typename F>
  void run(F& fn) noexcept {
    try {
      fn();
    } catch (...) {
      exception = std::current_exception();
    }
  }
  Result<void> take(std::error_code status) {
    if (status) return status;
    if (exception) std::rethrow_exception(exception);
    return {};
  }
};

// fn with its arguments, for run(fn, args...). A class with a constructor, not an aggregate, and built
// inside run(): nothing in it is a temporary of the awaiting coroutine's co_await expression.
template <typename F, typename... Args>
class Bound {
 public:
  template <typename G, typename... A>
  explicit Bound(G&& fn, A&&... args) : fn_(std::forward<G>(fn)), args_(std::forward<A>(args)...) {}
  // Called once, on the worker.
  decltype(auto) operator()() { return std::apply(fn_, std::move(args_)); }

 private:
  F fn_;
  std::tuple<Args...> args_;
};

// One unit of work, with an intrusive count (one allocation per job, 80 bytes of bookkeeping). References:
// the creator's (an awaiter keeps it; submit() hands it to the pool), and the pool's, held from enqueue
// until the job leaves the queue (cancelled, closed) or the job itself is posted back to its loop as its
// completion (PostedItem: the job is the node of the loop's post queue, nothing is allocated for it), and
// the loop drops it after running it, or unrun if the loop is gone.
struct PoolJob : ListHook<>, PostedItem {
  enum class State : uint8_t { queued, running, finished };
  enum class Fate : uint8_t { ran, cancelled, closed };

  virtual ~PoolJob() = default;
  // Jobs come from the thread's block cache (base/block_cache.hpp): a burst of jobs, once freed, serves the
  // next burst without malloc. The virtual destructor hands the most derived job's size to delete.
  static void* operator new(std::size_t size) { return allocate_block(size); }
  static void operator delete(void* p, std::size_t size) noexcept { free_block(p, size); }
  static void* operator new(std::size_t size, std::align_val_t align) { return ::operator new(size, align); }
  static void operator delete(void* p, std::size_t, std::align_val_t align) noexcept {
    ::operator delete(p, align);
  }

  virtual void execute() noexcept = 0;  // on a worker thread
  // On the submitting loop's thread, inside a posted callback (which catches and logs what it throws).
  virtual void deliver() = 0;

  // The completion, on the loop's thread: the pool's reference is dropped after delivery, even if it threw.
  void run() final;
  // The loop was gone: the pool's reference is dropped, undelivered.
  void drop() noexcept final { release(); }

  void add_ref() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  // {} if fn ran, else Error::cancelled / Error::closed.
  std::error_code status() const noexcept {
    switch (fate) {
      case Fate::cancelled:
        return Error::cancelled;
      case Fate::closed:
        return Error::closed;
      case Fate::ran:
        break;
    }
    return {};
  }

  Loop* loop = nullptr;
  LoopRemote remote;
  // Queue wait (see ThreadPoolMetrics): kFoundThreadFree, kNotSampled, or when the job was queued.
  static constexpr int64_t kFoundThreadFree = -1, kNotSampled = 0;
  int64_t enqueued_ns = kNotSampled;
  std::atomic<uint32_t> refs{1};  // the creator's
  State state = State::queued;    // set before the job is pushed, then guarded by PoolCore::mutex
  Fate fate = Fate::ran;          // written before delivery
};

// An owning pointer to a job: copies add a reference, destruction drops one.
template <typename J = PoolJob>
class JobRef {
 public:
  JobRef() = default;
  static JobRef adopt(J* job) noexcept {  // takes over a reference already counted
    JobRef r;
    r.job_ = job;
    return r;
  }
  JobRef(const JobRef& other) noexcept : job_(other.job_) {
    if (job_) job_->add_ref();
  }
  JobRef(JobRef&& other) noexcept : job_(std::exchange(other.job_, nullptr)) {}
  template <typename K>
  JobRef(const JobRef<K>& other) noexcept : job_(other.get()) {  // NOLINT(google-explicit-constructor)
    if (job_) job_->add_ref();
  }
  JobRef& operator=(JobRef other) noexcept {
    std::swap(job_, other.job_);
    return *this;
  }
  ~JobRef() {
    if (job_) job_->release();
  }
  J* get() const noexcept { return job_; }
  J* operator->() const noexcept { return job_; }
  J& operator*() const noexcept { return *job_; }
  explicit operator bool() const noexcept { return job_ != nullptr; }
  J* leak() noexcept { return std::exchange(job_, nullptr); }  // keeps the reference counted

 private:
  J* job_ = nullptr;
};

inline void PoolJob::run() {
  JobRef<> pool_ref = JobRef<>::adopt(this);
  loop->remove_pending_request();
  deliver();
}

// The pool's shared state. Awaiters keep it alive, so a cancellation that fires after the ThreadPool
// object is gone still finds a valid lock (and a job that is no longer queued).
//
// Submitting never blocks the loop on the pool's lock. A job is pushed onto `inbox`, a lock-free stack; a
// thread that holds the lock moves the inbox into `queue` (absorb_inbox_locked) before it looks at the
// queue and again as it releases the lock (release_lock), after which it looks at the inbox once more:
// a push that raced with the release is absorbed by whoever holds the lock next, or by the releaser
// itself. The submitting loop takes the lock only when a parked worker is to be woken (`can_wake`) and
// nobody holds it; the workers, which come back for work anyway, absorb everything else. Under a burst of
// submissions the loop thread therefore neither waits for the lock nor pays for waking its waiters.
struct PoolCore {
  std::string name;
  std::size_t threads = 0;
  std::size_t max_queue = 0;

  // A worker thread's parking spot. It sleeps on its own futex, outside the lock, and only once the queue
  // is empty; whoever takes it off the idle stack (under the lock) counts it in `waking` and releases it
  // after unlocking, so the woken thread does not block on the lock it was woken by. The accounting is
  // exact: no spurious wake-ups, no lost ones.
  struct Worker {
    // A binary semaphore on a futex of its own: std::binary_semaphore's acquire first spins through a
    // dozen sched_yield calls (libstdc++'s atomic wait), a system call each, before it sleeps.
    void park() noexcept;
    void unpark() noexcept;
    std::atomic<uint32_t> state{0};  // kParkIdle, kParkReleased or kParkSleeping (see thread_pool.cpp)
    Worker* next_idle = nullptr;     // guarded by mutex
  };

  // The fields a submission touches come first, each group on a cache line of its own: the inbox (written
  // by submitters, and by workers when they take it), the counts only submitters write, and `can_wake`
  // (written by workers as they park and wake). The lock and what it guards follow, on lines of their own.
  //
  // Pushed by submitting loops, newest first, linked through their PostedItem links (free until the job
  // is posted back); nullptr when empty, closed_inbox() once the pool is closed.
  alignas(64) std::atomic<PoolJob*> inbox{nullptr};
  // The bound is the jobs accepted (by submitters) minus the jobs ended (ran, cancelled or closed: `ended`,
  // below, written under the lock); `ended_seen` is a submitter's last reading of `ended` (see enqueue).
  alignas(64) std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> ended_seen{0};
  std::atomic<uint64_t> rejected{0};
  // `idle != nullptr && waking == 0`, readable without the lock: a submission may need to wake a worker.
  alignas(64) std::atomic<bool> can_wake{false};

  alignas(64) std::mutex mutex;
  IntrusiveList<PoolJob> queue;  // guarded by mutex, as everything below
  std::size_t queued = 0;
  std::size_t busy = 0;
  // At most one wake-up is in flight at a time: a worker woken for a job wakes the next one if it leaves
  // work behind, so a burst brings threads up one by one, as many as the work keeps busy, instead of a
  // futex wake (and a context switch) per submission while awake workers would have taken it anyway.
  // The stack is LIFO: the most recently parked (cache-warm) thread goes first, the others stay asleep.
  Worker* idle = nullptr;  // parked workers
  std::size_t waking = 0;  // taken off `idle` and released, not yet back under the lock
  bool closed = false;
  uint64_t submitted = 0, completed = 0, cancelled = 0;
  std::atomic<uint64_t> ended{0};
  // Written by workers outside the lock, right after they take a measured job.
  std::atomic<int64_t> last_wait_ns{0}, max_wait_ns{0};

  static PoolJob* closed_inbox() noexcept { return reinterpret_cast<PoolJob*>(alignof(PoolJob)); }
  // Whether an inbox head read as `head` has jobs to absorb (neither empty nor closed).
  static bool holds_jobs(PoolJob* head) noexcept { return head != nullptr && head != closed_inbox(); }

  // On the loop's thread: queues the job (`job` becomes the pool's reference) and holds a pending request.
  std::error_code enqueue(JobRef<> job, Loop& loop);
  // On the loop's thread: removes a job that is still queued and releases its pending request. Returns
  // false (and changes nothing) if the job already started or finished.
  bool cancel(PoolJob& job);
  void work(Worker& self) noexcept;
  // Under the lock: moves what the inbox holds (a stack of `jobs`, newest first) to the end of the queue,
  // oldest first.
  void absorb_locked(PoolJob* jobs) noexcept;
  void absorb_inbox_locked() noexcept;
  // Absorbs the inbox, picks the worker to wake (if any), unlocks, wakes it; then, if the inbox is not
  // empty and the lock is free, does it again.
  void release_lock() noexcept;
  // Under the lock: the parked worker to wake (release it after unlocking) if jobs are queued and no
  // wake-up is already on its way; else nullptr.
  Worker* wake_one_locked() noexcept;
  void count_ended_locked() noexcept {
    ended.store(ended.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void update_can_wake_locked() noexcept {
    can_wake.store(idle != nullptr && waking == 0, std::memory_order_seq_cst);
  }
  // Under the lock: takes the front job off the queue for a worker.
  PoolJob* start_locked() noexcept;
  // After start_locked, outside the lock: records the job's queue wait if it is measured.
  void record_wait(const PoolJob& job) noexcept;
  // Hands a finished job to its loop as its own completion (drops it if the loop is gone).
  static void post_completion(JobRef<> job) noexcept;
};

}  // namespace detail

// A job described but not queued: what ThreadPool::run returns, to be awaited (async/pool_run.hpp takes
// the pool and fn out of it when the co_await begins, which is when the job is queued).
template <typename F>
class [[nodiscard]] PoolRun {
 public:
  PoolRun(std::shared_ptr<detail::PoolCore> core, F fn) : core_(std::move(core)), fn_(std::move(fn)) {}
  PoolRun(PoolRun&&) noexcept = default;
  PoolRun& operator=(PoolRun&&) = delete;

  std::shared_ptr<detail::PoolCore>&& take_core() noexcept { return std::move(core_); }
  F&& take_fn() noexcept { return std::move(fn_); }

 private:
  std::shared_ptr<detail::PoolCore> core_;
  F fn_;
};

class ThreadPool {
 public:
  static constexpr std::size_t kDefaultMaxQueue = 65536;

  // `threads` of 0 is taken as 1. Threads are named "<name>-<i>" (truncated to the kernel's 15 chars).
  ThreadPool(std::string name, std::size_t threads, std::size_t max_queue = kDefaultMaxQueue);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  const std::string& name() const noexcept { return core_->name; }
  std::size_t threads() const noexcept { return core_->threads; }
  std::size_t max_queue() const noexcept { return core_->max_queue; }
  ThreadPoolMetrics metrics() const;

  // pool.run(fn) -> PoolRun: fn and this pool, nothing queued yet. `co_await pool.run(fn)` gives Result<T>
  // (waitless/async/pool_run.hpp).
  template <typename F>
  PoolRun<std::decay_t<F>> run(F&& fn) {
    return PoolRun<std::decay_t<F>>(core_, std::forward<F>(fn));
  }
  // pool.run(fn, args...): fn(args...) on the pool; the args are stored by value (decay-copied or moved
  // in) and handed to fn as rvalues.
  template <typename F, typename Arg, typename... Args>
  auto run(F&& fn, Arg&& arg, Args&&... args) {
    using B = detail::Bound<std::decay_t<F>, std::decay_t<Arg>, std::decay_t<Args>...>;
    return PoolRun<B>(core_, B(std::forward<F>(fn), std::forward<Arg>(arg), std::forward<Args>(args)...));
  }

  // Callback face, for code that is not a coroutine. Runs fn on the pool, then on_done on `loop` (call
  // this on loop's thread) as on_done(Result<T> result, std::exception_ptr exception). If fn threw,
  // `exception` holds what it threw and `result` is std::errc::state_not_recoverable. If submit() returns
  // an error (Error::queue_full, Error::closed), on_done is never called. No cancellation here: on_done
  // always runs once the job was accepted (with Error::closed if the pool is destroyed first).
  template <typename F, typename Done>
  std::error_code submit(Loop& loop, F&& fn, Done&& on_done);

 private:
  std::shared_ptr<detail::PoolCore> core_;
  std::unique_ptr<detail::PoolCore::Worker[]> parking_;  // one per thread, outlives them
  std::vector<std::thread> workers_;
};

template <typename F, typename Done>
std::error_code ThreadPool::submit(Loop& loop, F&& fn, Done&& on_done) {
  using Fn = std::decay_t<F>;
  using R = std::invoke_result_t<Fn&>;
  using OnDone = std::decay_t<Done>;
  struct Job final : detail::PoolJob {
    Job(Fn&& f, OnDone&& d) : fn(std::move(f)), done(std::move(d)) {}
    void execute() noexcept override { outcome.run(fn); }
    void deliver() override {
      std::exception_ptr exception = std::exchange(outcome.exception, nullptr);
      std::error_code status = this->status();
      if (exception && !status) status = std::make_error_code(std::errc::state_not_recoverable);
      done(outcome.take(status), std::move(exception));
    }
    Fn fn;
    OnDone done;
    detail::Outcome<R> outcome;
  };
  // The creator's reference becomes the pool's: nobody else holds the job.
  return core_->enqueue(
      detail::JobRef<>::adopt(new Job(Fn(std::forward<F>(fn)), OnDone(std::forward<Done>(on_done)))), loop);
}

namespace pools {
// File system work (waitless/fs): 4 threads.
ThreadPool& fs();
// CPU-bound work: one thread per core.
ThreadPool& cpu();
// User code that blocks (legacy clients, sleeps, synchronous libraries): 4 threads.
ThreadPool& blocking();
}  // namespace pools

}  // namespace waitless
