// Loop: one per thread; everything else in waitless runs on one.
//
// One iteration of run() goes through these phases, in this order (Node's / libuv's):
//   1. timers     expired timers, earliest deadline first, equal deadlines in start order. A timer started
//                 during this phase never runs in the same phase, so a 0 ms timer cannot starve the rest.
//   2. pending    callbacks deferred with defer() since the last pending phase, at most
//   kMaxPendingPerIteration
//                 (the rest wait for the next iteration, which then does not block in poll).
//   3. poll       waits for I/O: not at all when anything is runnable (immediates, pending callbacks, a
//   stop),
//                 else until the next timer is due, or forever when only I/O can wake the loop; then runs the
//                 ready I/O callbacks (at most Poller::kMaxEvents per iteration).
//   4. immediates set_immediate() callbacks queued before this phase began (Node's "check" phase); those
//                 queued while it runs wait for the next iteration, so one that re-queues itself cannot
//                 starve timers or I/O.
//   5. close      close callbacks of handles closed since the last close phase: the last thing the loop says
//                 about a handle.
// Microtasks (queue_microtask(), coroutine resumptions) drain after every single callback of every phase,
// as in Node: inside an I/O callback, microtasks run first, then an immediate, then a 0 ms timer.
//
// run() returns when nothing keeps the loop alive: no referenced active handle (timers, watchers, signals,
// processes...), no pending request (pool work, DNS), no queued immediate or pending/close callback.
// Exceptions never cross the loop: a callback that throws is logged and the loop goes on.
#pragma once
#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>
#include "waitless/base/source_location.hpp"

#include "waitless/base/error.hpp"
#include "waitless/base/intrusive_heap.hpp"
#include "waitless/base/intrusive_list.hpp"
#include "waitless/base/mpsc_queue.hpp"
#include "waitless/base/ring_queue.hpp"
#include "waitless/loop/poller.hpp"

namespace waitless {

class Loop;
class Timer;
class IoWatcher;

using Duration = std::chrono::nanoseconds;
using namespace std::chrono_literals;

struct HandleListTag;
struct ClosingListTag;

// Base of everything the loop tracks. A handle is active while it can produce callbacks (a started timer,
// a watched fd); an active, referenced handle keeps the loop alive. close() stops the handle at once and
// schedules its close callback for the close phase; closing twice is an error value, not a crash.
// A handle may also just be destroyed: its destructor stops it without a callback.
class Handle : public ListHook<HandleListTag>, public ListHook<ClosingListTag> {
 public:
  explicit Handle(Loop& loop) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  virtual ~Handle();

  Loop& loop() const noexcept { return *loop_; }
  void ref() noexcept;
  void unref() noexcept;
  bool has_ref() const noexcept { return ref_; }
  bool is_active() const noexcept { return active_; }
  bool is_closing() const noexcept { return closing_; }
  // Stops the handle now; on_close runs in the close phase. Returns Error::already_closing the second time.
  std::error_code close(std::function<void()> on_close = {});
  // For a handle owned by another handle (a stream's fd watcher, a process's pidfd watcher): it no longer
  // counts in Loop::handle_count(), which then reports only what users created. It still keeps the loop
  // alive while active and referenced.
  void mark_internal() noexcept;

 protected:
  void set_active(bool active) noexcept;
  // Stops whatever the handle does (leave the timer heap, the poller...). Called by close().
  virtual void on_stop() noexcept = 0;

 private:
  friend class Loop;
  Loop* loop_;
  bool active_ = false;
  bool ref_ = true;
  bool closing_ = false;
  // Boxed: most handles never get a close callback, and every connection carries a Handle (its watcher).
  std::unique_ptr<std::function<void()>> close_cb_;
};

// What the loop has measured about itself; read on the loop's thread.
struct LoopMetrics {
  uint64_t iterations = 0;
  uint64_t callbacks = 0;
  int64_t idle_ns = 0;      // time spent blocked in poll
  int64_t busy_ns = 0;      // time spent running callbacks and bookkeeping
  int64_t last_lag_ns = 0;  // how late the most recently fired timer ran
  int64_t max_lag_ns = 0;   // worst timer lateness since start (or reset)
  uint64_t exceptions = 0;  // callbacks that threw (each logged)
};

// Event-loop utilisation over an interval, as Node's performance.eventLoopUtilization().
struct LoopUtilization {
  int64_t idle_ns = 0;
  int64_t active_ns = 0;
  double utilization = 0;  // active / (active + idle)
};

// Work posted to a loop without allocating (post_item): an object of the poster's, deriving from this,
// whose link sits in the loop's post queue. The loop calls run() on its thread, in post order with the
// posted functions (what run() throws is caught and logged like theirs), or drop() instead if the loop is
// closed or destroyed first (on the thread doing so). The item belongs to the loop from post_item() until
// run() or drop() returns: either may free it.
class PostedItem : public MpscLink {
 public:
  virtual void run() = 0;
  virtual void drop() noexcept = 0;

 protected:
  PostedItem() = default;
  PostedItem(const PostedItem&) = default;
  PostedItem& operator=(const PostedItem&) = default;
  ~PostedItem() = default;
};

// Handle to post work to a loop from any thread, safe to keep after the loop is gone: post() then returns
// Error::loop_closed and drops the function (post_item() drops the item).
class LoopRemote {
 public:
  std::error_code post(std::function<void()> fn) const;
  std::error_code post_item(PostedItem& item) const;
  bool valid() const noexcept { return state_ != nullptr; }

 private:
  friend class Loop;
  struct State;
  std::shared_ptr<State> state_;
};

class Loop {
 public:
  static constexpr int kMaxPendingPerIteration = 1024;

  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // This thread's loop: the one running now (inside run(), run_once() or a Scope), else the thread's
  // default loop, created on first use and destroyed at thread exit. So a Timer, Signal or Task made
  // without naming a loop, from code that runs on a loop, lands on that loop.
  static Loop& current();
  // The loop running on this thread right now, or nullptr.
  static Loop* running() noexcept;
  // Makes `loop` the running loop for a scope (run() and run_once() do this themselves).
  class Scope {
   public:
    explicit Scope(Loop& loop) noexcept;
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Loop* outer_;
  };

  // Runs until nothing keeps the loop alive or stop() was called. Returns true if still alive (stopped).
  bool run();
  // One iteration; blocks in poll only if nothing else is runnable. Returns whether the loop is still alive.
  bool run_once();
  // One iteration that never blocks.
  bool run_nowait();
  // Makes run() return after the current iteration. Safe from callbacks; from another thread, post() it.
  void stop() noexcept { stop_ = true; }
  void clear_stop() noexcept { stop_ = false; }
  bool alive() const noexcept;

  // Monotonic time in nanoseconds, cached at the start of each iteration and after poll.
  int64_t now() const noexcept { return now_; }
  void update_time() noexcept;

  // Node's setImmediate / clearImmediate. Ids are never reused; clearing an unknown or run id is a no-op
  // that returns false.
  uint64_t set_immediate(std::function<void()> fn, SourceLocation where = SourceLocation::current());
  bool clear_immediate(uint64_t id) noexcept;
  // Node's queueMicrotask: runs after the current callback, before anything else.
  void queue_microtask(std::function<void()> fn);
  // A coroutine resumption as a microtask (no allocation). A waitless Task whose frame is destroyed
  // before its queued resumption runs withdraws it (forget_resume), so a cancelled-then-destroyed task is
  // never resumed; other coroutine types must outlive their queued resumption.
  void queue_resume(std::coroutine_handle<> h);
  void forget_resume(std::coroutine_handle<> h) noexcept;
  bool has_microtasks() const noexcept { return !microtasks_.empty(); }
  // Runs fn in the next iteration's pending phase (for I/O completions that must not run re-entrantly).
  void defer(std::function<void()> fn);

  // From any thread: queue fn to run on this loop, in the order posted (per posting thread). Lock-free
  // (base/mpsc_queue.hpp); work posted in a burst is drained in one go after one eventfd write. Posted work
  // alone does not keep the loop alive (hold a pending request for that).
  std::error_code post(std::function<void()> fn) const;
  // The same for an item of the poster's: queued without allocation (see PostedItem).
  std::error_code post_item(PostedItem& item) const;
  LoopRemote remote() const;

  // Requests in flight elsewhere (thread pool jobs, DNS queries) keep the loop alive.
  void add_pending_request() noexcept { ++pending_requests_; }
  void remove_pending_request() noexcept { --pending_requests_; }
  uint64_t pending_requests() const noexcept { return pending_requests_; }

  Poller& poller() noexcept { return poller_; }
  const LoopMetrics& metrics() const noexcept { return metrics_; }
  // Utilisation since `since` (pass the previous result for a delta), as Node's eventLoopUtilization.
  LoopUtilization utilization(const LoopUtilization& since = {}) const noexcept;
  std::size_t handle_count() const noexcept { return handles_.size(); }
  std::size_t active_handle_count() const noexcept { return active_refs_; }
  std::size_t timer_count() const noexcept { return timers_.size(); }
  std::thread::id thread_id() const noexcept { return thread_id_; }

  // For the watchdog, readable from any thread: `seq` counts callback starts and ends (odd while a callback
  // runs), `where` is where that callback was registered. A watchdog that sees the same odd seq for longer
  // than its threshold has found a callback blocking the loop. The loop itself reads no clock for this.
  // `where` is consistent with `seq` when two reads return the same seq.
  struct Running {
    uint64_t seq;
    SourceLocation where;
    bool in_callback() const noexcept { return seq & 1; }
  };
  Running running_callback() const noexcept;

  // Runs one user callback: records it for the watchdog, catches exceptions, drains microtasks after.
  template <typename F>
  void invoke(F&& f, const SourceLocation& where) noexcept {
    begin_callback(where);
    try {
      f();
    } catch (...) {
      report_exception(where);
    }
    if (!microtasks_.empty()) drain_microtasks();
    end_callback();
  }
  void drain_microtasks() noexcept;

 private:
  friend class Handle;
  friend class Timer;
  struct Immediate {
    uint64_t id;
    std::function<void()> fn;
    SourceLocation where;
  };
  struct Microtask {
    std::coroutine_handle<> coro;
    std::function<void()> fn;
  };

  void run_timers() noexcept;
  void run_pending() noexcept;
  void run_poll() noexcept;
  void run_immediates() noexcept;
  void run_closing() noexcept;
  int poll_timeout() const noexcept;
  void drain_posted() noexcept;
  void begin_callback(const SourceLocation& where) noexcept;
  void end_callback() noexcept;
  void report_exception(const SourceLocation& where) noexcept;

  Poller poller_;
  std::thread::id thread_id_;
  int64_t now_ = 0;
  int64_t started_ns_ = 0;
  int64_t next_trim_ns_ = 0;  // when this loop next trims its thread's block cache (base/block_cache.hpp)
  bool stop_ = false;
  std::size_t active_refs_ = 0;
  uint64_t pending_requests_ = 0;

  IntrusiveHeap timers_;
  uint64_t timer_seq_ = 0;

  std::vector<Immediate> immediates_;      // queued for the next check phase
  std::vector<Immediate> immediates_run_;  // being run (swap target; keeps its capacity)
  uint64_t next_immediate_id_ = 1;

  RingQueue<Microtask> microtasks_;
  RingQueue<std::function<void()>> pending_;

  IntrusiveList<Handle, HandleListTag> handles_;
  IntrusiveList<Handle, ClosingListTag> closing_;

  std::shared_ptr<LoopRemote::State> posted_;
  std::unique_ptr<IoWatcher> post_watcher_;

  LoopMetrics metrics_;
  int64_t poll_ended_ = 0;  // when the last poll returned: busy time counts from there
  uint64_t cb_seq_local_ = 0;
  int callback_depth_ = 0;
  std::atomic<uint64_t> cb_seq_{0};
  std::atomic<const char*> cb_file_{""};
  std::atomic<uint32_t> cb_line_{0};
};

}  // namespace waitless
