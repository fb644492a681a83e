// LogSink: where access-log lines go without the loop ever waiting on a disk. write() appends the line to
// an in-memory batch under a short lock; a writer thread of the sink takes whole batches and writes them
// to the file (or stdout) with one write(2) each, lingering up to kLinger to make them big. If the disk
// cannot keep up, lines beyond max_pending bytes are dropped and counted (dropped()) rather than blocking a
// request or growing memory without bound.
//
//   auto sink = LogSink::open_file("/var/log/app/access.log");   // appends; Result<shared_ptr<LogSink>>
//   app.use(logger({.format = LogFormat::json, .sink = *sink}));
//   sink->flush();                                                 // tests, shutdown: wait until written
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "waitless/base/result.hpp"

namespace waitless::web {

class LogSink {
 public:
  static constexpr std::size_t kDefaultMaxPending = std::size_t{8} * 1024 * 1024;
  // The writer collects lines for up to kLinger (or until a batch of kBatchBytes, at most half of
  // max_pending, is pending, or a flush) before it writes them: a line reaches the file within about
  // kLinger, with one wake-up per batch.
  static constexpr std::chrono::milliseconds kLinger{2};
  static constexpr std::size_t kBatchBytes = std::size_t{64} * 1024;

  // Appends to `path` (created 0644 if missing).
  static Result<std::shared_ptr<LogSink>> open_file(const std::string& path,
                                                    std::size_t max_pending = kDefaultMaxPending);
  // Standard output (not closed by the sink).
  static std::shared_ptr<LogSink> standard_output(std::size_t max_pending = kDefaultMaxPending);

  ~LogSink();  // writes what is pending, then stops its thread
  LogSink(const LogSink&) = delete;
  LogSink& operator=(const LogSink&) = delete;

  // Queues one line (a '\n' is added). Any thread; never blocks on I/O.
  void write(std::string_view line);
  // Blocks until every line queued before the call has been written (or failed).
  void flush();
  uint64_t dropped() const;
  uint64_t written_lines() const;
  // The first write(2) error, if any (the sink goes on trying with later batches).
  std::error_code error() const;

 private:
  LogSink(int fd, bool owns_fd, std::size_t max_pending);
  void run();

  const int fd_;
  const bool owns_fd_;
  const std::size_t max_pending_;
  const std::size_t batch_bytes_;  // min(kBatchBytes, max_pending / 2)
  mutable std::mutex mutex_;
  std::condition_variable wake_;     // the writer: work or stop
  std::condition_variable written_;  // flushers: a batch went out
  std::string pending_;
  uint64_t pending_lines_ = 0;
  uint64_t queued_seq_ = 0;   // lines queued so far
  uint64_t written_seq_ = 0;  // lines the writer has finished with
  uint64_t dropped_ = 0;
  std::error_code error_;
  bool writer_idle_ = false;  // the writer waits for a first line (else it lingers or writes)
  int flush_waiters_ = 0;     // flush() calls waiting: the writer does not linger
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace waitless::web
