#include "waitless/loop/signal.hpp"

#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <iterator>
#include <mutex>
#include <optional>
#include <vector>

#include "waitless/base/log.hpp"
#include "waitless/loop/io_watcher.hpp"

namespace waitless {
namespace detail {
namespace {

constexpr int kSignals = _NSIG;  // valid signal numbers are 1 .. kSignals - 1

bool watchable(int signo) noexcept {
  if (signo <= 0 || signo >= kSignals || signo == SIGKILL || signo == SIGSTOP) return false;
  sigset_t probe;
  sigemptyset(&probe);
  return sigaddset(&probe, signo) == 0;  // glibc refuses the signals it reserves for its threads
}

sigset_t one_signal(int signo) noexcept {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signo);
  return set;
}

// ---- the thread's signal mask ----------------------------------------------------------------------------
// Per thread (the mask is): how many started handles of this thread's loops watch each signal, and whether
// blocking it was our doing (then the last stop unblocks it; a signal the application blocked stays so).
thread_local uint32_t t_watchers[kSignals];
thread_local bool t_blocked_by_us[kSignals];

void thread_watch(int signo) noexcept {
  if (t_watchers[signo]++ > 0) return;
  sigset_t set = one_signal(signo), old;
  pthread_sigmask(SIG_BLOCK, &set, &old);
  t_blocked_by_us[signo] = !sigismember(&old, signo);
}

void thread_unwatch(int signo) noexcept {
  if (--t_watchers[signo] > 0 || !t_blocked_by_us[signo]) return;
  t_blocked_by_us[signo] = false;
  // An instance still pending would be delivered the old way as soon as it is unblocked, which for most
  // signals means the default action: death. Nobody watches it any more, so it is discarded.
  sigset_t set = one_signal(signo);
  timespec zero{};
  while (sigtimedwait(&set, nullptr, &zero) == signo) {
  }
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

}  // namespace

// ---- one loop's signalfd ---------------------------------------------------------------------------------

// The signalfd of one loop, reading the signals its started handles watch. Created with the loop's first
// started handle and destroyed with its last, on the loop's thread. `counts_` is written only by that
// thread, under the registry mutex, because other loops read it (under the mutex) to decide where a signal
// they read must be posted.
class LoopSignals {
 public:
  static std::error_code watch(Signal& s, int signo);
  static void unwatch(Signal& s) noexcept;

  LoopSignals(Loop& loop, int fd, uint64_t id)
      : loop_(loop), remote_(loop.remote()), id_(id), fd_(fd), watcher_(loop, fd, [this](unsigned) {
          on_readable();
        }) {
    sigemptyset(&mask_);
    watcher_.unref();          // the Signal handles keep the loop alive (or not, when unref'd), not this
    watcher_.mark_internal();  // and only they count in Loop::handle_count()
  }
  ~LoopSignals() {
    if (alive_) *alive_ = false;
    watcher_.stop();
    ::close(fd_);
  }
  LoopSignals(const LoopSignals&) = delete;
  LoopSignals& operator=(const LoopSignals&) = delete;

 private:
  struct Registry {
    std::mutex mutex;
    std::vector<std::unique_ptr<LoopSignals>> sets;  // one per loop with started handles
    uint64_t next_id = 1;
  };
  static Registry& registry() noexcept {
    static Registry* r = new Registry;  // never destroyed: loops on other threads may outlive main()
    return *r;
  }
  static LoopSignals* find_locked(Registry& r, const Loop* loop, uint64_t id = 0) noexcept {
    for (auto& set : r.sets) {
      if (&set->loop_ == loop && (id == 0 || set->id_ == id)) return set.get();
    }
    return nullptr;
  }
  static void deliver_posted(const Loop* loop, uint64_t id, int signo) noexcept;

  void on_readable() noexcept;
  void fan_out(int signo) noexcept;
  bool dispatch(int signo) noexcept;

  Loop& loop_;
  LoopRemote remote_;
  uint64_t id_;  // tells this set from a later one of the same loop, for deliveries posted before it died
  int fd_;
  sigset_t mask_;
  uint32_t counts_[kSignals] = {};
  uint32_t total_ = 0;
  uint64_t round_ = 0;  // delivery rounds: a handle is called at most once per round
  IntrusiveList<Signal, SignalListTag> handles_;
  IoWatcher watcher_;
  bool* alive_ = nullptr;  // set while callbacks run; cleared by the destructor
};

std::error_code LoopSignals::watch(Signal& s, int signo) {
  Registry& r = registry();
  LoopSignals* set;
  {
    std::lock_guard lock(r.mutex);
    set = find_locked(r, &s.loop());
  }
  std::unique_ptr<LoopSignals> created;
  if (!set) {
    sigset_t none;
    sigemptyset(&none);
    int fd = signalfd(-1, &none, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) return errno_code(errno);
    uint64_t id;
    {
      std::lock_guard lock(r.mutex);
      id = r.next_id++;
    }
    created = std::make_unique<LoopSignals>(s.loop(), fd, id);
    if (std::error_code ec = created->watcher_.start(io::readable)) return ec;
    set = created.get();
  }
  // Block first, then read: a signal arriving in between is then pending for the signalfd, never lost to
  // its default action.
  thread_watch(signo);
  if (set->counts_[signo] == 0) {
    sigset_t mask = set->mask_;
    sigaddset(&mask, signo);
    if (signalfd(set->fd_, &mask, 0) < 0) {
      std::error_code ec = errno_code(errno);
      thread_unwatch(signo);
      return ec;
    }
    set->mask_ = mask;
  }
  {
    std::lock_guard lock(r.mutex);
    if (created) r.sets.push_back(std::move(created));
    ++set->counts_[signo];
    ++set->total_;
  }
  s.set_ = set;
  s.signo_ = signo;
  s.round_ = set->round_;  // not called for a signal being delivered right now
  set->handles_.push_back(s);
  return {};
}

void LoopSignals::unwatch(Signal& s) noexcept {
  LoopSignals* set = std::exchange(s.set_, nullptr);
  int signo = std::exchange(s.signo_, 0);
  static_cast<ListHook<SignalListTag>&>(s).unlink_from_list();
  Registry& r = registry();
  std::unique_ptr<LoopSignals> dead;
  bool last_for_signal;
  {
    std::lock_guard lock(r.mutex);
    last_for_signal = --set->counts_[signo] == 0;
    if (--set->total_ == 0) {
      auto it = std::find_if(r.sets.begin(), r.sets.end(), [&](auto& p) { return p.get() == set; });
      dead = std::move(*it);
      r.sets.erase(it);
    }
  }
  if (last_for_signal && !dead) {
    sigdelset(&set->mask_, signo);
    (void)signalfd(set->fd_, &set->mask_, 0);  // shrinking a valid signalfd's mask does not fail
  }
  dead.reset();  // closes the signalfd before the signal is unblocked
  thread_unwatch(signo);
}

void LoopSignals::on_readable() noexcept {
  signalfd_siginfo infos[8];
  for (;;) {
    ssize_t n = ::read(fd_, infos, sizeof infos);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN: another loop of this thread read it first, or nothing left
    }
    std::size_t count = static_cast<std::size_t>(n) / sizeof(signalfd_siginfo);
    for (std::size_t i = 0; i < count; ++i) {
      int signo = static_cast<int>(infos[i].ssi_signo);
      fan_out(signo);
      if (!dispatch(signo)) return;  // a callback stopped the last handle: this set is gone
    }
    if (count < std::size(infos)) return;
  }
}

// A signal is consumed by whichever signalfd reads it first; the other loops watching it get it by post.
void LoopSignals::fan_out(int signo) noexcept {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  for (auto& other : r.sets) {
    if (other.get() == this || other->counts_[signo] == 0) continue;
    (void)other->remote_.post(
        [loop = &other->loop_, id = other->id_, signo] { deliver_posted(loop, id, signo); });
  }
}

void LoopSignals::deliver_posted(const Loop* loop, uint64_t id, int signo) noexcept {
  Registry& r = registry();
  LoopSignals* set;
  {
    std::lock_guard lock(r.mutex);
    set = find_locked(r, loop, id);
  }
  // Runs on the set's own loop thread, the only one that may destroy it: safe to use after the unlock.
  if (set && set->counts_[signo] > 0) (void)set->dispatch(signo);
}

// Calls each handle watching `signo` once. Callbacks may stop, start or destroy any handle (and with the
// last one this set), so the list is searched afresh after each call. Returns false if this set is gone.
bool LoopSignals::dispatch(int signo) noexcept {
  const uint64_t round = ++round_;
  Loop& loop = loop_;  // `this` may be destroyed by a callback
  bool alive = true;
  bool* outer = std::exchange(alive_, &alive);
  for (;;) {
    Signal* next = nullptr;
    handles_.for_each([&](Signal& s) {
      if (!next && s.signo_ == signo && s.round_ != round) next = &s;
    });
    if (!next) break;
    next->round_ = round;
    // Called directly rather than through Loop::invoke: this already runs inside the watcher's (or the
    // post's) invoke, and the watchdog's sequence number does not nest.
    try {
      Signal::Callback cb = next->cb_;  // the callback may destroy its own handle
      cb(signo);
    } catch (const std::exception& e) {
      log::error("signal {} callback threw: {}", signo, e.what());
    } catch (...) {
      log::error("signal {} callback threw a non-std exception", signo);
    }
    loop.drain_microtasks();
    if (!alive) {
      if (outer) *outer = false;
      return false;
    }
  }
  alive_ = outer;
  return true;
}

}  // namespace detail

// ---- Signal ----------------------------------------------------------------------------------------------

Signal::~Signal() { (void)stop(); }

std::error_code Signal::start(int signo, Callback cb) {
  if (is_closing()) return Error::closed;
  if (!cb || !detail::watchable(signo)) return Error::invalid_argument;
  if (set_ && signo_ == signo) {
    cb_ = std::move(cb);
    return {};
  }
  if (set_) (void)stop();
  if (std::error_code ec = detail::LoopSignals::watch(*this, signo)) return ec;
  cb_ = std::move(cb);
  set_active(true);
  return {};
}

std::error_code Signal::stop() noexcept {
  if (!set_) return Error::not_started;
  detail::LoopSignals::unwatch(*this);
  set_active(false);
  cb_ = nullptr;
  return {};
}

Result<std::unique_ptr<Signal>> on_signal(Loop& loop, int signo, Signal::Callback cb) {
  auto sig = std::make_unique<Signal>(loop);
  if (std::error_code ec = sig->start(signo, std::move(cb))) return ec;
  return sig;
}

void ignore_sigpipe() noexcept {
  static const bool done = [] {
    struct sigaction old {};
    if (sigaction(SIGPIPE, nullptr, &old) == 0 && !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL) {
      struct sigaction ignore {};
      ignore.sa_handler = SIG_IGN;
      sigemptyset(&ignore.sa_mask);
      sigaction(SIGPIPE, &ignore, nullptr);
    }
    return true;
  }();
  (void)done;
}

SignalBlockScope::SignalBlockScope() noexcept {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old_);
}

SignalBlockScope::~SignalBlockScope() {
  // Unblocks what the scope blocked, except signals a Signal handle started meanwhile still watches.
  sigset_t unblock;
  sigfillset(&unblock);
  for (int signo = 1; signo < detail::kSignals; ++signo) {
    if (sigismember(&old_, signo) == 1) {
      sigdelset(&unblock, signo);
    } else if (detail::t_watchers[signo] > 0) {
      sigdelset(&unblock, signo);
      detail::t_blocked_by_us[signo] = true;  // so the handle's last stop unblocks it
    }
  }
  pthread_sigmask(SIG_UNBLOCK, &unblock, nullptr);
}

}  // namespace waitless
