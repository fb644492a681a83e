#include "waitless/web/log_sink.hpp"

#include <fcntl.h>
#include <unistd.h>

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
    : fd_(fd), owns_fd_(owns_fd), max_pending_(max_pending) {
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
  }
  if (was_empty) wake_.notify_one();  // the writer sleeps only when nothing is pending
}

void LogSink::flush() {
  std::unique_lock lock(mutex_);
  const uint64_t target = queued_seq_;
  written_.wait(lock, [&] { return written_seq_ >= target; });
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
    wake_.wait(lock, [&] { return stop_ || !pending_.empty(); });
    if (pending_.empty() && stop_) return;
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
