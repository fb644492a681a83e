// TcpStream: a connected stream socket (TCP or Unix) on a loop, as Node's net.Socket: the coroutine and
// callback face of a net::Transport (transport.hpp), which does the socket I/O.
//
//   auto s = co_await TcpStream::connect(loop, "localhost", 8080, {.timeout = 5s});
//   if (!s) co_return s.error();                   // ECONNREFUSED, Error::timed_out, a dns error...
//   (*s)->write("hello");
//   auto chunk = co_await (*s)->read();           // Result<std::string>; "" at EOF
//
// Reading. Two forms, one at a time:
//   - on_data(cb): flowing mode, as Node's 'data'. cb gets a view into the loop's receive buffer (one
//     64 KiB buffer per thread, not per connection: an idle connection holds no read buffer), valid only
//     during the call. pause()/resume() stop and restart it; on_end (peer's FIN) and on_error report the
//     rest.
//   - co_await read(): the next chunk as a std::string (a copy), "" at EOF, or the error.
//   At most kMaxReadsPerReadiness reads per readiness, so one busy socket cannot starve the others.
// Writing. write() sends at once what the kernel takes and queues the rest (a copy, in the transport's
//   pooled queue).
//   It returns false once the queue is at or above the high-water mark (default 1 MiB), as Node: the
//   caller should wait for co_await drain() (or on_drain) before writing more. A write to a failed,
//   shut-down or closed stream returns false and is dropped; error() tells why. Writes use MSG_NOSIGNAL:
//   a closed peer is an EPIPE / ECONNRESET value, never a SIGPIPE.
// Ending. shutdown(): FIN after the queued data (half-close; reading goes on). end(): shutdown, then close
//   once the queue is flushed. close() (from Handle): at once, dropping the queue.
//
// Errors (ECONNRESET, EPIPE, ETIMEDOUT...) stop reading and writing, drop the queue, complete pending
// read()/drain() with the error, and are reported once to on_error — from the loop, never from inside a
// write() call. The stream stays open until closed or destroyed.
//
// Callbacks may close or destroy the stream; the stream checks its state after every user callback.
// Pending read()/drain() awaiters complete with Error::closed when the stream is closed or destroyed.
// The stream is an active handle from creation until close (it keeps the loop alive while open, as a
// Node socket does; unref() it for a background connection).
#pragma once
#include <coroutine>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "waitless/async/task.hpp"
#include "waitless/base/intrusive_list.hpp"
#include "waitless/base/result.hpp"
#include "waitless/loop/io_watcher.hpp"
#include "waitless/loop/loop.hpp"
#include "waitless/net/dns.hpp"
#include "waitless/net/socket_address.hpp"
#include "waitless/net/transport.hpp"

namespace waitless::net {

struct ConnectOptions {
  Duration timeout = Duration::zero();  // DNS + connect together; 0: none (the kernel's SYN retries)
  dns::Family family = dns::Family::any;
  bool no_delay = true;  // TCP_NODELAY, as Node's default since v18 (TCP only)
};

class TcpStream final : public Handle, private TransportHandler {
 public:
  static constexpr std::size_t kReadBufferSize = Transport::kReceiveBufferSize;
  static constexpr int kMaxReadsPerReadiness = Transport::kMaxReadsPerReadiness;
  static constexpr std::size_t kDefaultHighWaterMark = 1 << 20;

  class ReadAwaiter;
  class DrainAwaiter;

  // Resolves `host` (numeric hosts need no query), then tries each address in order until one connects.
  // Errors: the last connect error (ECONNREFUSED...), a dns error, Error::timed_out, Error::cancelled
  // (the awaiting task's token).
  static Task<Result<std::unique_ptr<TcpStream>>> connect(Loop& loop, std::string host, uint16_t port,
                                                          ConnectOptions options = {});
  // Connects to one address (IP or Unix path).
  static Task<Result<std::unique_ptr<TcpStream>>> connect(Loop& loop, SocketAddress address,
                                                          ConnectOptions options = {});
  // Wraps a connected socket (from TcpListener, socketpair...). Takes ownership of fd, also on failure
  // (it is closed then). Makes it non-blocking.
  static Result<std::unique_ptr<TcpStream>> adopt(Loop& loop, int fd);
  ~TcpStream() override;

  // ---- reading ----
  // Flowing mode; a null callback leaves it. Replacing the callback from inside itself is allowed.
  void on_data(std::function<void(std::string_view)> cb);
  void on_end(std::function<void()> cb) { on_end_ = std::move(cb); }
  void on_error(std::function<void(std::error_code)> cb) { on_error_ = std::move(cb); }
  // The next chunk (a copy), "" at EOF. Error::invalid_argument while on_data is set or another read()
  // is pending; Error::closed on a closed stream.
  ReadAwaiter read();
  void pause() noexcept;
  void resume() noexcept;
  bool paused() const noexcept { return paused_; }
  bool at_eof() const noexcept { return transport_.at_eof(); }

  // ---- writing ----
  bool write(std::string_view data);
  bool write(std::string&& data);
  bool write(const char* data) { return write(std::string_view(data)); }
  // Completes when the write queue is empty: {} then, or the stream's error, or Error::closed, or
  // Error::cancelled (the awaiting task's token).
  DrainAwaiter drain();
  // Called when the queue empties after a write() returned false (Node's 'drain').
  void on_drain(std::function<void()> cb) { on_drain_ = std::move(cb); }
  std::size_t write_queue_size() const noexcept { return transport_.queued(); }
  void set_high_water_mark(std::size_t bytes) noexcept { high_water_ = bytes; }
  std::size_t high_water_mark() const noexcept { return high_water_; }
  bool write_needs_drain() const noexcept { return transport_.queued() >= high_water_; }

  // FIN after the queued data; reading goes on. Error::closed if closed; a second call is a no-op.
  std::error_code shutdown();
  // shutdown(), then close() once flushed (at once if nothing is queued). on_close as for close().
  void end(std::function<void()> on_close = {});

  // Gives the socket up to a protocol that takes it over (a WebSocket client after its handshake): the fd,
  // open and watched by nobody; the stream ends as if closed. -1 when closed or when written bytes still
  // wait in the queue (they would be lost).
  int release_fd() noexcept;

  std::error_code set_no_delay(bool enable) noexcept;
  // SO_KEEPALIVE; initial_delay > 0 sets TCP_KEEPIDLE (whole seconds), as Node's setKeepAlive.
  std::error_code set_keep_alive(bool enable, Duration initial_delay = Duration::zero()) noexcept;

  int fd() const noexcept { return transport_.is_open() ? transport_.fd() : -1; }
  Result<SocketAddress> local_address() const { return SocketAddress::local_of(fd()); }
  Result<SocketAddress> remote_address() const { return SocketAddress::peer_of(fd()); }
  // The error that failed the stream, if any.
  std::error_code error() const noexcept { return error_; }
  uint64_t bytes_read() const noexcept { return bytes_read_; }
  uint64_t bytes_written() const noexcept { return bytes_accepted_ - (error_ ? 0 : transport_.queued()); }

  class ReadAwaiter : public ListHook<> {
   public:
    explicit ReadAwaiter(TcpStream* s) noexcept : stream_(s) {}
    ReadAwaiter(ReadAwaiter&&) = delete;
    ~ReadAwaiter();
    bool await_ready() noexcept;
    template <typename P>
    void await_suspend(std::coroutine_handle<P> h) {
      suspend(h, detail::token_of(h));
    }
    Result<std::string> await_resume() { return std::move(*result_); }

   private:
    friend class TcpStream;
    void suspend(std::coroutine_handle<> h, const CancelToken& token);
    void complete(Result<std::string> r) noexcept;
    TcpStream* stream_;
    std::optional<Result<std::string>> result_;
    std::coroutine_handle<> awaiting_;
    CancelCallback cancel_;
  };

  class DrainAwaiter : public ListHook<> {
   public:
    explicit DrainAwaiter(TcpStream* s) noexcept : stream_(s) {}
    DrainAwaiter(DrainAwaiter&&) = delete;
    ~DrainAwaiter();
    bool await_ready() noexcept;
    template <typename P>
    void await_suspend(std::coroutine_handle<P> h) {
      suspend(h, detail::token_of(h));
    }
    std::error_code await_resume() const noexcept { return result_; }

   private:
    friend class TcpStream;
    void suspend(std::coroutine_handle<> h, const CancelToken& token);
    void complete(std::error_code ec) noexcept;
    TcpStream* stream_;
    std::error_code result_;
    std::coroutine_handle<> awaiting_;
    CancelCallback cancel_;
  };

 private:
  TcpStream(Loop& loop, int fd);
  void on_stop() noexcept override;
  void teardown(std::error_code waiters_get) noexcept;
  // TransportHandler: each returns false if a user callback destroyed the stream.
  bool on_bytes(const char* data, std::size_t size) noexcept override;
  bool on_eof() noexcept override;
  bool on_writable(std::size_t queued) noexcept override;
  bool on_error(std::error_code ec) noexcept override;
  bool after_flush() noexcept;
  void update_interest() noexcept;
  void fail(std::error_code ec) noexcept;
  bool accept_write(std::string_view data);
  bool wants_read() const noexcept {
    return !transport_.at_eof() && !error_ && (read_waiter_ || (on_data_ && !paused_));
  }
  bool writable_state() const noexcept {
    return transport_.is_open() && !is_closing() && !error_ && !shutdown_requested_;
  }

  Transport transport_;
  bool paused_ = false;
  bool shutdown_requested_ = false;  // shutdown() or end() called: no more writes
  bool ending_ = false;              // end(): close once flushed
  bool need_drain_ = false;          // a write() returned false: call on_drain when the queue empties
  std::error_code error_;
  uint64_t error_notify_ = 0;  // immediate that reports error_ to on_error
  std::function<void()> end_close_cb_;

  std::function<void(std::string_view)> on_data_;
  uint64_t on_data_gen_ = 0;  // bumped by on_data(): a callback replaced from inside itself stays replaced
  std::function<void()> on_end_;
  std::function<void(std::error_code)> on_error_;
  std::function<void()> on_drain_;
  ReadAwaiter* read_waiter_ = nullptr;
  IntrusiveList<DrainAwaiter> drain_waiters_;

  std::size_t high_water_ = kDefaultHighWaterMark;
  uint64_t bytes_read_ = 0;
  uint64_t bytes_accepted_ = 0;  // by write(); bytes_written() = this minus what is still queued
  std::size_t queued_seen_ = 0;  // the transport's queue after the last write or flush (dropped on error)
  bool* alive_ = nullptr;        // set while user callbacks run; cleared by the destructor
};

}  // namespace waitless::net
