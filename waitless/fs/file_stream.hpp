// Streams over files, with backpressure, and pipe() between any readable and any writable.
//
//   auto in = co_await fs::ReadStream::open("big.log");
//   auto out = co_await fs::WriteStream::open("copy.log");
//   Result<uint64_t> copied = co_await fs::pipe(*in, *out);   // constant memory, ends `out`
//
// AsyncReadable / AsyncWritable are the seam: a TCP stream (or a gzip transform) implements the same two
// interfaces and plugs into pipe() unchanged. They are small virtual interfaces rather than concepts so a
// pipeline can be assembled at run time (file or socket chosen per request).
//
// Errors are values: an open, read or write that fails answers its errno (ENOENT for a vanished path...).
// Note the Unix rule: a file unlinked while a stream has it open stays readable through that stream.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "waitless/async/task.hpp"
#include "waitless/base/result.hpp"
#include "waitless/fs/file.hpp"

namespace waitless::fs {

inline constexpr std::size_t kDefaultHighWaterMark = std::size_t{64} * 1024;

// A source of chunks. read() answers the next chunk, an empty one at the end (and again if asked again).
// One read() at a time.
class AsyncReadable {
 public:
  virtual ~AsyncReadable() = default;
  virtual Task<Result<std::string>> read() = 0;
};

// A sink with backpressure. write() accepts the chunk at once and completes when no more than the sink's
// high-water mark is waiting to be written, so a producer that awaits each write holds at most
// high_water_mark + one chunk in the sink. end() writes what is queued, closes, and reports the first error.
// A write after end() is Error::closed. Every later call reports a write error once one happened.
class AsyncWritable {
 public:
  virtual ~AsyncWritable() = default;
  virtual Task<Result<void>> write(std::string chunk) = 0;
  virtual Task<Result<void>> end() = 0;
};

struct PipeOptions {
  bool end = true;  // end() the destination after the source's last chunk (not after an error)
};

// Copies `from` into `to` chunk by chunk, awaiting each write, so memory stays at one chunk plus the
// destination's high-water mark. Answers the bytes copied; the first error, or Error::cancelled if the
// awaiting task is cancelled (then `to` is left as it is: neither ended nor closed). Both must outlive it.
Task<Result<uint64_t>> pipe(AsyncReadable& from, AsyncWritable& to, PipeOptions options = {});

struct ReadStreamOptions {
  std::size_t high_water_mark = kDefaultHighWaterMark;  // bytes per chunk (0 is taken as 1)
  uint64_t start = 0;                                   // offset of the first byte
};

// Reads a file front to back in chunks of high_water_mark bytes (the last one shorter). The stream must
// outlive a read() in flight.
class ReadStream final : public AsyncReadable {
 public:
  static Task<Result<ReadStream>> open(std::string path, ReadStreamOptions options = {});
  explicit ReadStream(File file, ReadStreamOptions options = {}) noexcept;
  ReadStream(ReadStream&&) noexcept = default;
  ReadStream& operator=(ReadStream&&) noexcept = default;

  // The next chunk; empty at the end of the file. A second read() while one is in flight answers
  // Error::invalid_argument; after close(), Error::closed.
  Task<Result<std::string>> read() override;
  Task<Result<void>> close() { return file_.close(); }

  uint64_t position() const noexcept { return offset_; }
  std::size_t high_water_mark() const noexcept { return high_water_mark_; }

 private:
  File file_;
  std::size_t high_water_mark_;
  uint64_t offset_;
  bool reading_ = false;
};

struct WriteStreamOptions {
  std::size_t high_water_mark = kDefaultHighWaterMark;
  int flags = O_WRONLY | O_CREAT | O_TRUNC;  // O_APPEND to append
  mode_t mode = 0644;
  uint64_t start = 0;  // offset of the first byte written (ignored with O_APPEND)
};

// Writes chunks to a file in the background on the fs pool, in order, batching whatever accumulated while
// the previous batch was written (one pwritev per batch).
//
// Destroying a WriteStream without end() does not lose accepted data: the writes already queued still
// happen, then the file is closed; their errors are then lost (end() is how to see them). A task waiting in
// write() or end() holds the stream's state, so it resumes normally even if the WriteStream object is gone.
// Cancelling a task waiting in write() answers Error::cancelled; its chunk was accepted and is still written.
class WriteStream final : public AsyncWritable {
 public:
  static Task<Result<WriteStream>> open(std::string path, WriteStreamOptions options = {});
  explicit WriteStream(File file, WriteStreamOptions options = {});
  WriteStream(WriteStream&&) noexcept = default;
  WriteStream& operator=(WriteStream&&) noexcept = default;
  ~WriteStream() override = default;

  Task<Result<void>> write(std::string chunk) override;
  Task<Result<void>> end() override;

  // Metrics, for tests and for callers that want to watch a slow disk.
  std::size_t high_water_mark() const noexcept;
  std::size_t queued_bytes() const noexcept;      // accepted, not yet written (including a batch in flight)
  std::size_t max_queued_bytes() const noexcept;  // the most ever queued at once
  uint64_t bytes_written() const noexcept;
  uint64_t waits() const noexcept;  // write() calls that had to wait for the queue to drain

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace waitless::fs
