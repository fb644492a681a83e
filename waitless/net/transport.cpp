#include "waitless/net/transport.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <vector>

#include "waitless/base/error.hpp"
#include "waitless/base/syscall.hpp"

namespace waitless::net {
namespace {

// Per thread (one loop per thread): the receive buffer every transport reads into, and the pool of write
// queues. A queue goes back to the pool as soon as it empties; one that grew past kKeepCapacity gives its
// memory back first, so a burst does not stay resident. The buffer's pointer is a constant-initialised
// thread_local (a plain %fs load on the read path, no initialisation guard), allocated on first use.
struct ThreadState {
  std::vector<std::unique_ptr<OutBuffer>> free_queues;
};
constexpr std::size_t kMaxFreeQueues = 256;
constexpr std::size_t kKeepCapacity = 64 * 1024;

ThreadState& thread_state() {
  thread_local ThreadState s;
  return s;
}

thread_local char* tl_receive = nullptr;

[[gnu::noinline]] char* make_receive_buffer() {
  struct Owner {
    std::unique_ptr<char[]> buffer = std::make_unique<char[]>(Transport::kReceiveBufferSize);
  };
  thread_local Owner owner;  // freed at thread exit
  tl_receive = owner.buffer.get();
  return tl_receive;
}

inline char* receive_buffer_fast() noexcept {
  char* b = tl_receive;
  return b ? b : make_receive_buffer();
}

OutBuffer* acquire_queue() {
  auto& free = thread_state().free_queues;
  if (free.empty()) return new OutBuffer();
  OutBuffer* q = free.back().release();
  free.pop_back();
  return q;
}

}  // namespace

// Reads never nest: they happen only in Transport::on_io, and the loop dispatches one watcher at a time,
// so the buffer lent to one on_bytes call is never overwritten during it.
char* Transport::receive_buffer() noexcept { return receive_buffer_fast(); }

void Transport::release_queue() noexcept {
  OutBuffer* q = std::exchange(queue_, nullptr);
  if (!q) return;
  auto& free = thread_state().free_queues;
  if (free.size() >= kMaxFreeQueues) {
    delete q;
    return;
  }
  if (q->capacity() > kKeepCapacity) q->release();
  q->clear();
  try {
    free.emplace_back(q);
  } catch (...) {
    delete q;
  }
}

std::error_code Transport::update(unsigned events) noexcept {
  if (events == watcher_.events() || (bits_ & kClosed)) return {};
  return watcher_.start(events);
}

std::error_code Transport::fail(int err) noexcept {
  bits_ |= kFailed;
  watcher_.stop();
  release_queue();
  return errno_code(err);
}

// ---- readiness --------------------------------------------------------------------------------------------

inline bool Transport::read_some(unsigned) noexcept {
  char* buf = receive_buffer_fast();
  for (int i = 0; i < kMaxReadsPerReadiness; ++i) {
    const ssize_t n = sys::recv(watcher_.fd(), buf, kReceiveBufferSize, 0);
    if (n > 0) {
      if (!handler_->on_bytes(buf, static_cast<std::size_t>(n))) return false;
      // The handler may have paused, closed or failed us; a short read means the kernel had no more.
      if (static_cast<std::size_t>(n) < kReceiveBufferSize || (bits_ & (kPaused | kClosed | kFailed))) break;
      if (!handler_->wants_bytes()) break;  // the next readiness drops the interest
      continue;
    }
    if (n == 0) {
      bits_ |= kEof;
      if (std::error_code ec = update(watcher_.events() & ~io::readable)) {
        (void)handler_->on_error(ec);
        return false;
      }
      return handler_->on_eof();
    }
    const int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) break;
    (void)handler_->on_error(fail(err));
    return false;
  }
  return true;
}

void Transport::on_io(unsigned events) noexcept {
  // The hot path: open, reading, nothing queued, and the owner wants bytes.
  if (bits_ == 0 && !queue_ && (events & (io::readable | io::hangup | io::error)) &&
      (watcher_.events() & io::readable) && handler_->wants_bytes()) {
    (void)read_some(events);
    return;
  }
  if (bits_ & kConnecting) {
    on_connect_ready();
    return;
  }
  if ((queue_ || (bits_ & kWantWritable)) && (events & (io::writable | io::hangup | io::error))) {
    const std::size_t before = queued();
    if (std::error_code ec = queue_ ? flush() : std::error_code()) {
      (void)handler_->on_error(ec);
      return;
    }
    bool moved = queued() != before;
    if (!queue_ && (bits_ & kWantWritable)) {
      // send_file's wait is over: the socket takes bytes again (or failed: the next send says how).
      bits_ &= static_cast<uint16_t>(~kWantWritable);
      if (std::error_code ec = update(watcher_.events() & ~io::writable)) {
        bits_ |= kFailed;
        (void)handler_->on_error(ec);
        return;
      }
      moved = true;
    }
    if (moved && !handler_->on_writable(queued())) return;
    if (bits_ & kClosed) return;
    if ((bits_ & kLingering) && (bits_ & kEof) && !queue_) {
      close();  // the peer is gone and our last bytes are out: nothing to linger for
      (void)handler_->on_closed();
      return;
    }
  }
  if (!(events & (io::readable | io::hangup | io::error)) || !(watcher_.events() & io::readable)) return;
  if (bits_ & kLingering) {
    (void)drop_input();
    return;
  }
  if ((bits_ & kPaused) || !handler_->wants_bytes()) {
    // Readiness nobody wants (lazy pause): stop watching for it now; resume() restores it.
    if (std::error_code ec = update(watcher_.events() & ~io::readable)) {
      (void)handler_->on_error(ec);
      return;
    }
    if (events & (io::hangup | io::error)) (void)handler_->on_hangup();
    return;
  }
  (void)read_some(events);
}

bool Transport::read_now() noexcept {
  if ((bits_ & (kPaused | kEof | kFailed | kClosed | kLingering)) || !handler_->wants_bytes()) return true;
  return read_some(io::readable);
}

bool Transport::drop_input() noexcept {
  const ssize_t n = sys::recv(watcher_.fd(), receive_buffer(), kReceiveBufferSize, 0);
  if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))) return true;
  if (n == 0 && queue_) {
    // EOF while our last bytes still wait: stop reading, close once they are out (on_io).
    bits_ |= kEof;
    (void)update(watcher_.events() & ~io::readable);
    return true;
  }
  close();
  return handler_->on_closed();
}

// ---- connecting -------------------------------------------------------------------------------------------

Result<Transport::Connecting> Transport::start_connect(const SocketAddress& address, bool no_delay) noexcept {
  if (address.empty()) return Error::invalid_argument;
  int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_code(errno);
  if (address.is_ip() && no_delay) {
    int one = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  // EINTR: the connect goes on asynchronously, as with EINPROGRESS.
  int r = ::connect(fd, address.data(), address.size());
  if (r < 0 && errno != EINPROGRESS && errno != EINTR) {
    int err = errno;
    ::close(fd);
    return errno_code(err);
  }
  return Connecting{fd, r == 0};
}

std::error_code Transport::connect_result(int fd) noexcept {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  return err ? errno_code(err) : std::error_code{};
}

void Transport::on_connect_ready() noexcept {
  bits_ &= static_cast<uint16_t>(~kConnecting);
  if (std::error_code ec = connect_result(watcher_.fd())) {
    (void)handler_->on_error(fail(ec.value()));
    return;
  }
  if (std::error_code ec = update(0)) {
    (void)handler_->on_error(ec);
    return;
  }
  (void)handler_->on_connected();
}

// ---- writing ----------------------------------------------------------------------------------------------

ssize_t Transport::send_now(const char* data, std::size_t size) noexcept {
  return sys::send(watcher_.fd(), data, size, MSG_NOSIGNAL);
}

std::error_code Transport::write_slow(const char* data, std::size_t size) noexcept {
  if (bits_ & (kShutdown | kFailed | kClosed)) return Error::closed;
  if (size == 0) return {};
  if (queue_) {
    queue_->append(data, size);  // leaves with the queue when the socket is writable
    return {};
  }
  return write_rest(data, size, send_now(data, size));
}

std::error_code Transport::write_rest(const char* data, std::size_t size, ssize_t n) noexcept {
  if (n < 0) {
    const int err = errno;
    if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR) return fail(err);
    n = 0;
  }
  const auto sent = static_cast<std::size_t>(n);
  if (sent == size) return {};
  queue_ = acquire_queue();
  queue_->append(data + sent, size - sent);
  if (std::error_code ec = update(watcher_.events() | io::writable)) {
    bits_ |= kFailed;
    release_queue();
    return ec;
  }
  return {};
}

namespace {
std::atomic<uint64_t> g_file_bytes_sent{0};
}  // namespace

uint64_t Transport::file_bytes_sent() noexcept { return g_file_bytes_sent.load(std::memory_order_relaxed); }

Result<std::size_t> Transport::send_file(int file_fd, uint64_t offset, std::size_t count) noexcept {
  if (bits_ & (kShutdown | kFailed | kClosed)) return Error::closed;
  std::size_t sent = 0;
  if (queue_) {
    bits_ |= kWantWritable;  // the queue is watched for writable already; its bytes go first
    return sent;
  }
  while (sent < count) {
    auto at = static_cast<off_t>(offset + sent);
    const ssize_t n = ::sendfile(watcher_.fd(), file_fd, &at, count - sent);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0) break;  // the file's end
    const int err = errno;
    if (err == EINTR) continue;
    if (err != EAGAIN && err != EWOULDBLOCK) {
      g_file_bytes_sent.fetch_add(sent, std::memory_order_relaxed);
      return fail(err);
    }
    bits_ |= kWantWritable;
    if (std::error_code ec = update(watcher_.events() | io::writable)) {
      bits_ |= kFailed;
      return ec;
    }
    break;
  }
  g_file_bytes_sent.fetch_add(sent, std::memory_order_relaxed);
  return sent;
}

std::error_code Transport::flush() noexcept {
  while (queue_ && !queue_->empty()) {
    const ssize_t n = sys::send(watcher_.fd(), queue_->data(), queue_->size(), MSG_NOSIGNAL);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) return {};
      return fail(err);
    }
    const auto sent = static_cast<std::size_t>(n);
    const bool all = sent == queue_->size();
    queue_->consume(sent);
    if (!all) return {};  // the kernel's buffer is full: the next writable event goes on
  }
  release_queue();
  if (std::error_code ec = update(watcher_.events() & ~io::writable)) {
    bits_ |= kFailed;
    return ec;
  }
  if ((bits_ & kShutdown) && !(bits_ & kFinSent)) return send_fin();
  return {};
}

// ---- ending -----------------------------------------------------------------------------------------------

std::error_code Transport::send_fin() noexcept {
  bits_ |= kFinSent;
  if (::shutdown(watcher_.fd(), SHUT_WR) < 0 && errno != ENOTCONN) return fail(errno);
  return {};
}

std::error_code Transport::shutdown() noexcept {
  if (bits_ & (kClosed | kFailed)) return Error::closed;
  if (bits_ & kShutdown) return {};
  bits_ |= kShutdown;
  return queue_ ? std::error_code() : send_fin();
}

bool Transport::close_lingering(int64_t deadline) noexcept {
  if ((bits_ & (kClosed | kFailed)) || (!queue_ && (bits_ & kEof)) || shutdown()) {
    close();
    return false;
  }
  bits_ |= kLingering;
  bits_ &= static_cast<uint16_t>(~kPaused);
  deadline_ = deadline;
  const unsigned want = (bits_ & kEof ? 0u : io::readable) | (queue_ ? io::writable : 0u);
  if (update(want)) {
    close();
    return false;
  }
  return true;
}

void Transport::close() noexcept {
  if (bits_ & kClosed) return;
  bits_ |= kClosed;
  watcher_.stop();
  ::close(watcher_.fd());
  release_queue();
}

int Transport::release() noexcept {
  if (bits_ & kClosed) return -1;
  bits_ |= kClosed;
  watcher_.stop();
  release_queue();
  return watcher_.fd();
}

}  // namespace waitless::net
