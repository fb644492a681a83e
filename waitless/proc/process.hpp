// Process: Node's child_process.spawn on the loop.
//
//   auto p = Process::spawn(loop, {.file = "/bin/sh", .args = {"-c", "echo hi; exit 3"},
//                                  .stdio = {Stdio::inherit, Stdio::pipe, Stdio::inherit}});
//   if (!p) ...                                         // ENOENT & co. come back here, as values
//   std::string out = (co_await (*p)->stdout_pipe().read_all()).value();
//   Result<ExitStatus> st = co_await (*p)->wait();      // st->exit_code == 3
//
// Spawning: posix_spawnp (glibc's vfork-style clone), so a failed exec (missing file, no permission, bad
// cwd) is reported by spawn() itself, never as a child that exits 127. `file` without a '/' is searched in
// the PATH of the parent's environment. The child starts with an empty signal mask and every signal at its
// default disposition (SIGPIPE included, which waitless ignores in the parent), and inherits no descriptor
// of the parent but 0, 1 and 2 (the library opens everything else close-on-exec).
//
// Exit: watched with a pidfd (Linux >= 5.3) on the loop; on older kernels (pidfd_open: ENOSYS), with a
// SIGCHLD Signal handle, which carries the caveats of signal.hpp (SIGCHLD must be blocked in every thread).
// The child is reaped by waitpid when its exit is seen, so it never lingers as a zombie. A Process closed
// or destroyed before its child exits leaves the child running (Node's behaviour; set kill_on_destroy to
// SIGKILL it instead) and hands it to a small reaper thread that waits for it, so it is reaped all the same.
//
// Liveness: a Process is an active handle, keeping the loop alive, from spawn until its exit is seen, unless
// unref()'d. Its pipes are separate: a read or write in progress keeps the loop alive on its own.
//
// Pipes: PipeReader (child's stdout/stderr) and PipeWriter (child's stdin) own a non-blocking fd watched
// by an IoWatcher only while someone waits on it. One read and one write at a time per pipe (a second
// concurrent one gets Error::invalid_argument). Destroying a pipe, or its Process, completes a read or
// write in progress with Error::closed.
//
// Awaitables read the awaiting task's CancelToken (cancelled: Error::cancelled, nothing lost: data not yet
// read stays in the pipe).
//
// Layer: proc sits above async (read_all is a Task) and beside fs and net: a child process and its pipes
// are I/O like files and sockets.
#pragma once
#include <sys/types.h>

#include <array>
#include <coroutine>
#include <csignal>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "waitless/async/task.hpp"
#include "waitless/base/cancel.hpp"
#include "waitless/base/intrusive_list.hpp"
#include "waitless/base/result.hpp"
#include "waitless/loop/coroutine_context.hpp"
#include "waitless/loop/io_watcher.hpp"
#include "waitless/loop/loop.hpp"
#include "waitless/loop/signal.hpp"

namespace waitless {

// ---- pipes -----------------------------------------------------------------------------------------------

// The read end of a pipe, owned: closed by close() or the destructor.
class PipeReader {
 public:
  static constexpr std::size_t kChunk = 64 * 1024;         // one read() at most, as the default pipe size
  static constexpr std::size_t kReadAllLimit = 16u << 20;  // read_all()'s default bound

  class ReadAwaiter;
  using DataCallback = std::function<void(Result<std::string_view>)>;

  // Takes ownership of `fd` (may be -1: a reader that is closed from the start) and makes it non-blocking.
  explicit PipeReader(Loop& loop, int fd = -1) noexcept;
  ~PipeReader();
  PipeReader(const PipeReader&) = delete;
  PipeReader& operator=(const PipeReader&) = delete;

  // co_await read(): the next chunk, at most `max` bytes, as soon as there is one; "" at end of stream
  // (and on every read after it). Errors: Error::closed, Error::invalid_argument (a read or callback
  // already in progress, max == 0), Error::cancelled, errno.
  ReadAwaiter read(std::size_t max = kChunk) noexcept;
  // Everything up to end of stream. Error::limit_exceeded past `limit` bytes (the rest stays unread).
  Task<Result<std::string>> read_all(std::size_t limit = kReadAllLimit);

  // Callback form: `cb` gets each chunk as it arrives (the view is valid during the call only), then ""
  // at end of stream or an error, after which the reader stops by itself. The callback may call stop(),
  // start() or destroy the reader.
  std::error_code start(DataCallback cb);
  void stop() noexcept;

  // Closes the fd now; a read in progress completes with Error::closed. Idempotent.
  void close() noexcept;
  bool is_open() const noexcept { return fd_ >= 0; }
  bool at_eof() const noexcept { return eof_; }
  int fd() const noexcept { return fd_; }

 private:
  enum class Step { data, eof, would_block, error };
  Step read_some(std::size_t max, std::size_t& n, std::error_code& ec) noexcept;
  Step read_for(ReadAwaiter& w) noexcept;
  std::error_code watch() noexcept;
  void unwatch() noexcept;
  void on_readable() noexcept;
  void abort_waiter(std::error_code ec) noexcept;

  Loop& loop_;
  int fd_;
  bool eof_ = false;
  bool streaming_ = false;  // the callback form is started
  std::optional<IoWatcher> watcher_;
  ReadAwaiter* waiter_ = nullptr;
  DataCallback cb_;
  std::unique_ptr<char[]> buf_;  // scratch for read(): grown to the largest `max` asked, kept
  std::size_t buf_size_ = 0;
  bool* alive_ = nullptr;  // set while a callback runs; cleared by the destructor
};

class PipeReader::ReadAwaiter {
 public:
  ReadAwaiter(PipeReader* reader, std::size_t max) noexcept : reader_(reader), max_(max) {}
  ReadAwaiter(ReadAwaiter&&) = delete;
  ~ReadAwaiter() {
    if (reader_ && reader_->waiter_ == this) {  // the awaiting task was destroyed mid-read
      reader_->waiter_ = nullptr;
      reader_->unwatch();
    }
  }

  bool await_ready() noexcept;
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> awaiting) {
    CancelToken token = detail::token_of(awaiting);
    if (token.cancelled()) {
      ec_ = Error::cancelled;
      return false;
    }
    if ((ec_ = reader_->watch())) return false;
    handle_ = awaiting;
    reader_->waiter_ = this;
    cancel_.attach(token, [this] {
      Loop& loop = reader_->loop_;
      reader_->waiter_ = nullptr;
      reader_->unwatch();
      ec_ = Error::cancelled;
      loop.queue_resume(handle_);
    });
    return true;
  }
  Result<std::string> await_resume() {
    if (ec_) return ec_;
    return std::move(data_);
  }

 private:
  friend class PipeReader;
  PipeReader* reader_;
  std::size_t max_;
  std::string data_;
  std::error_code ec_;
  std::coroutine_handle<> handle_;
  CancelCallback cancel_;
};

// The write end of a pipe, owned: close() it to give the reader end of stream.
class PipeWriter {
 public:
  class WriteAwaiter;

  // Takes ownership of `fd` (may be -1) and makes it non-blocking. Ignores SIGPIPE (see signal.hpp), so a
  // write to a pipe whose reader is gone fails with EPIPE.
  explicit PipeWriter(Loop& loop, int fd = -1) noexcept;
  ~PipeWriter();
  PipeWriter(const PipeWriter&) = delete;
  PipeWriter& operator=(const PipeWriter&) = delete;

  // co_await write(data): writes all of `data`, waiting for room as needed (backpressure). `data` must stay
  // valid until the write completes (it does for `co_await w.write(x)` with x alive). Returns {} or
  // EPIPE (the reader is gone), Error::closed, Error::invalid_argument (a write already in progress),
  // Error::cancelled (part of the data may have been written), errno.
  WriteAwaiter write(std::string_view data) noexcept;

  // Closes the fd now: the reader sees end of stream. A write in progress completes with Error::closed.
  // Error::closed if it was already closed.
  std::error_code close() noexcept;
  bool is_open() const noexcept { return fd_ >= 0; }
  int fd() const noexcept { return fd_; }

 private:
  std::error_code write_some(WriteAwaiter& w, bool& done) noexcept;
  std::error_code watch() noexcept;
  void unwatch() noexcept;
  void on_writable() noexcept;

  Loop& loop_;
  int fd_;
  std::optional<IoWatcher> watcher_;
  WriteAwaiter* waiter_ = nullptr;
};

class PipeWriter::WriteAwaiter {
 public:
  WriteAwaiter(PipeWriter* writer, std::string_view data) noexcept : writer_(writer), data_(data) {}
  WriteAwaiter(WriteAwaiter&&) = delete;
  ~WriteAwaiter() {
    if (writer_ && writer_->waiter_ == this) {
      writer_->waiter_ = nullptr;
      writer_->unwatch();
    }
  }

  bool await_ready() noexcept;
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> awaiting) {
    CancelToken token = detail::token_of(awaiting);
    if (token.cancelled()) {
      ec_ = Error::cancelled;
      return false;
    }
    if ((ec_ = writer_->watch())) return false;
    handle_ = awaiting;
    writer_->waiter_ = this;
    cancel_.attach(token, [this] {
      Loop& loop = writer_->loop_;
      writer_->waiter_ = nullptr;
      writer_->unwatch();
      ec_ = Error::cancelled;
      loop.queue_resume(handle_);
    });
    return true;
  }
  std::error_code await_resume() const noexcept { return ec_; }

 private:
  friend class PipeWriter;
  PipeWriter* writer_;
  std::string_view data_;  // what is left to write
  std::error_code ec_;
  std::coroutine_handle<> handle_;
  CancelCallback cancel_;
};

// ---- processes -------------------------------------------------------------------------------------------

enum class Stdio {
  inherit,  // the parent's fd
  pipe,     // a pipe to the parent: stdin_pipe(), stdout_pipe(), stderr_pipe()
  ignore,   // /dev/null
};

// How a child ended: exit_code when it exited, term_signal when a signal killed it (Node's code, signal).
struct ExitStatus {
  int exit_code = -1;   // the status passed to exit(), or -1 if a signal ended the child
  int term_signal = 0;  // the signal that ended the child, or 0
  bool exited() const noexcept { return term_signal == 0; }
  bool success() const noexcept { return term_signal == 0 && exit_code == 0; }
  bool operator==(const ExitStatus&) const = default;
};

struct ProcessOptions {
  std::string file{};               // program; searched in PATH when it has no '/'
  std::vector<std::string> args{};  // argv[1..]; argv[0] is `file`
  std::vector<std::string> env{};   // "NAME=value" entries; empty: the parent's environment
  std::string cwd{};                // empty: the parent's
  std::array<Stdio, 3> stdio{Stdio::inherit, Stdio::inherit, Stdio::inherit};  // stdin, stdout, stderr
  // Called once when the exit is seen (after wait()ers resume): the status, or the error that made it
  // unknowable (ECHILD: something else reaped the child, e.g. SIGCHLD set to SIG_IGN).
  std::function<void(const Result<ExitStatus>&)> on_exit{};
  bool kill_on_destroy = false;  // SIGKILL a child still running when its Process is closed or destroyed
};

namespace detail {
struct ProcessWaitTag;
// For tests: false makes later spawns watch exits with SIGCHLD, as on a kernel without pidfd_open.
void set_pidfd_enabled(bool enabled) noexcept;
}  // namespace detail

class Process final : public Handle {
 public:
  using Options = ProcessOptions;
  using ExitCallback = std::function<void(const Result<ExitStatus>&)>;
  class WaitAwaiter;

  // Starts the child. Errors: Error::invalid_argument (empty file), errno from pipe2/posix_spawn (ENOENT,
  // EACCES, ENOEXEC, a bad cwd...) or pidfd_open (EMFILE...).
  static Result<std::unique_ptr<Process>> spawn(Loop& loop, Options options);
  ~Process() override;

  pid_t pid() const noexcept { return pid_; }
  // The exit was seen (and the child reaped).
  bool exited() const noexcept { return state_ == State::exited; }
  // Sends `signo` (pidfd_send_signal: never a recycled pid). ESRCH once the child was reaped or released.
  std::error_code kill(int signo = SIGTERM) noexcept;

  // co_await wait(): the exit status (at once if already seen). Error::closed if the Process was closed or
  // destroyed before the exit was seen, Error::cancelled, or on_exit's errors. Any number may wait.
  WaitAwaiter wait() noexcept;
  // Replaces the exit callback (see ProcessOptions::on_exit). Set right after spawn it is never late: exits
  // are only seen in loop callbacks. Set after the exit was seen, it is not called.
  void on_exit(ExitCallback cb) { on_exit_ = std::move(cb); }

  // The parent's ends of the pipes asked for in Options::stdio; closed readers/writers otherwise.
  PipeWriter& stdin_pipe() noexcept { return stdin_; }
  PipeReader& stdout_pipe() noexcept { return stdout_; }
  PipeReader& stderr_pipe() noexcept { return stderr_; }

 private:
  enum class State { running, exited, released };
  Process(Loop& loop, Options& options, const int (&parent_fds)[3]);
  void on_stop() noexcept override;
  std::error_code watch_exit() noexcept;
  void check_exit() noexcept;
  void release_child() noexcept;
  Result<ExitStatus> result() const;

  pid_t pid_ = -1;
  int pidfd_ = -1;
  State state_ = State::running;
  ExitStatus status_;
  std::error_code exit_error_;
  bool kill_on_destroy_;
  ExitCallback on_exit_;
  std::optional<IoWatcher> exit_watcher_;  // pidfd
  std::optional<Signal> sigchld_;          // fallback without pidfd
  IntrusiveList<WaitAwaiter, detail::ProcessWaitTag> waiters_;
  PipeWriter stdin_;
  PipeReader stdout_, stderr_;
  bool* alive_ = nullptr;  // set while waiters and on_exit run; cleared by the destructor
};

class Process::WaitAwaiter : public ListHook<detail::ProcessWaitTag> {
 public:
  explicit WaitAwaiter(Process* process) noexcept : process_(process) {}
  WaitAwaiter(WaitAwaiter&&) = delete;

  bool await_ready() noexcept {
    if (process_->state_ == State::running && !process_->is_closing()) return false;
    complete(process_->result());
    return true;
  }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> awaiting) {
    CancelToken token = detail::token_of(awaiting);
    if (token.cancelled()) {
      ec_ = Error::cancelled;
      return false;
    }
    handle_ = awaiting;
    process_->waiters_.push_back(*this);
    cancel_.attach(token, [this] {
      unlink_from_list();
      ec_ = Error::cancelled;
      process_->loop().queue_resume(handle_);
    });
    return true;
  }
  Result<ExitStatus> await_resume() const {
    if (ec_) return ec_;
    return status_;
  }

 private:
  friend class Process;
  void complete(const Result<ExitStatus>& r) noexcept {
    cancel_.detach();
    if (r.ok()) {
      status_ = r.value();
    } else {
      ec_ = r.error();
    }
  }
  Process* process_;
  ExitStatus status_;
  std::error_code ec_;
  std::coroutine_handle<> handle_;
  CancelCallback cancel_;
};

inline PipeReader::ReadAwaiter PipeReader::read(std::size_t max) noexcept { return ReadAwaiter(this, max); }
inline PipeWriter::WriteAwaiter PipeWriter::write(std::string_view data) noexcept {
  return WriteAwaiter(this, data);
}
inline Process::WaitAwaiter Process::wait() noexcept { return WaitAwaiter(this); }

}  // namespace waitless
