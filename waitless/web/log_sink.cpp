#include "waitless/web/log_sink.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "waitless/loop/signal.hpp"

namespace waitless::web {

Result<std::shared_ptr<LogSink>> LogSink::open_file(const std::string& path, std::size_t max_pending) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return errno_code(errno);
  return std::shared_ptr<LogSink>(new LogSink(fd, true, max_pending));
}

std::shared_ptr<LogSink> LogSink::standard_output(std::size_t max_pending) {
  return std::shared_ptr<LogSink>(new LogSink(STDOUT_FILENO, false, max_pending));
}

LogSink::LogSink(int fd, bool owns_fd, std::size_t max_pending)
    : fd_(fd),
      owns_fd_(owns_fd),
      max_pending_(max_pending),
      batch_bytes_(std::min(kBatchBytes, max_pending / 2)) {
  // The writer starts with every signal blocked: a process-directed SIGTERM / SIGINT must go to the thread
  // that watches it (App::listen's signalfd), never to this one, where its default action would kill the
  // process instead of the graceful shutdown (loop/signal.hpp).
  SignalBlockScope block;
  thread_ = std::thread([this] { run(); });
}

LogSink::~LogSink() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
  if (owns_fd_) ::close(fd_);
}

void LogSink::write(std::string_view line) {
  bool was_empty;
  bool wake;
  {
    std::lock_guard lock(mutex_);
    if (pending_.size() + line.size() + 1 > max_pending_) {
      ++dropped_;
      return;
    }
    was_empty = pending_.empty();
    pending_.append(line);
    pending_ += '\n';
    ++pending_lines_;
    ++queued_seq_;
    // Wake the writer when it waits for a first line, or when a lingering batch just became big enough;
    // not for every line: a wake is a futex call here and a context switch on a loop's core.
    wake = writer_idle_ ? was_empty
                        : pending_.size() >= batch_bytes_ && pending_.size() - line.size() - 1 < batch_bytes_;
  }
  if (wake) wake_.notify_one();
}

void LogSink::flush() {
  std::unique_lock lock(mutex_);
  const uint64_t target = queued_seq_;
  if (written_seq_ >= target) return;
  ++flush_waiters_;  // the writer stops lingering
  wake_.notify_one();
  written_.wait(lock, [&] { return written_seq_ >= target; });
  --flush_waiters_;
}

uint64_t LogSink::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

uint64_t LogSink::written_lines() const {
  std::lock_guard lock(mutex_);
  return written_seq_;
}

std::error_code LogSink::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

void LogSink::run() {
  std::string batch;
  std::unique_lock lock(mutex_);
  for (;;) {
    writer_idle_ = true;
    wake_.wait(lock, [&] { return stop_ || !pending_.empty(); });
    writer_idle_ = false;
    if (pending_.empty() && stop_) return;
    // Linger: let the loops add lines for up to kLinger before one write(2), so that a busy server wakes
    // this thread about once per kLinger, not once per request (measured with perf on
    // bench/framework_app_bench: the per-line wake and its context switches were a third of its CPU).
    wake_.wait_for(lock, kLinger,
                   [&] { return stop_ || flush_waiters_ > 0 || pending_.size() >= batch_bytes_; });
    batch.clear();
    batch.swap(pending_);  // the loops go on filling the other buffer meanwhile
    const uint64_t lines = pending_lines_;
    pending_lines_ = 0;
    lock.unlock();
    std::error_code failed;
    std::size_t done = 0;
    while (done < batch.size()) {
      ssize_t n = ::write(fd_, batch.data() + done, batch.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        failed = errno_code(errno);
        break;
      }
      done += static_cast<std::size_t>(n);
    }
    lock.lock();
    if (failed && !error_) error_ = failed;
    written_seq_ += lines;
    written_.notify_all();
  }
}

}  // namespace waitless::web
