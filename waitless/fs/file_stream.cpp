#include "waitless/fs/file_stream.hpp"

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <coroutine>
#include <deque>
#include <vector>

#include "waitless/base/intrusive_list.hpp"
#include "waitless/loop/thread_pool.hpp"

namespace waitless::fs {

namespace {

// The awaiting task's loop and token, read without suspending.
struct CurrentLoop {
  Loop* loop = nullptr;
  bool await_ready() const noexcept { return false; }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    loop = &waitless::detail::loop_of(h);
    return false;
  }
  Loop& await_resume() const noexcept { return *loop; }
};

struct CurrentToken {
  CancelToken token;
  bool await_ready() const noexcept { return false; }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    token = waitless::detail::token_of(h);
    return false;
  }
  CancelToken await_resume() const noexcept { return token; }
};

// Writes the whole batch with as few syscalls as the kernel allows: at `offset`, or at the end of the file
// when `append`. Short writes continue where they stopped. Answers the bytes written.
Result<std::size_t> write_batch(int fd, const std::vector<std::string>& batch, uint64_t offset, bool append) {
  std::vector<iovec> iov;
  iov.reserve(batch.size());
  for (const std::string& chunk : batch) {
    iov.push_back(iovec{const_cast<char*>(chunk.data()), chunk.size()});
  }
  std::size_t total = 0;
  std::size_t first = 0;
  while (first < iov.size()) {
    int count = static_cast<int>(std::min<std::size_t>(iov.size() - first, IOV_MAX));
    ssize_t n = append ? ::writev(fd, &iov[first], count)
                       : ::pwritev(fd, &iov[first], count, static_cast<off_t>(offset + total));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_code(errno);
    }
    total += static_cast<std::size_t>(n);
    // Skip what was written: whole buffers, then the written part of a partial one.
    auto left = static_cast<std::size_t>(n);
    while (first < iov.size() && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      ++first;
    }
    if (left > 0) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return total;
}

}  // namespace

// ---- pipe -----------------------------------------------------------------------------------------------

Task<Result<uint64_t>> pipe(AsyncReadable& from, AsyncWritable& to, PipeOptions options) {
  // Checked between chunks too, so a source or sink that never suspends cannot outrun a cancellation.
  CurrentToken current;  // named: GCC 12 mishandles aggregate temporaries with destructors inside co_await
  CancelToken token = co_await current;
  uint64_t total = 0;
  for (;;) {
    if (token.cancelled()) co_return Error::cancelled;
    Result<std::string> chunk = co_await from.read();
    if (!chunk) co_return chunk.error();
    if (chunk->empty()) break;
    total += chunk->size();
    Result<void> written = co_await to.write(std::move(*chunk));
    if (!written) co_return written.error();
  }
  if (options.end) {
    Result<void> ended = co_await to.end();
    if (!ended) co_return ended.error();
  }
  co_return total;
}

// ---- ReadStream -----------------------------------------------------------------------------------------

Task<Result<ReadStream>> ReadStream::open(std::string path, ReadStreamOptions options) {
  Result<File> file = co_await File::open(std::move(path), O_RDONLY);
  if (!file) co_return file.error();
  co_return ReadStream(std::move(*file), options);
}

ReadStream::ReadStream(File file, ReadStreamOptions options) noexcept
    : file_(std::move(file)),
      high_water_mark_(std::max<std::size_t>(options.high_water_mark, 1)),
      offset_(options.start) {}

Task<Result<std::string>> ReadStream::read() {
  if (reading_) co_return Error::invalid_argument;
  if (!file_.is_open()) co_return Error::closed;
  reading_ = true;
  Result<std::string> chunk = co_await file_.read(offset_, high_water_mark_);
  reading_ = false;
  if (chunk) offset_ += chunk->size();
  co_return chunk;
}

// ---- WriteStream ----------------------------------------------------------------------------------------

namespace {
struct DrainWaiter;
}

// Shared by the WriteStream, the batch being written (its completion holds a reference) and every task
// waiting in write()/end(). Touched on the loop's thread only; the worker sees just the batch and the fd.
struct WriteStream::State {
  File file;
  std::size_t high_water_mark = 0;
  uint64_t offset = 0;  // where the next batch goes (unless append)
  bool append = false;
  Loop* loop = nullptr;  // the loop of the first write(): batches report to it

  std::deque<std::string> queue;  // accepted, not yet handed to a batch
  std::size_t queued = 0;         // bytes accepted and not yet written, including the batch in flight
  std::size_t max_queued = 0;
  uint64_t written = 0;
  uint64_t waits = 0;
  bool writing = false;  // a batch is on the fs pool
  bool ended = false;
  std::error_code error;  // the first failure; sticky
  IntrusiveList<DrainWaiter> waiters;
};

namespace {

// Waits until at most `limit` bytes are queued (or the stream failed, or the task is cancelled).
struct DrainWaiter : ListHook<> {
  DrainWaiter(WriteStream::State& s, std::size_t limit) noexcept : state(s), limit(limit) {}
  DrainWaiter(const DrainWaiter&) = delete;
  DrainWaiter& operator=(const DrainWaiter&) = delete;

  bool ready() const noexcept { return state.error || state.queued <= limit; }
  bool await_ready() const noexcept { return ready(); }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> h) {
    CancelToken token = waitless::detail::token_of(h);
    if (token.cancelled()) {
      result = Error::cancelled;
      return false;
    }
    awaiting = h;
    loop = &waitless::detail::loop_of(h);
    state.waiters.push_back(*this);
    cancel.attach(token, [this] {
      if (!in_list()) return;  // already woken
      unlink_from_list();
      result = Error::cancelled;
      loop->queue_resume(awaiting);
    });
    return true;
  }
  std::error_code await_resume() noexcept {
    cancel.detach();
    return result ? result : state.error;
  }

  WriteStream::State& state;
  std::size_t limit;
  std::error_code result;
  std::coroutine_handle<> awaiting;
  Loop* loop = nullptr;
  CancelCallback cancel;
};

void wake(WriteStream::State& s) {
  s.waiters.for_each([&](DrainWaiter& w) {
    if (!w.ready()) return;
    w.unlink_from_list();
    // As a microtask: the woken task may write again, and must not do so inside this completion.
    w.loop->queue_resume(w.awaiting);
  });
}

void kick(const std::shared_ptr<WriteStream::State>& s);

void on_written(const std::shared_ptr<WriteStream::State>& s, Result<std::size_t> result) {
  s->writing = false;
  if (result) {
    s->queued -= *result;
    s->written += *result;
  } else if (!s->error) {
    s->error = result.error();
  }
  wake(*s);
  kick(s);
}

// Starts the next batch if none is in flight: everything queued (up to IOV_MAX chunks), in one job.
void kick(const std::shared_ptr<WriteStream::State>& s) {
  if (s->writing || s->queue.empty() || s->error) return;
  std::vector<std::string> batch;
  std::size_t bytes = 0;
  while (!s->queue.empty() && batch.size() < IOV_MAX) {
    bytes += s->queue.front().size();
    batch.push_back(std::move(s->queue.front()));
    s->queue.pop_front();
  }
  const uint64_t offset = s->offset;
  s->offset += bytes;
  s->writing = true;
  // The fd stays open while the job runs: the completion holds the state, which owns the File, and end()
  // closes only once nothing is in flight.
  auto job = [fd = s->file.fd(), batch = std::move(batch), offset, append = s->append] {
    return write_batch(fd, batch, offset, append);
  };
  auto done = [s](Result<std::size_t> result, const std::exception_ptr&) { on_written(s, result); };
  if (std::error_code ec = pools::fs().submit(*s->loop, std::move(job), std::move(done))) {
    s->writing = false;
    s->error = ec;
    wake(*s);
  }
}

Task<Result<void>> write_chunk(std::shared_ptr<WriteStream::State> s, std::string chunk) {
  if (!s) co_return Error::closed;
  if (s->error) co_return s->error;
  if (s->ended || !s->file.is_open()) co_return Error::closed;
  if (!s->loop) s->loop = &co_await CurrentLoop{};
  if (chunk.empty()) co_return Result<void>();
  s->queued += chunk.size();
  s->max_queued = std::max(s->max_queued, s->queued);
  s->queue.push_back(std::move(chunk));
  kick(s);
  if (s->queued > s->high_water_mark && !s->error) {
    ++s->waits;
    DrainWaiter drained(*s, s->high_water_mark);
    if (std::error_code ec = co_await drained) co_return ec;
  }
  if (s->error) co_return s->error;
  co_return Result<void>();
}

Task<Result<void>> end_stream(std::shared_ptr<WriteStream::State> s) {
  if (!s || s->ended) co_return Error::closed;
  s->ended = true;
  if (!s->loop) s->loop = &co_await CurrentLoop{};
  kick(s);
  DrainWaiter drained(*s, 0);
  std::error_code ec = co_await drained;
  // Cancelled: the queued data is still written in the background and the file closed after it.
  if (ec == Error::cancelled) co_return ec;
  Result<void> closed = co_await s->file.close();
  if (s->error) co_return s->error;
  co_return closed;
}

}  // namespace

Task<Result<WriteStream>> WriteStream::open(std::string path, WriteStreamOptions options) {
  Result<File> file = co_await File::open(std::move(path), options.flags, options.mode);
  if (!file) co_return file.error();
  co_return WriteStream(std::move(*file), options);
}

WriteStream::WriteStream(File file, WriteStreamOptions options) : state_(std::make_shared<State>()) {
  state_->file = std::move(file);
  state_->high_water_mark = options.high_water_mark;
  state_->offset = options.start;
  state_->append = (options.flags & O_APPEND) != 0;
}

// Not coroutines themselves: the tasks hold the state, never the WriteStream.
Task<Result<void>> WriteStream::write(std::string chunk) { return write_chunk(state_, std::move(chunk)); }
Task<Result<void>> WriteStream::end() { return end_stream(state_); }

std::size_t WriteStream::high_water_mark() const noexcept { return state_ ? state_->high_water_mark : 0; }
std::size_t WriteStream::queued_bytes() const noexcept { return state_ ? state_->queued : 0; }
std::size_t WriteStream::max_queued_bytes() const noexcept { return state_ ? state_->max_queued : 0; }
uint64_t WriteStream::bytes_written() const noexcept { return state_ ? state_->written : 0; }
uint64_t WriteStream::waits() const noexcept { return state_ ? state_->waits : 0; }

}  // namespace waitless::fs
