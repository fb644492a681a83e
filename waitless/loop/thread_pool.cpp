#include "waitless/loop/thread_pool.hpp"

#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

namespace waitless {
namespace detail {
namespace {

int64_t steady_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr uint32_t kParkIdle = 0, kParkReleased = 1, kParkSleeping = 2;

void park_futex(std::atomic<uint32_t>& word, int op, uint32_t value) noexcept {
  (void)syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), op | FUTEX_PRIVATE_FLAG, value, nullptr,
                nullptr, 0);
}

}  // namespace

// One parker (the worker) and at most one unpark per park (the pool's accounting), so three states do:
// the worker sleeps only after announcing it (kParkSleeping), and only then does unpark() make a system call.
void PoolCore::Worker::park() noexcept {
  for (;;) {
    uint32_t seen = kParkReleased;
    if (state.compare_exchange_strong(seen, kParkIdle, std::memory_order_acquire)) return;  // consumed
    // kParkIdle: announce the sleep (unless released meanwhile); kParkSleeping: woken spuriously.
    if (seen == kParkIdle && !state.compare_exchange_strong(seen, kParkSleeping, std::memory_order_relaxed)) {
      continue;
    }
    park_futex(state, FUTEX_WAIT, kParkSleeping);  // returns at once if no longer kParkSleeping
  }
}

void PoolCore::Worker::unpark() noexcept {
  if (state.exchange(kParkReleased, std::memory_order_release) == kParkSleeping)
    park_futex(state, FUTEX_WAKE, 1);
}

std::error_code PoolCore::enqueue(JobRef<> job, Loop& loop) {
  job->loop = &loop;
  job->remote = loop.remote();
  // Read outside the lock, and only for the jobs whose queue wait is measured: those that find every
  // thread busy (see ThreadPoolMetrics).
  thread_local unsigned t_unmeasured = 0;
  int64_t now_ns = PoolJob::kNotSampled;
  const std::size_t outstanding = outstanding_hint.load(std::memory_order_relaxed);
  if (outstanding < threads) {
    now_ns = PoolJob::kFoundThreadFree;
  } else if (outstanding < threads + ThreadPoolMetrics::kMeasureAllBelow ||
             ++t_unmeasured >= ThreadPoolMetrics::kMeasureEvery) {
    t_unmeasured = 0;
    now_ns = steady_ns();
  }
  Worker* wake = nullptr;
  {
    std::lock_guard lock(mutex);
    if (closed) return Error::closed;
    // Outstanding = waiting + running. Counting both makes the bound exact from the loop's point of view,
    // whatever the workers have picked up yet.
    if (queued + busy >= threads + max_queue) {
      ++rejected;
      return Error::queue_full;
    }
    job->state = PoolJob::State::queued;
    job->enqueued_ns = now_ns;
    queue.push_back(*job.leak());  // the queue holds the pool's reference
    ++queued;
    update_hints_locked();
    ++submitted;
    wake = wake_one_locked();
  }
  if (wake) wake->unpark();
  // The completion can only run on this (busy) thread, so holding the request after the push is safe.
  loop.add_pending_request();
  return {};
}

PoolCore::Worker* PoolCore::wake_one_locked() noexcept {
  if (waking != 0 || idle == nullptr || queue.empty()) return nullptr;
  Worker* w = std::exchange(idle, idle->next_idle);
  ++waking;
  return w;
}

PoolJob* PoolCore::start_locked() noexcept {
  PoolJob* job = queue.pop_front();
  --queued;
  ++busy;
  update_hints_locked();
  job->state = PoolJob::State::running;
  return job;
}

void PoolCore::record_wait(const PoolJob& job) noexcept {
  if (job.enqueued_ns == PoolJob::kNotSampled) return;
  if (job.enqueued_ns == PoolJob::kFoundThreadFree) {
    // A pool that was saturated and no longer is reads 0 again (a load first, so that workers do not
    // write the shared line on every job).
    if (last_wait_ns.load(std::memory_order_relaxed) != 0) last_wait_ns.store(0, std::memory_order_relaxed);
    return;
  }
  const int64_t wait = steady_ns() - job.enqueued_ns;
  last_wait_ns.store(wait, std::memory_order_relaxed);
  int64_t max = max_wait_ns.load(std::memory_order_relaxed);
  while (wait > max && !max_wait_ns.compare_exchange_weak(max, wait, std::memory_order_relaxed)) {
  }
}

bool PoolCore::cancel(PoolJob& job) {
  {
    std::lock_guard lock(mutex);
    if (job.state != PoolJob::State::queued) return false;
    queue.remove(job);
    --queued;
    update_hints_locked();
    ++cancelled;
    job.state = PoolJob::State::finished;
  }
  job.loop->remove_pending_request();
  job.release();  // the pool's reference, after the lock (the caller holds another one)
  return true;
}

void PoolCore::post_completion(JobRef<> job) noexcept {
  // Posted through the job's own remote, not a copy: copying would make the count shared by every
  // remote of the loop bounce between the workers and the loop thread on each job. Safe although the job
  // (and the remote in it) may be gone before post_item() returns: it reads the remote before the push,
  // and a loop being destroyed waits for posters still inside it. The pool's reference goes with the job;
  // if the loop is gone, post_item() drops it.
  PoolJob* j = job.leak();
  (void)j->remote.post_item(*j);
}

void PoolCore::work(Worker& self) noexcept {
  std::unique_lock lock(mutex);
  for (;;) {
    if (queue.empty()) {
      if (closed) return;  // the destructor took what was queued
      self.next_idle = idle;
      idle = &self;
      lock.unlock();
      self.park();
      lock.lock();
      --waking;  // whoever took us off the stack counted us
      continue;
    }
    PoolJob* job = start_locked();
    Worker* next = wake_one_locked();  // more work than this thread: bring up another one
    lock.unlock();
    if (next) next->unpark();
    record_wait(*job);
    // While the queue has work, one lock per job: finishing a job and taking the next share it.
    while (job) {
      JobRef<> ref = JobRef<>::adopt(job);  // the pool's reference, from the queue
      ref->execute();
      lock.lock();
      --busy;
      ++completed;
      ref->state = PoolJob::State::finished;
      job = queue.empty() ? nullptr : start_locked();
      if (!job) update_hints_locked();
      next = job ? wake_one_locked() : nullptr;
      lock.unlock();
      if (next) next->unpark();
      if (job) record_wait(*job);
      // Counters first, then the completion: whoever awaits the result sees the metrics already updated.
      post_completion(std::move(ref));
    }
    lock.lock();
  }
}

}  // namespace detail

ThreadPool::ThreadPool(std::string name, std::size_t threads, std::size_t max_queue)
    : core_(std::make_shared<detail::PoolCore>()) {
  core_->name = std::move(name);
  core_->threads = std::max<std::size_t>(threads, 1);
  core_->max_queue = max_queue;
  parking_ = std::make_unique<detail::PoolCore::Worker[]>(core_->threads);
  workers_.reserve(core_->threads);
  for (std::size_t i = 0; i < core_->threads; ++i) {
    workers_.emplace_back([core = core_.get(), self = &parking_[i], i] {
      std::string thread_name = core->name + "-" + std::to_string(i);
      thread_name.resize(std::min<std::size_t>(thread_name.size(), 15));  // the kernel's limit
      pthread_setname_np(pthread_self(), thread_name.c_str());
      core->work(*self);
    });
  }
}

ThreadPool::~ThreadPool() {
  std::vector<detail::JobRef<>> dropped;
  std::vector<detail::PoolCore::Worker*> parked;
  {
    std::lock_guard lock(core_->mutex);
    core_->closed = true;
    while (detail::PoolJob* job = core_->queue.pop_front()) {
      --core_->queued;
      core_->update_hints_locked();
      job->state = detail::PoolJob::State::finished;
      job->fate = detail::PoolJob::Fate::closed;
      dropped.push_back(detail::JobRef<>::adopt(job));
    }
    // Every parked worker wakes to see `closed`; the others see it when they find the queue empty.
    while (core_->idle) {
      parked.push_back(std::exchange(core_->idle, core_->idle->next_idle));
      ++core_->waking;
    }
  }
  for (detail::PoolCore::Worker* w : parked) w->unpark();
  for (std::thread& t : workers_) {
    // exit() called inside a job runs the default pools' destructors on that worker: it cannot join itself.
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();
    } else {
      t.join();
    }
  }
  // Each loop learns the fate of its jobs (and releases their pending requests) through its own queue.
  for (auto& job : dropped) detail::PoolCore::post_completion(std::move(job));
}

ThreadPoolMetrics ThreadPool::metrics() const {
  std::lock_guard lock(core_->mutex);
  ThreadPoolMetrics m;
  m.threads = core_->threads;
  m.max_queue = core_->max_queue;
  m.queue_depth = core_->queued;
  m.busy_threads = core_->busy;
  m.submitted = core_->submitted;
  m.completed = core_->completed;
  m.rejected = core_->rejected;
  m.cancelled = core_->cancelled;
  m.last_queue_wait_ns = core_->last_wait_ns.load(std::memory_order_relaxed);
  m.max_queue_wait_ns = core_->max_wait_ns.load(std::memory_order_relaxed);
  return m;
}

namespace pools {

// Function-local statics: built on first use, destroyed (threads joined) at process exit.
ThreadPool& fs() {
  static ThreadPool pool("fs", 4);
  return pool;
}

ThreadPool& cpu() {
  static ThreadPool pool("cpu", std::max(1u, std::thread::hardware_concurrency()));
  return pool;
}

ThreadPool& blocking() {
  static ThreadPool pool("blocking", 4);
  return pool;
}

}  // namespace pools
}  // namespace waitless
