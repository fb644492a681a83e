#include "waitless/loop/loop.hpp"

#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <exception>
#include <limits>
#include <thread>
#include <type_traits>

#include "waitless/base/block_cache.hpp"
#include "waitless/base/clock.hpp"
#include "waitless/base/error.hpp"
#include "waitless/base/log.hpp"
#include "waitless/base/mpsc_queue.hpp"
#include "waitless/loop/io_watcher.hpp"
#include "waitless/loop/timer.hpp"

namespace waitless {

namespace {

thread_local Loop* t_running = nullptr;

}  // namespace

// ---- cross-thread post ----------------------------------------------------------------------------------

// Shared between the loop and every LoopRemote: a lock-free queue (base/mpsc_queue.hpp) and the eventfd
// that wakes the loop, written once per batch by the poster that found the queue empty.
//
// The thread pool posts through the remote inside the job it hands over, which the loop may run and free
// before post() returns: so after its push a poster touches the State only to write the eventfd, and the
// loop's destructor (close()) waits for such writes before it closes the fd and drops the State.
struct LoopRemote::State {
  using Queue = MpscQueue<std::function<void()>, PostedItem>;
  Queue queue;
  int eventfd = -1;

  std::error_code post(std::function<void()> fn) { return pushed(queue.push(std::move(fn))); }
  std::error_code post_item(PostedItem& item) {
    const Queue::Push r = queue.push_item(item);
    if (r == Queue::Push::closed) item.drop();
    return pushed(r);
  }
  // After a push: the first of a batch wakes the loop.
  std::error_code pushed(Queue::Push push) {
    switch (push) {
      case Queue::Push::closed:
        return Error::loop_closed;
      case Queue::Push::queued:
        return {};
      case Queue::Push::first:
        break;
    }
    uint64_t one = 1;
    ssize_t r;
    do r = ::write(eventfd, &one, sizeof one);
    while (r < 0 && errno == EINTR);
    queue.end_wake();
    return {};
  }

  // On the loop's thread, when it is destroyed: refuses further posts, waits for the eventfd writes under
  // way and drops what was queued. After it returns, no poster touches the State.
  void close() noexcept { queue.close(); }
};

std::error_code LoopRemote::post(std::function<void()> fn) const {
  if (!state_) return Error::loop_closed;
  return state_->post(std::move(fn));
}

std::error_code LoopRemote::post_item(PostedItem& item) const {
  // The item may hold this remote and be freed by the loop before the push returns: read state_ first.
  State* state = state_.get();
  if (!state) {
    item.drop();
    return Error::loop_closed;
  }
  return state->post_item(item);
}

// ---- Handle ---------------------------------------------------------------------------------------------

Handle::Handle(Loop& loop) noexcept : loop_(&loop) { loop.handles_.push_back(*this); }

void Handle::mark_internal() noexcept { static_cast<ListHook<HandleListTag>&>(*this).unlink_from_list(); }

Handle::~Handle() {
  set_active(false);
  // The hooks unlink themselves: a destroyed handle leaves the handle list and any pending close.
}

void Handle::ref() noexcept {
  if (ref_) return;
  ref_ = true;
  if (active_) ++loop_->active_refs_;
}

void Handle::unref() noexcept {
  if (!ref_) return;
  ref_ = false;
  if (active_) --loop_->active_refs_;
}

void Handle::set_active(bool active) noexcept {
  if (active == active_) return;
  active_ = active;
  if (ref_) active ? ++loop_->active_refs_ : --loop_->active_refs_;
}

std::error_code Handle::close(std::function<void()> on_close) {
  if (closing_) return Error::already_closing;
  closing_ = true;
  on_stop();
  set_active(false);
  if (on_close) close_cb_ = std::make_unique<std::function<void()>>(std::move(on_close));
  loop_->closing_.push_back(*this);
  return {};
}

// ---- Loop -----------------------------------------------------------------------------------------------

Loop::Loop() : thread_id_(std::this_thread::get_id()) {
  now_ = started_ns_ = monotonic_ns();
  posted_ = std::make_shared<LoopRemote::State>();
  posted_->eventfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  post_watcher_ = std::make_unique<IoWatcher>(*this, posted_->eventfd, [this](unsigned) { drain_posted(); });
  post_watcher_->unref();  // posted work alone does not keep the loop alive
  (void)post_watcher_->start(io::readable);
  post_watcher_->mark_internal();
}

Loop::~Loop() {
  posted_->close();
  post_watcher_.reset();
  ::close(posted_->eventfd);
  if (!handles_.empty()) log::debug("loop destroyed with {} open handle(s)", handles_.size());
  closing_.clear();
  handles_.clear();
}

Loop& Loop::current() {
  if (t_running) return *t_running;
  thread_local Loop default_loop;
  return default_loop;
}

Loop* Loop::running() noexcept { return t_running; }

Loop::Scope::Scope(Loop& loop) noexcept : outer_(t_running) {
  t_running = &loop;
  detail::block_cache_enter_loop();
}
Loop::Scope::~Scope() {
  t_running = outer_;
  detail::block_cache_leave_loop();
}

void Loop::update_time() noexcept { now_ = monotonic_ns(); }

bool Loop::alive() const noexcept {
  return active_refs_ > 0 || pending_requests_ > 0 || !immediates_.empty() || !pending_.empty() ||
         !closing_.empty() || !microtasks_.empty();
}

bool Loop::run() {
  stop_ = false;
  bool still = alive();
  while (still && !stop_) still = run_once();
  stop_ = false;
  return still;
}

bool Loop::run_nowait() {
  stop_ = true;  // makes poll_timeout() zero
  bool still = run_once();
  stop_ = false;
  return still;
}

bool Loop::run_once() {
  Scope scope(*this);
  update_time();
  if (now_ >= next_trim_ns_) {
    detail::trim_block_cache();
    next_trim_ns_ = now_ + detail::kTrimPeriodNs;
  }
  if (!microtasks_.empty()) drain_microtasks();  // work queued before run() (e.g. by a spawn) goes first
  run_timers();
  run_pending();
  run_poll();
  run_immediates();
  run_closing();
  ++metrics_.iterations;
  return alive();
}

int Loop::poll_timeout() const noexcept {
  if (stop_ || !immediates_.empty() || !pending_.empty() || !closing_.empty() || !microtasks_.empty())
    return 0;
  if (active_refs_ == 0 && pending_requests_ == 0)
    return 0;  // nothing can wake us: just collect what's ready
  HeapNode* next = timers_.top();
  if (!next) return -1;
  int64_t wait_ns = next->key - now_;
  if (wait_ns <= 0) return 0;
  // Round up so a timer is never woken early (and then spun on).
  int64_t ms = (wait_ns + 999'999) / 1'000'000;
  return static_cast<int>(std::min<int64_t>(ms, 24LL * 3600 * 1000));
}

void Loop::run_timers() noexcept {
  // Only timers that existed when the phase began may fire: a timer (re)started by a callback here has a
  // larger seq, and equal-or-later deadline, so it sorts after every timer that may still fire now.
  const uint64_t seq_limit = timer_seq_;
  while (HeapNode* top = timers_.top()) {
    if (top->key > now_ || top->seq >= seq_limit) break;
    static_cast<Timer*>(top)->fire();
  }
}

void Loop::run_pending() noexcept {
  for (int i = 0; i < kMaxPendingPerIteration && !pending_.empty(); ++i) {
    auto fn = pending_.pop();
    invoke(fn, SourceLocation::current());
  }
}

void Loop::run_poll() noexcept {
  int timeout = poll_timeout();
  // A non-blocking poll is busy time: skip the clock read before it (one syscall-free read saved per
  // iteration under load); a blocking poll is measured as idle time.
  int64_t last_end = poll_ended_ ? poll_ended_ : started_ns_;
  int64_t before = timeout != 0 ? monotonic_ns() : 0;
  int n = poller_.wait(timeout);
  // A non-blocking poll that found nothing took about a microsecond: the clock read at the start of the
  // iteration stands (one clock read saved per idle spin of run_nowait, 2 % of its cost).
  if (timeout != 0 || n > 0) update_time();
  if (timeout != 0) {
    metrics_.idle_ns += now_ - before;
    metrics_.busy_ns += before - last_end;
  } else {
    metrics_.busy_ns += now_ - last_end;
  }
  poll_ended_ = now_;
  for (int i = 0; i < n; ++i) {
    Poller::Event& ev = poller_.event(i);
    if (!ev.data) continue;  // its watcher was stopped earlier in this batch
    static_cast<IoWatcher*>(ev.data)->dispatch(ev.events);
  }
}

void Loop::run_immediates() noexcept {
  if (immediates_.empty()) return;
  immediates_run_.swap(immediates_);
  for (Immediate& im : immediates_run_) {
    if (!im.fn) continue;  // cleared
    auto fn = std::move(im.fn);
    invoke(fn, im.where);
  }
  immediates_run_.clear();
}

void Loop::run_closing() noexcept {
  while (Handle* h = closing_.pop_front()) {
    auto cb = std::move(h->close_cb_);
    // From here on the handle may be destroyed by its own close callback.
    if (cb) invoke(*cb, SourceLocation::current());
  }
}

uint64_t Loop::set_immediate(std::function<void()> fn, SourceLocation where) {
  uint64_t id = next_immediate_id_++;
  immediates_.push_back(Immediate{id, std::move(fn), where});
  return id;
}

bool Loop::clear_immediate(uint64_t id) noexcept {
  for (auto* list : {&immediates_, &immediates_run_}) {
    for (Immediate& im : *list) {
      if (im.id == id && im.fn) {
        im.fn = nullptr;
        return true;
      }
    }
  }
  return false;
}

void Loop::queue_microtask(std::function<void()> fn) { microtasks_.push(Microtask{{}, std::move(fn)}); }

void Loop::queue_resume(std::coroutine_handle<> h) { microtasks_.push(Microtask{h, {}}); }

void Loop::forget_resume(std::coroutine_handle<> h) noexcept {
  microtasks_.for_each([h](Microtask& m) {
    if (m.coro == h) m.coro = nullptr;
  });
}

void Loop::defer(std::function<void()> fn) { pending_.push(std::move(fn)); }

std::error_code Loop::post(std::function<void()> fn) const { return posted_->post(std::move(fn)); }

std::error_code Loop::post_item(PostedItem& item) const { return posted_->post_item(item); }

LoopRemote Loop::remote() const {
  LoopRemote r;
  r.state_ = posted_;
  return r;
}

void Loop::drain_posted() noexcept {
  // Read the eventfd before draining: a batch begun after the drain writes it again and is not missed.
  uint64_t count;
  while (::read(posted_->eventfd, &count, sizeof count) < 0 && errno == EINTR) {
  }
  // The batch is one callback for the watchdog; microtasks still drain after each function.
  begin_callback(SourceLocation::current());
  posted_->queue.drain([this](auto& posted) noexcept {
    try {
      if constexpr (std::is_same_v<std::decay_t<decltype(posted)>, PostedItem>) {
        posted.run();
      } else {
        posted();
      }
    } catch (...) {
      report_exception(SourceLocation::current());
    }
    if (!microtasks_.empty()) drain_microtasks();
  });
  end_callback();
}

void Loop::drain_microtasks() noexcept {
  while (!microtasks_.empty()) {
    Microtask m = microtasks_.pop();
    try {
      if (m.coro) {
        m.coro.resume();
      } else if (m.fn) {
        m.fn();
      }  // else: a resumption withdrawn by its destroyed frame
    } catch (...) {
      report_exception(SourceLocation::current());
    }
  }
}

void Loop::begin_callback(const SourceLocation& where) noexcept {
  ++metrics_.callbacks;
  // Only the outermost callback is what the watchdog sees: a nested invoke (a callback dispatching another)
  // keeps the odd/even sequence intact.
  if (callback_depth_++ != 0) return;
  cb_file_.store(where.file_name(), std::memory_order_release);
  cb_line_.store(where.line(), std::memory_order_release);
  cb_seq_.store(++cb_seq_local_, std::memory_order_release);
}

void Loop::end_callback() noexcept {
  if (--callback_depth_ != 0) return;
  cb_seq_.store(++cb_seq_local_, std::memory_order_release);
}

Loop::Running Loop::running_callback() const noexcept {
  uint64_t seq = cb_seq_.load(std::memory_order_acquire);
  const char* file = cb_file_.load(std::memory_order_acquire);
  uint32_t line = cb_line_.load(std::memory_order_acquire);
  return Running{seq, SourceLocation::current(file, line)};
}

void Loop::report_exception(const SourceLocation& where) noexcept {
  ++metrics_.exceptions;
  try {
    throw;
  } catch (const std::exception& e) {
    log::error("callback from {}:{} threw: {}", where.file_name(), where.line(), e.what());
  } catch (...) {
    log::error("callback from {}:{} threw a non-std exception", where.file_name(), where.line());
  }
}

LoopUtilization Loop::utilization(const LoopUtilization& since) const noexcept {
  LoopUtilization u;
  u.idle_ns = metrics_.idle_ns;
  u.active_ns = metrics_.busy_ns + (monotonic_ns() - (poll_ended_ ? poll_ended_ : started_ns_));
  int64_t idle = u.idle_ns - since.idle_ns, active = u.active_ns - since.active_ns;
  u.utilization = idle + active > 0 ? static_cast<double>(active) / static_cast<double>(idle + active) : 0;
  return u;
}

// ---- Timer ----------------------------------------------------------------------------------------------

std::error_code Timer::start(Duration timeout, std::function<void()> cb, Duration repeat,
                             SourceLocation where) {
  if (is_closing()) return Error::closed;
  cb_ = std::move(cb);
  repeat_ = repeat.count();
  where_ = where;
  schedule(std::max<int64_t>(timeout.count(), 0));
  return {};
}

void Timer::schedule(int64_t timeout_ns) noexcept {
  Loop& l = loop();
  l.timers_.remove(*this);
  // Saturate: a huge timeout (Duration::max()) means "never", not a wrapped deadline in the past.
  key = timeout_ns > std::numeric_limits<int64_t>::max() - l.now_ ? std::numeric_limits<int64_t>::max()
                                                                  : l.now_ + timeout_ns;
  seq = l.timer_seq_++;
  l.timers_.push(*this);
  set_active(true);
}

std::error_code Timer::stop() noexcept {
  if (!in_heap()) return Error::not_started;
  loop().timers_.remove(*this);
  set_active(false);
  return {};
}

std::error_code Timer::again() {
  if (repeat_ == 0 || !cb_) return Error::not_started;
  schedule(repeat_);
  return {};
}

int64_t Timer::due_in() const noexcept { return in_heap() ? std::max<int64_t>(key - loop().now(), 0) : 0; }

void Timer::fire() noexcept {
  Loop& l = loop();
  int64_t lag = l.now_ - key;
  l.metrics_.last_lag_ns = lag;
  l.metrics_.max_lag_ns = std::max(l.metrics_.max_lag_ns, lag);
  l.timers_.remove(*this);
  if (repeat_ > 0) {
    schedule(repeat_);  // before the callback, which may stop or restart it
  } else {
    set_active(false);
  }
  // The callback may destroy this timer (a coroutine frame ending): run it from locals, and touch `this`
  // afterwards only if the destructor did not clear `alive`.
  bool alive = true;
  alive_ = &alive;
  auto cb = std::move(cb_);
  SourceLocation where = where_;
  l.invoke(cb, where);
  if (!alive) return;
  alive_ = nullptr;
  if (!cb_) cb_ = std::move(cb);  // unless the callback started the timer with a new one
}

// ---- IoWatcher ------------------------------------------------------------------------------------------

std::error_code IoWatcher::start(unsigned events) noexcept {
  if (is_closing()) return Error::closed;
  if (events == 0) {
    stop();
    return {};
  }
  if (events == events_ && registered_) return {};
  Poller& p = loop().poller();
  std::error_code ec = registered_ ? p.modify(fd_, events, this) : p.add(fd_, events, this);
  if (ec) return ec;
  registered_ = true;
  events_ = events;
  set_active(true);
  return {};
}

void IoWatcher::stop() noexcept {
  if (registered_) {
    loop().poller().remove(fd_, this);
    registered_ = false;
  }
  events_ = 0;
  set_active(false);
}

void IoWatcher::dispatch(unsigned events) noexcept {
  if (target_.fn) {
    // Copies first: the callee may destroy this watcher.
    const Target t = target_;
    const SourceLocation where = where_;
    loop().invoke([&] { t.fn(t.self, events); }, where);
    return;
  }
  // A boxed std::function. As in Timer::fire: the callback may destroy this watcher (and the box), so it
  // runs from a local and is put back only if the watcher survived.
  bool alive = true;
  alive_ = &alive;
  SourceLocation where = where_;
  auto* box = static_cast<Callback*>(target_.self);
  Callback cb = std::move(*box);
  loop().invoke([&] { cb(events); }, where);
  if (!alive) return;
  alive_ = nullptr;
  if (!*box) *box = std::move(cb);
}

}  // namespace waitless
