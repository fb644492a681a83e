// TcpListener: a listening TCP (or Unix-domain) socket on a loop that hands each accepted connection to a
// callback as a raw fd, which the callee owns (wrap it with TcpStream::adopt, or close it).
//
// Accepting: up to kMaxAcceptsPerReadiness connections per readiness, so one busy listener cannot starve
// the loop (the listen socket is level-triggered: what is left is accepted on the next iteration).
//
// Out of file descriptors (EMFILE/ENFILE): the listener keeps one spare fd (/dev/null, opened at listen).
// It closes the spare, accepts the pending client, closes it at once (the client sees a reset rather than
// waiting in the backlog forever), and reopens the spare; it logs at most once per second. If that still
// fails (the spare could not be reopened, or accept keeps failing) it stops watching the socket for
// kBackoff and then resumes, so it never spins on a socket that stays readable.
//
// Lifetime: the listener is an active handle from listen() until close() or destruction (pause() does not
// change that: a paused server still keeps the loop alive until it is closed). Closing or destroying it
// closes the socket and, for a Unix path it created, unlinks the path. The callback may close or destroy
// the listener; no further connection is delivered after that.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "waitless/base/result.hpp"
#include "waitless/loop/io_watcher.hpp"
#include "waitless/loop/loop.hpp"
#include "waitless/loop/timer.hpp"
#include "waitless/net/socket_address.hpp"

namespace waitless::net {

struct ListenOptions {
  std::string host =
      "127.0.0.1";    // IPv4 or IPv6 literal ("::1", "0.0.0.0", "::"); ignored when unix_path set
  uint16_t port = 0;  // 0: ephemeral; read back with port()
  int backlog = 4096;
  bool reuse_port = false;     // SO_REUSEPORT: one listener per loop, kernel load-balances
  std::string unix_path = {};  // listen on a Unix socket instead ("@name": abstract namespace)
  bool ipv6_only = false;      // IPV6_V6ONLY for "::" (default: dual-stack, as Node)
};

class TcpListener final : public Handle {
 public:
  // fd: accepted, non-blocking, close-on-exec, TCP_NODELAY on (TCP only). The callee owns it.
  using OnConnection = std::function<void(int fd)>;

  static constexpr int kMaxAcceptsPerReadiness = 64;
  static constexpr Duration kBackoff = std::chrono::milliseconds(100);

  // Binds and listens. Errors: Error::invalid_argument (bad host literal, Unix path too long, no callback),
  // or the errno of socket/bind/listen (EADDRINUSE, EACCES...).
  static Result<std::unique_ptr<TcpListener>> listen(Loop& loop, const ListenOptions& options,
                                                     OnConnection cb);
  ~TcpListener() override;

  // The bound port (useful after port 0); 0 for a Unix socket.
  uint16_t port() const noexcept { return address_.port(); }
  const SocketAddress& address() const noexcept { return address_; }
  int fd() const noexcept { return fd_; }

  // Stop / start accepting (graceful shutdown, overload). Connections wait in the kernel backlog meanwhile.
  void pause() noexcept;
  void resume() noexcept;
  bool paused() const noexcept { return paused_; }

  uint64_t accepted_count() const noexcept { return accepted_; }
  // Connections accepted and closed at once because the process was out of file descriptors.
  uint64_t shed_count() const noexcept { return shed_; }

 private:
  TcpListener(Loop& loop, int fd, SocketAddress address, OnConnection cb, std::string owned_path);
  void on_stop() noexcept override;
  void update_watch() noexcept;
  void on_readable() noexcept;
  // Returns true if the accept loop may go on (a client was shed), false to stop this readiness.
  bool on_fd_exhaustion(int err) noexcept;
  void back_off() noexcept;
  void close_socket() noexcept;

  int fd_;
  int spare_fd_ = -1;
  SocketAddress address_;
  OnConnection cb_;
  std::string owned_path_;  // a Unix path this listener bound, unlinked on close
  bool is_tcp_;
  bool paused_ = false;
  bool backing_off_ = false;
  int64_t last_log_ns_ = 0;
  uint64_t accepted_ = 0;
  uint64_t shed_ = 0;
  bool* alive_ = nullptr;  // set while the connection callback runs; cleared by the destructor
  std::optional<IoWatcher> watcher_;
  std::optional<Timer> backoff_timer_;
};

}  // namespace waitless::net
