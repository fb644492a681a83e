// Transport: the one place where a connected stream socket is read, written, half-closed and closed. The
// HTTP server's connections, the HTTP client's connections and TcpStream (its coroutine face) all sit on
// it; none of them makes a socket system call of its own.
//
// What it owns: the fd and its IoWatcher, the write queue (taken from a per-thread pool only while bytes
// wait for the kernel: an idle transport holds no buffer), one deadline, a few state bits. Reads go into
// the thread's shared 64 KiB receive buffer (one per loop, as there is one loop per thread): the owner sees
// the bytes during the on_bytes call only and copies what it must keep.
//
// The owner talks to it through a narrow interface:
//   down (calls):   write(), pause()/resume() reading, shutdown() (half-close: FIN after queued bytes),
//                   close_lingering() (FIN, then read and drop until EOF or the deadline), close() (now).
//   up (TransportHandler callbacks, from the loop only, never from inside a call of the owner):
//                   on_bytes (bytes arrived), on_eof (the peer's FIN), on_writable (the write queue moved),
//                   on_error (reset, broken pipe...: reading and writing have stopped), on_hangup (the peer
//                   hung up while reading was paused), on_closed (a lingering close ended), on_connected;
//                   and wants_bytes, asked before each read (the owner's backpressure).
// Each callback returns false when the owner (and with it this transport) may be gone: the transport then
// touches nothing more.
//
// Reading: at most kMaxReadsPerReadiness reads per readiness (one busy socket cannot starve the others);
// a read that does not fill the buffer ends the round (the kernel had no more). pause() (or wants_bytes()
// answering false) is lazy: the read interest is dropped when the next readiness arrives that nobody wants
// (each epoll_ctl is a syscall, and a pause is often undone before then); resume() restores it.
// Writing: write() sends at once what the kernel takes when nothing is queued and queues the rest; with a
// queue, bytes join it and leave when the socket is writable (one writev of the queue). Errors are values:
// write() returns the error that failed the transport (it is not reported again through on_error);
// Error::closed after close() or shutdown(). MSG_NOSIGNAL: a closed peer is EPIPE, never SIGPIPE.
// Backpressure is the owner's policy: queued() is the byte count, on_writable reports each move, so the
// owner applies its own high- and low-water marks (TcpStream: write() false at 1 MiB and 'drain' when
// empty; the HTTP server: stop reading at write_high_water, resume below write_low_water).
// Deadlines: one absolute loop time (ns, 0: none) that the owner's clock checks with expired() — the HTTP
// server's once-a-second sweep — rather than a timer per connection (a heap operation per request).
//
// The seam for TLS (net/tls_layer.hpp): a TLS layer sits between this byte interface and its owner. It
// is the TransportHandler of the socket transport (set_handler) and offers its owner the same calls and
// callbacks: in on_bytes it hands the ciphertext to OpenSSL through a BIO that reads from the bytes of
// that call, SSL_read decrypts into the plaintext it passes up through its own on_bytes; its write() runs
// SSL_write, whose BIO hands the records to Transport::write(); shutdown() is SSL_shutdown's close_notify
// written the same way, then Transport::shutdown(). The socket is never touched by OpenSSL itself (no
// SSL_set_fd), the loop, the queue, backpressure and lingering close stay here. io_uring instead of epoll
// changes only this file: reads complete into a provided buffer (the shared receive buffer's role) and call
// on_bytes, writes are submitted from the queue and on_writable reports completions; the owners do not
// see readiness at all, only the callbacks above.
#pragma once
#include <sys/types.h>
#include <cstddef>

#include <cstdint>
#include <string_view>
#include <system_error>

#include "waitless/base/result.hpp"
#include "waitless/loop/io_watcher.hpp"
#include "waitless/net/out_buffer.hpp"
#include "waitless/net/socket_address.hpp"

namespace waitless::net {

class TransportHandler {
 public:
  // Asked at each readiness before reading: false leaves the bytes in the kernel (backpressure) and drops
  // the read interest until resume(), as pause() does. The HTTP server answers from its state (handlers in
  // flight, output queued, a body nobody asked for) without having to pause at every change of it.
  virtual bool wants_bytes() noexcept { return true; }
  // `data` is in the shared receive buffer, valid during the call only.
  virtual bool on_bytes(const char* data, std::size_t size) noexcept = 0;
  // The peer sent FIN: no more bytes will arrive. Writing may go on (half-close).
  virtual bool on_eof() noexcept = 0;
  // Queued bytes went out because the socket became writable; `queued` is what is left.
  virtual bool on_writable(std::size_t queued) noexcept = 0;
  // Reading or writing failed on the loop (ECONNRESET, EPIPE...): the transport has stopped both.
  virtual bool on_error(std::error_code ec) noexcept = 0;
  // The peer hung up (or reset) while reading was paused. By default nothing: the bytes and the EOF wait
  // for resume().
  virtual bool on_hangup() noexcept { return true; }
  // A lingering close ended (EOF or error while dropping input): the fd is closed.
  virtual bool on_closed() noexcept { return true; }
  // The connect awaited by await_connected() succeeded (a failed one is on_error with its error).
  virtual bool on_connected() noexcept { return true; }

 protected:
  ~TransportHandler() = default;
};

class Transport {
 public:
  static constexpr std::size_t kReceiveBufferSize = 64 * 1024;
  static constexpr int kMaxReadsPerReadiness = 4;

  // Takes the connected, non-blocking `fd` (closed by close() or the destructor). Watches nothing yet.
  Transport(Loop& loop, int fd, TransportHandler* handler) noexcept
      : watcher_(loop, fd, IoWatcher::method<&Transport::on_io>(this)), handler_(handler) {}
  ~Transport() { close(); }
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Who gets the callbacks from now on (a TLS layer slides in between before reading starts).
  void set_handler(TransportHandler* handler) noexcept { handler_ = handler; }

  // Starts reading. An error (the fd cannot be watched) is returned, not reported.
  std::error_code start() noexcept { return update(io::readable); }

  // ---- connecting (the HTTP client, and TcpStream::connect for each address it tries) ----
  struct Connecting {
    int fd;
    bool done;  // connected at once (a Unix socket, usually): nothing to await
  };
  // A non-blocking, close-on-exec socket for `address` (TCP_NODELAY on IP when no_delay) with its connect
  // started. Error::invalid_argument for an empty address.
  static Result<Connecting> start_connect(const SocketAddress& address, bool no_delay = true) noexcept;
  // How a connect started by start_connect ended, once its fd is writable (the socket's SO_ERROR).
  static std::error_code connect_result(int fd) noexcept;
  // Watches for the end of the connect: on_connected, or on_error with the connect's error.
  std::error_code await_connected() noexcept {
    bits_ |= kConnecting;
    return update(io::writable);
  }

  // ---- reading ----
  void pause() noexcept { bits_ |= kPaused; }
  // Fails only if the fd cannot be watched (epoll_ctl: ENOMEM...).
  std::error_code resume() noexcept {
    bits_ &= static_cast<uint16_t>(~kPaused);
    if ((watcher_.events() & io::readable) || !reading_possible()) return {};
    return update(watched() | io::readable);
  }
  bool paused() const noexcept { return bits_ & kPaused; }
  // Reads now what the kernel already holds, as a readiness would (nothing if reading is paused or not
  // wanted). False if a callback returned false.
  bool read_now() noexcept;
  bool at_eof() const noexcept { return bits_ & kEof; }

  // ---- writing ----
  // write() for the hot path: true when all of it went to the kernel at once (no error_code is made).
  // False: the rest was queued, or the write failed (failed() or !is_open(); the error itself is what
  // write() would have returned, not kept).
  bool write_now(const char* data, std::size_t size) noexcept {
    if (bits_ == 0 && !queue_) {
      const ssize_t n = send_now(data, size);
      if (n >= 0 && static_cast<std::size_t>(n) == size) return true;
      (void)write_rest(data, size, n);
      return false;
    }
    (void)write_slow(data, size);
    return false;
  }
  std::error_code write(const char* data, std::size_t size) noexcept {
    // The common case inline: nothing queued, the kernel takes it all.
    if (bits_ == 0 && !queue_ && size > 0) {
      const ssize_t n = send_now(data, size);
      if (n >= 0 && static_cast<std::size_t>(n) == size) return {};
      return write_rest(data, size, n);
    }
    return write_slow(data, size);
  }
  std::error_code write(std::string_view data) noexcept { return write(data.data(), data.size()); }
  std::size_t queued() const noexcept { return queue_ ? queue_->size() : 0; }

  // ---- a file's bytes without copying them (sendfile(2): page cache to socket in the kernel) ----
  // Sends up to `count` bytes of `file_fd` from `offset`, looping until the socket is full. Only from an
  // empty queue (queued bytes go first): with a queue, or once the socket is full, it sends what it can
  // (maybe nothing), and write_blocked() holds until the socket is writable again, which on_writable
  // reports (with queued() == 0 once the queue is out). Returns the bytes sent: fewer than `count` and
  // !write_blocked() means the file ended. An error fails the transport as write() does; Error::closed
  // after shutdown() or close(). Plaintext only: over TLS the bytes must go through OpenSSL (the owner
  // writes them instead).
  Result<std::size_t> send_file(int file_fd, uint64_t offset, std::size_t count) noexcept;
  bool write_blocked() const noexcept { return bits_ & kWantWritable; }
  // Bytes send_file has sent, by every transport of the process (tests check the path is taken).
  static uint64_t file_bytes_sent() noexcept;

  // ---- ending ----
  // FIN once the queue is empty (at once if it is); reading goes on. No write after it.
  std::error_code shutdown() noexcept;
  // Lingering close: FIN after the queue, then read and drop whatever the peer still sends until its EOF
  // (on_closed) or until `deadline` passes (the owner checks expired() and calls close()). Keeps a peer's
  // kernel from answering our last bytes with a reset before the peer read them. False if it could not
  // start (the transport is closed then).
  bool close_lingering(int64_t deadline) noexcept;
  bool lingering() const noexcept { return bits_ & kLingering; }
  // Closes the fd now, dropping the queue. No callback follows.
  void close() noexcept;
  // Gives the fd up without closing it (a connection changing protocols: HTTP's Upgrade): stops watching,
  // drops the queue (read unsent() first to keep it) and ends as close() does. -1 if already closed.
  int release() noexcept;
  // The bytes queued and not yet taken by the kernel.
  std::string_view unsent() const noexcept {
    return queue_ ? std::string_view(queue_->data(), queue_->size()) : std::string_view();
  }

  // ---- state ----
  bool is_open() const noexcept { return !(bits_ & kClosed); }
  bool failed() const noexcept { return bits_ & kFailed; }
  bool shut_down() const noexcept { return bits_ & kShutdown; }
  int fd() const noexcept { return watcher_.fd(); }
  Loop& loop() const noexcept { return watcher_.loop(); }
  // The fd's watcher, for ref/unref/mark_internal (whether the connection keeps the loop alive).
  IoWatcher& watcher() noexcept { return watcher_; }

  void set_deadline(int64_t at) noexcept { deadline_ = at; }
  int64_t deadline() const noexcept { return deadline_; }
  bool expired(int64_t now) const noexcept { return deadline_ != 0 && now >= deadline_; }

  // The thread's shared receive buffer (kReceiveBufferSize bytes).
  static char* receive_buffer() noexcept;

 private:
  // kWantWritable: send_file found the socket full (or a queue before it): on_writable when it drains.
  static constexpr uint16_t kPaused = 1, kEof = 2, kShutdown = 4, kFinSent = 8, kLingering = 16, kFailed = 32,
                            kClosed = 64, kConnecting = 128, kWantWritable = 256;

  void on_io(unsigned events) noexcept;
  void on_connect_ready() noexcept;
  [[gnu::always_inline]] inline bool read_some(unsigned events) noexcept;
  bool drop_input() noexcept;
  // Writes the queue out; returns the error that failed the transport, if any.
  std::error_code flush() noexcept;
  std::error_code send_fin() noexcept;
  ssize_t send_now(const char* data, std::size_t size) noexcept;
  // After send_now() returned n (< size, or -1): queue the rest, or fail.
  std::error_code write_rest(const char* data, std::size_t size, ssize_t n) noexcept;
  std::error_code write_slow(const char* data, std::size_t size) noexcept;
  std::error_code fail(int err) noexcept;
  void release_queue() noexcept;
  bool reading_possible() const noexcept { return !(bits_ & (kEof | kFailed | kClosed)); }
  unsigned watched() const noexcept { return watcher_.events(); }
  std::error_code update(unsigned events) noexcept;

  IoWatcher watcher_;
  TransportHandler* handler_;
  OutBuffer* queue_ = nullptr;  // from the thread's pool while bytes wait; null otherwise
  int64_t deadline_ = 0;
  uint16_t bits_ = 0;
};

}  // namespace waitless::net
