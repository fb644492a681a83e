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
  if (inbox.load(std::memory_order_relaxed) == closed_inbox()) return Error::closed;
  // The bound counts jobs waiting and running: accepted minus ended. `ended` is written by the workers on
  // every job, so it is read only when the count from the last reading says every thread may be busy:
  // per job near the thread count (where the queue wait is measured job by job) and at the bound (before
  // refusing), every kMeasureEvery jobs in between. A stale reading only overstates the count.
  const uint64_t before = accepted.fetch_add(1, std::memory_order_relaxed);
  int64_t outstanding = static_cast<int64_t>(before - ended_seen.load(std::memory_order_relaxed));
  thread_local unsigned t_unread = 0;
  const auto busy_threads = static_cast<int64_t>(threads);
  const auto bound = static_cast<int64_t>(threads + max_queue);
  if (outstanding >= busy_threads &&
      (outstanding < busy_threads + int64_t{ThreadPoolMetrics::kMeasureAllBelow} || outstanding >= bound ||
       ++t_unread >= ThreadPoolMetrics::kMeasureEvery)) {
    t_unread = 0;
    const uint64_t e = ended.load(std::memory_order_relaxed);
    ended_seen.store(e, std::memory_order_relaxed);
    outstanding = std::max<int64_t>(static_cast<int64_t>(before - e), 0);
  }
  if (outstanding >= bound) {
    accepted.fetch_sub(1, std::memory_order_relaxed);
    rejected.fetch_add(1, std::memory_order_relaxed);
    return Error::queue_full;
  }
  job->loop = &loop;
  job->remote = loop.remote();
  job->state = PoolJob::State::queued;
  // The clock is read only for the jobs whose queue wait is measured: those that find every thread busy
  // (see ThreadPoolMetrics).
  job->enqueued_ns = PoolJob::kNotSampled;
  if (outstanding < busy_threads) {
    job->enqueued_ns = PoolJob::kFoundThreadFree;
  } else if (outstanding < busy_threads + int64_t{ThreadPoolMetrics::kMeasureAllBelow} || t_unread == 0) {
    job->enqueued_ns = steady_ns();
  }
  PoolJob* raw = job.leak();  // the inbox, then the queue, hold the pool's reference
  PoolJob* head = inbox.load(std::memory_order_relaxed);
  do {
    if (head == closed_inbox()) {
      accepted.fetch_sub(1, std::memory_order_relaxed);
      JobRef<>::adopt(raw);  // dropped: never queued
      return Error::closed;
    }
    raw->mpsc_next = head;
  } while (!inbox.compare_exchange_weak(head, raw, std::memory_order_seq_cst, std::memory_order_relaxed));
  // The completion can only run on this (busy) thread, so holding the request after the push is safe.
  loop.add_pending_request();
  // Awake workers absorb the inbox when they come back for work. Only a parked one needs the lock taken
  // for it; if somebody holds the lock, their release_lock absorbs this job (the push above comes first,
  // and a release looks at the inbox after it unlocks).
  if (can_wake.load(std::memory_order_seq_cst) && mutex.try_lock()) release_lock();
  return {};
}

void PoolCore::absorb_locked(PoolJob* jobs) noexcept {
  PoolJob* oldest_first = nullptr;
  std::size_t n = 0;
  while (jobs) {
    auto* next = static_cast<PoolJob*>(jobs->mpsc_next);
    jobs->mpsc_next = oldest_first;
    oldest_first = jobs;
    jobs = next;
    ++n;
  }
  for (PoolJob* j = oldest_first; j; j = static_cast<PoolJob*>(j->mpsc_next)) queue.push_back(*j);
  queued += n;
  submitted += n;
}

void PoolCore::absorb_inbox_locked() noexcept {
  // closed_inbox() is only set under the lock: it cannot appear between this load and the exchange.
  if (!holds_jobs(inbox.load(std::memory_order_relaxed))) return;
  absorb_locked(inbox.exchange(nullptr, std::memory_order_acquire));
}

void PoolCore::release_lock() noexcept {
  for (;;) {
    if (queue.empty()) absorb_inbox_locked();
    Worker* wake = wake_one_locked();
    mutex.unlock();
    if (wake) wake->unpark();
    // A submitter pushes, then reads `can_wake`; this reads `can_wake`, then the inbox (all seq_cst):
    // either it saw `can_wake` set (and tried the lock itself, failing only while someone held it), or
    // this sees its job. With no worker to wake, the awake ones absorb the job when they come back.
    if (!can_wake.load(std::memory_order_seq_cst)) return;
    if (!holds_jobs(inbox.load(std::memory_order_seq_cst)) || !mutex.try_lock()) return;
  }
}

PoolCore::Worker* PoolCore::wake_one_locked() noexcept {
  if (waking != 0 || idle == nullptr || queue.empty()) return nullptr;
  Worker* w = std::exchange(idle, idle->next_idle);
  ++waking;
  update_can_wake_locked();
  return w;
}

PoolJob* PoolCore::start_locked() noexcept {
  PoolJob* job = queue.pop_front();
  --queued;
  ++busy;
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
  mutex.lock();
  absorb_inbox_locked();  // a job still in the inbox is queued too
  if (job.state != PoolJob::State::queued) {
    release_lock();
    return false;
  }
  queue.remove(job);
  --queued;
  ++cancelled;
  count_ended_locked();
  job.state = PoolJob::State::finished;
  release_lock();
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
  mutex.lock();
  for (;;) {
    // The inbox holds newer jobs than the queue: it is absorbed when the queue runs dry, so that while
    // there is work the workers leave its cache line to the submitters.
    if (queue.empty()) absorb_inbox_locked();
    if (queue.empty()) {
      if (closed) {  // the destructor took what was queued
        mutex.unlock();
        return;
      }
      self.next_idle = idle;
      idle = &self;
      update_can_wake_locked();
      release_lock();  // may take us off the stack at once, if a job came in meanwhile
      self.park();
      mutex.lock();
      --waking;  // whoever took us off the stack counted us
      update_can_wake_locked();
      continue;
    }
    PoolJob* job = start_locked();
    release_lock();  // wakes another worker if work is left behind
    record_wait(*job);
    // While the queue has work, one lock per job: finishing a job and taking the next share it.
    while (job) {
      JobRef<> ref = JobRef<>::adopt(job);  // the pool's reference, from the queue
      ref->execute();
      mutex.lock();
      --busy;
      ++completed;
      count_ended_locked();
      ref->state = PoolJob::State::finished;
      if (queue.empty()) absorb_inbox_locked();
      job = queue.empty() ? nullptr : start_locked();
      release_lock();
      if (job) record_wait(*job);
      // Counters first, then the completion: whoever awaits the result sees the metrics already updated.
      post_completion(std::move(ref));
    }
    mutex.lock();
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
    // From here on a submission finds the inbox closed and fails with Error::closed.
    core_->absorb_locked(core_->inbox.exchange(detail::PoolCore::closed_inbox(), std::memory_order_acquire));
    while (detail::PoolJob* job = core_->queue.pop_front()) {
      --core_->queued;
      core_->count_ended_locked();
      job->state = detail::PoolJob::State::finished;
      job->fate = detail::PoolJob::Fate::closed;
      dropped.push_back(detail::JobRef<>::adopt(job));
    }
    // Every parked worker wakes to see `closed`; the others see it when they find the queue empty.
    while (core_->idle) {
      parked.push_back(std::exchange(core_->idle, core_->idle->next_idle));
      ++core_->waking;
    }
    core_->update_can_wake_locked();
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
  ThreadPoolMetrics m;
  core_->mutex.lock();
  core_->absorb_inbox_locked();
  m.threads = core_->threads;
  m.max_queue = core_->max_queue;
  m.queue_depth = core_->queued;
  m.busy_threads = core_->busy;
  m.submitted = core_->submitted;
  m.completed = core_->completed;
  m.cancelled = core_->cancelled;
  core_->release_lock();
  m.rejected = core_->rejected.load(std::memory_order_relaxed);
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
