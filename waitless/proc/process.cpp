#include "waitless/proc/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <new>
#include <thread>
#include <utility>

#include "waitless/base/log.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX, for posix_spawn

namespace waitless {

// ---- PipeReader ------------------------------------------------------------------------------------------

namespace {

void set_nonblocking(int fd) noexcept {
  if (fd < 0) return;
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0 && !(flags & O_NONBLOCK)) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

}  // namespace

PipeReader::PipeReader(Loop& loop, int fd) noexcept : loop_(loop), fd_(fd) { set_nonblocking(fd); }

PipeReader::~PipeReader() {
  if (alive_) *alive_ = false;
  close();
}

void PipeReader::close() noexcept {
  streaming_ = false;
  cb_ = nullptr;
  abort_waiter(Error::closed);
  watcher_.reset();
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

// A read in progress completes with `ec`, resumed as a microtask: we may be inside the awaiting task's own
// call to close() or to the reader's destructor.
void PipeReader::abort_waiter(std::error_code ec) noexcept {
  ReadAwaiter* w = std::exchange(waiter_, nullptr);
  if (!w) return;
  w->reader_ = nullptr;
  w->ec_ = ec;
  w->cancel_.detach();
  loop_.queue_resume(w->handle_);
}

// Reads at most `max` bytes into the scratch buffer; `n` is how many on Step::data.
PipeReader::Step PipeReader::read_some(std::size_t max, std::size_t& n, std::error_code& ec) noexcept {
  if (eof_) return Step::eof;
  if (buf_size_ < max) {
    buf_.reset(new (std::nothrow) char[max]);
    buf_size_ = buf_ ? max : 0;
    if (!buf_) {
      ec = std::make_error_code(std::errc::not_enough_memory);
      return Step::error;
    }
  }
  ssize_t r;
  do r = ::read(fd_, buf_.get(), max);
  while (r < 0 && errno == EINTR);
  if (r > 0) {
    n = static_cast<std::size_t>(r);
    return Step::data;
  }
  if (r == 0) {
    eof_ = true;
    return Step::eof;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK) return Step::would_block;
  ec = errno_code(errno);
  return Step::error;
}

// One read for an awaiter: Step::would_block leaves it untouched.
PipeReader::Step PipeReader::read_for(ReadAwaiter& w) noexcept {
  std::size_t n = 0;
  Step step = read_some(w.max_, n, w.ec_);
  if (step == Step::data) w.data_.assign(buf_.get(), n);
  return step;
}

std::error_code PipeReader::watch() noexcept {
  if (!watcher_) watcher_.emplace(loop_, fd_, [this](unsigned) { on_readable(); });
  return watcher_->start(io::readable);
}

void PipeReader::unwatch() noexcept {
  if (watcher_) watcher_->stop();
}

bool PipeReader::ReadAwaiter::await_ready() noexcept {
  PipeReader& r = *reader_;
  if (!r.is_open()) {
    ec_ = Error::closed;
  } else if (r.waiter_ || r.streaming_ || max_ == 0) {
    ec_ = Error::invalid_argument;
  } else if (r.read_for(*this) == Step::would_block) {
    return false;  // data_ and ec_ are untouched: suspend until readable
  }
  reader_ = nullptr;  // done: the destructor has nothing to undo
  return true;
}

void PipeReader::on_readable() noexcept {
  if (ReadAwaiter* w = waiter_) {
    if (read_for(*w) == Step::would_block) return;
    waiter_ = nullptr;
    w->reader_ = nullptr;
    unwatch();
    w->cancel_.detach();
    w->handle_.resume();  // may destroy this reader: nothing after
    return;
  }
  if (!streaming_) {
    unwatch();
    return;
  }
  std::error_code ec;
  std::size_t n = 0;
  Step step = read_some(kChunk, n, ec);
  if (step == Step::would_block) return;
  DataCallback cb = std::move(cb_);  // the callback may stop, restart or destroy this reader
  if (step != Step::data) stop();    // end of stream or error: the last call
  bool alive = true;
  alive_ = &alive;
  if (step == Step::error) {
    cb(Result<std::string_view>(ec));
  } else {
    cb(Result<std::string_view>(std::string_view(buf_.get(), n)));
  }
  if (!alive) return;
  alive_ = nullptr;
  if (streaming_ && !cb_) cb_ = std::move(cb);
}

std::error_code PipeReader::start(DataCallback cb) {
  if (!is_open()) return Error::closed;
  if (!cb || waiter_) return Error::invalid_argument;
  if (std::error_code ec = watch()) return ec;
  cb_ = std::move(cb);
  streaming_ = true;
  return {};
}

void PipeReader::stop() noexcept {
  if (!streaming_) return;
  streaming_ = false;
  cb_ = nullptr;
  unwatch();
}

Task<Result<std::string>> PipeReader::read_all(std::size_t limit) {
  std::string all;
  for (;;) {
    Result<std::string> chunk = co_await read();
    if (!chunk) co_return chunk.error();
    if (chunk->empty()) co_return all;
    if (chunk->size() > limit - all.size()) co_return Error::limit_exceeded;
    all += *chunk;
  }
}

// ---- PipeWriter ------------------------------------------------------------------------------------------

PipeWriter::PipeWriter(Loop& loop, int fd) noexcept : loop_(loop), fd_(fd) {
  set_nonblocking(fd);
  if (fd >= 0) ignore_sigpipe();
}

PipeWriter::~PipeWriter() { (void)close(); }

std::error_code PipeWriter::close() noexcept {
  if (WriteAwaiter* w = std::exchange(waiter_, nullptr)) {
    w->writer_ = nullptr;
    w->ec_ = Error::closed;
    w->cancel_.detach();
    loop_.queue_resume(w->handle_);
  }
  watcher_.reset();
  if (fd_ < 0) return Error::closed;
  ::close(std::exchange(fd_, -1));
  return {};
}

std::error_code PipeWriter::write_some(WriteAwaiter& w, bool& done) noexcept {
  while (!w.data_.empty()) {
    ssize_t n = ::write(fd_, w.data_.data(), w.data_.size());
    if (n >= 0) {
      w.data_.remove_prefix(static_cast<std::size_t>(n));
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      done = false;
      return {};
    } else if (errno != EINTR) {
      done = true;
      return errno_code(errno);
    }
  }
  done = true;
  return {};
}

std::error_code PipeWriter::watch() noexcept {
  if (!watcher_) watcher_.emplace(loop_, fd_, [this](unsigned) { on_writable(); });
  return watcher_->start(io::writable);
}

void PipeWriter::unwatch() noexcept {
  if (watcher_) watcher_->stop();
}

bool PipeWriter::WriteAwaiter::await_ready() noexcept {
  PipeWriter& w = *writer_;
  bool done = true;
  if (!w.is_open()) {
    ec_ = Error::closed;
  } else if (w.waiter_) {
    ec_ = Error::invalid_argument;
  } else {
    ec_ = w.write_some(*this, done);
  }
  if (done) writer_ = nullptr;
  return done;
}

void PipeWriter::on_writable() noexcept {
  WriteAwaiter* w = waiter_;
  if (!w) {
    unwatch();
    return;
  }
  bool done;
  w->ec_ = write_some(*w, done);
  if (!done) return;
  waiter_ = nullptr;
  w->writer_ = nullptr;
  unwatch();
  w->cancel_.detach();
  w->handle_.resume();  // may destroy this writer: nothing after
}

// ---- the reaper ------------------------------------------------------------------------------------------

namespace {

// Waits for children whose Process went away before they exited, so none stays a zombie. One thread for
// the whole process, started with the first orphan, blocked in poll() on the orphans' pidfds (or, without
// pidfds, waking every 100 ms). Never destroyed: it may still run while static destructors do.
class Reaper {
 public:
  static void adopt(pid_t pid, int pidfd) noexcept {
    static Reaper* r = new Reaper;
    r->add(pid, pidfd);
  }

 private:
  struct Orphan {
    pid_t pid;
    int pidfd;
  };

  void add(pid_t pid, int pidfd) noexcept {
    {
      std::lock_guard lock(mutex_);
      orphans_.push_back(Orphan{pid, pidfd});
      // A fork() child inherits this object but not the thread: it starts its own.
      if (started_in_ == getpid()) {
        uint64_t one = 1;
        (void)!::write(wake_, &one, sizeof one);
        return;
      }
      if (wake_ >= 0) ::close(wake_);
      wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      started_in_ = getpid();
    }
    try {
      SignalBlockScope block;  // the reaper never takes a signal meant for a loop
      std::thread([this] { run(); }).detach();
    } catch (const std::exception& e) {
      log::error("process reaper thread not started ({}): children may stay zombies", e.what());
      std::lock_guard lock(mutex_);
      started_in_ = 0;
    }
  }

  void run() noexcept {
    std::vector<pollfd> fds;
    for (;;) {
      bool tick = false;
      {
        std::lock_guard lock(mutex_);
        fds.assign(1, pollfd{wake_, POLLIN, 0});
        for (const Orphan& o : orphans_) {
          if (o.pidfd >= 0) {
            fds.push_back(pollfd{o.pidfd, POLLIN, 0});
          } else {
            tick = true;
          }
        }
      }
      (void)poll(fds.data(), fds.size(), tick ? 100 : -1);
      uint64_t count;
      (void)!::read(fds[0].fd, &count, sizeof count);
      std::lock_guard lock(mutex_);
      std::erase_if(orphans_, [](const Orphan& o) {
        pid_t r;
        do r = waitpid(o.pid, nullptr, WNOHANG);
        while (r < 0 && errno == EINTR);
        if (r == 0) return false;
        if (o.pidfd >= 0) ::close(o.pidfd);
        return true;  // reaped, or not ours to reap any more (ECHILD)
      });
    }
  }

  std::mutex mutex_;
  std::vector<Orphan> orphans_;
  int wake_ = -1;
  pid_t started_in_ = 0;
};

// ---- spawning --------------------------------------------------------------------------------------------

std::atomic<int> g_pidfd_state{0};  // 0: not probed yet, 1: pidfd_open works, 2: it does not (ENOSYS)
std::atomic<bool> g_pidfd_disabled{false};

int pidfd_open(pid_t pid) noexcept { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

bool pidfd_supported() noexcept {
  if (g_pidfd_disabled.load(std::memory_order_relaxed)) return false;
  int state = g_pidfd_state.load(std::memory_order_relaxed);
  if (state == 0) {
    int fd = pidfd_open(getpid());
    if (fd >= 0) {
      ::close(fd);
      state = 1;
    } else if (errno == ENOSYS) {
      state = 2;
    } else {
      return true;  // EMFILE and the like say nothing about the kernel: probe again next time
    }
    g_pidfd_state.store(state, std::memory_order_relaxed);
  }
  return state == 1;
}

// A pipe whose ends are both >= 3, so that dup2 onto 0, 1 and 2 in the child never lands on one of them.
std::error_code make_pipe(int (&fds)[2]) noexcept {
  if (pipe2(fds, O_CLOEXEC) < 0) return errno_code(errno);
  for (int& fd : fds) {
    if (fd > 2) continue;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int err = errno;
    ::close(fd);
    fd = moved;
    if (moved < 0) {
      ::close(fds[0] == moved ? fds[1] : fds[0]);
      return errno_code(err);
    }
  }
  return {};
}

void close_all(int (&fds)[3]) noexcept {
  for (int& fd : fds) {
    if (fd >= 0) ::close(std::exchange(fd, -1));
  }
}

ExitStatus decode(int status) noexcept {
  if (WIFSIGNALED(status)) return ExitStatus{-1, WTERMSIG(status)};
  return ExitStatus{WEXITSTATUS(status), 0};
}

// posix_spawn's C structures, destroyed on every path.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() noexcept {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

}  // namespace

namespace detail {
void set_pidfd_enabled(bool enabled) noexcept { g_pidfd_disabled.store(!enabled); }
}  // namespace detail

Process::Process(Loop& loop, Options& options, const int (&parent_fds)[3])
    : Handle(loop),
      kill_on_destroy_(options.kill_on_destroy),
      on_exit_(std::move(options.on_exit)),
      stdin_(loop, parent_fds[0]),
      stdout_(loop, parent_fds[1]),
      stderr_(loop, parent_fds[2]) {}

Result<std::unique_ptr<Process>> Process::spawn(Loop& loop, Options options) {
  if (options.file.empty()) return Error::invalid_argument;

  // Pipes: the child's ends go to 0, 1, 2; the parent's ends to the Process. All close-on-exec.
  int child_fds[3] = {-1, -1, -1}, parent_fds[3] = {-1, -1, -1};
  for (int i = 0; i < 3; ++i) {
    if (options.stdio[static_cast<std::size_t>(i)] != Stdio::pipe) continue;
    int fds[2];
    if (std::error_code ec = make_pipe(fds)) {
      close_all(child_fds);
      close_all(parent_fds);
      return ec;
    }
    child_fds[i] = i == 0 ? fds[0] : fds[1];
    parent_fds[i] = i == 0 ? fds[1] : fds[0];
  }
  std::unique_ptr<Process> p(new Process(loop, options, parent_fds));  // owns parent_fds from here

  SpawnSetup setup;
  for (int i = 0; i < 3; ++i) {
    switch (options.stdio[static_cast<std::size_t>(i)]) {
      case Stdio::inherit:
        break;
      case Stdio::pipe:
        posix_spawn_file_actions_adddup2(&setup.actions, child_fds[i], i);
        break;
      case Stdio::ignore:
        posix_spawn_file_actions_addopen(&setup.actions, i, "/dev/null", i == 0 ? O_RDONLY : O_WRONLY, 0);
        break;
    }
  }
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&setup.actions, options.cwd.c_str());
  // The child must not inherit the loop's blocked signals nor the ignored SIGPIPE.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  posix_spawnattr_setsigdefault(&setup.attr, &all);
  posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> argv;
  argv.reserve(options.args.size() + 2);
  argv.push_back(options.file.data());
  for (std::string& a : options.args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  if (!options.env.empty()) {
    envp.reserve(options.env.size() + 1);
    for (std::string& e : options.env) envp.push_back(e.data());
    envp.push_back(nullptr);
  }

  // Without pidfds, SIGCHLD is watched (and so blocked) before the child exists: its exit cannot be lost.
  bool use_pidfd = pidfd_supported();
  if (!use_pidfd) {
    p->sigchld_.emplace(loop);
    p->sigchld_->mark_internal();  // the Process is the handle users see
    if (std::error_code ec = p->sigchld_->start(SIGCHLD, [raw = p.get()](int) { raw->check_exit(); })) {
      close_all(child_fds);
      return ec;
    }
    p->sigchld_->unref();
  }

  pid_t pid = -1;
  int rc = posix_spawnp(&pid, options.file.c_str(), &setup.actions, &setup.attr, argv.data(),
                        envp.empty() ? environ : envp.data());
  close_all(child_fds);
  if (rc != 0) return errno_code(rc);
  p->pid_ = pid;

  if (use_pidfd) {
    p->pidfd_ = pidfd_open(pid);
    if (p->pidfd_ < 0 && errno == ESRCH) {
      // The child is already gone: reaped by the kernel because SIGCHLD is ignored. An eventfd that is
      // readable at once stands in for the pidfd, so the exit is reported (as ECHILD from waitpid) on the
      // loop like any other, through the same watcher.
      p->pidfd_ = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
    }
    std::error_code ec = p->pidfd_ < 0 ? errno_code(errno) : p->watch_exit();
    if (ec) {
      // The child runs but could not be watched: end it rather than leave it unaccounted for.
      ::kill(pid, SIGKILL);
      p->release_child();
      return ec;
    }
  }
  p->set_active(true);
  return p;
}

std::error_code Process::watch_exit() noexcept {
  exit_watcher_.emplace(loop(), pidfd_, [this](unsigned) { check_exit(); });
  exit_watcher_->unref();          // the Process's own active state keeps the loop alive (or not, if unref'd)
  exit_watcher_->mark_internal();  // and only the Process counts in Loop::handle_count()
  return exit_watcher_->start(io::readable);
}

Process::~Process() {
  if (alive_) *alive_ = false;
  on_stop();
}

// Closing (or destroying) the handle: no more callbacks; waiters get Error::closed; a running child is
// handed to the reaper.
void Process::on_stop() noexcept {
  if (state_ == State::running) release_child();
  exit_watcher_.reset();
  sigchld_.reset();
  while (WaitAwaiter* w = waiters_.pop_front()) {
    w->complete(result());
    loop().queue_resume(w->handle_);
  }
}

void Process::release_child() noexcept {
  state_ = State::released;
  exit_watcher_.reset();
  sigchld_.reset();
  if (pid_ <= 0) return;
  if (kill_on_destroy_) ::kill(pid_, SIGKILL);  // not reaped yet, so the pid is still this child's
  Reaper::adopt(pid_, std::exchange(pidfd_, -1));
}

void Process::check_exit() noexcept {
  if (state_ != State::running) return;
  int status = 0;
  pid_t r;
  do r = waitpid(pid_, &status, WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r == 0) return;  // still running: a SIGCHLD for another child, or a spurious wakeup
  if (r < 0) {
    exit_error_ = errno_code(errno);
  } else {
    status_ = decode(status);
  }
  state_ = State::exited;
  if (exit_watcher_) exit_watcher_->stop();  // not reset: this may run inside its callback
  if (pidfd_ >= 0) ::close(std::exchange(pidfd_, -1));
  if (sigchld_) (void)sigchld_->stop();
  set_active(false);

  // Waiters first, then on_exit; any of them may destroy this Process.
  Result<ExitStatus> r_status = result();
  bool alive = true;
  alive_ = &alive;
  while (WaitAwaiter* w = waiters_.pop_front()) {
    w->complete(r_status);
    w->handle_.resume();
    if (!alive) return;
  }
  alive_ = nullptr;
  if (ExitCallback cb = std::move(on_exit_)) cb(r_status);
}

Result<ExitStatus> Process::result() const {
  if (state_ == State::exited) {
    if (exit_error_) return exit_error_;
    return status_;
  }
  return Error::closed;
}

std::error_code Process::kill(int signo) noexcept {
  if (state_ != State::running || pid_ <= 0) return errno_code(ESRCH);
  int r = pidfd_ >= 0 ? static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd_, signo, nullptr, 0))
                      : ::kill(pid_, signo);
  return r < 0 ? errno_code(errno) : std::error_code{};
}

}  // namespace waitless
