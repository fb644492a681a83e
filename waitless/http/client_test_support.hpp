// For the client tests only: a scripted HTTP server on raw sockets (to misbehave at will), a real Server on
// the test loop, and a bounded runner. Everything runs on the test's loop, in one thread.
#pragma once
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "waitless/async/task.hpp"
#include "waitless/base/cancel.hpp"
#include "waitless/http/header.hpp"
#include "waitless/http/server.hpp"
#include "waitless/loop/io_watcher.hpp"
#include "waitless/loop/timer.hpp"
#include "waitless/net/tcp_listener.hpp"
#include "waitless/net/test_support.hpp"

namespace waitless::http::testing {

using namespace std::chrono_literals;

// Runs `task` on `loop` under a token that fires after `limit`, so a lost wakeup fails the test instead of
// hanging it (the task then ends with Error::cancelled).
template <typename T>
T run_bounded(Loop& loop, Task<T> task, Duration limit = 5s) {
  CancelSource source;
  Timer guard(loop);
  (void)guard.start(limit, [&] {
    ADD_FAILURE() << "test deadline passed";
    source.cancel();
  });
  guard.unref();
  return net::test::run_task(std::move(task).with_token(source.token()), loop);
}

// A server whose every answer the test writes by hand. Each complete request (head, and a body of its
// Content-Length) is handed to on_request with the connection, which may answer, stay silent, close...
class RawServer {
 public:
  struct Conn {
    RawServer* server = nullptr;
    int fd = -1;
    std::optional<IoWatcher> watcher;
    std::string in;
    int requests = 0;

    // Writes all of `data` (small payloads: the socket buffer takes them at once).
    void send(std::string_view data) {
      while (!data.empty() && fd >= 0) {
        ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          ADD_FAILURE() << "raw server send failed";
          return;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
      }
    }
    void close() {
      watcher.reset();
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
    // Closes with a reset (RST) instead of a FIN.
    void reset() {
      linger l{1, 0};
      if (fd >= 0) (void)::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      close();
    }
  };
  using OnRequest = std::function<void(Conn&, const std::string& request)>;

  RawServer(Loop& loop, OnRequest on_request) : loop_(loop), on_request_(std::move(on_request)) {
    auto l = net::TcpListener::listen(loop, {}, [this](int fd) { adopt(fd); });
    EXPECT_TRUE(l.ok());
    listener_ = std::move(*l);
  }
  ~RawServer() { stop(); }

  uint16_t port() const { return listener_ ? listener_->port() : 0; }
  std::size_t accepts() const { return accepts_; }
  std::size_t peer_closes() const { return peer_closes_; }  // connections the client closed
  std::size_t open() const {
    std::size_t n = 0;
    for (const auto& c : conns_) n += c.fd >= 0;
    return n;
  }
  void stop() {
    listener_.reset();
    for (auto& c : conns_) c.close();
  }

 private:
  void adopt(int fd) {
    ++accepts_;
    Conn& c = conns_.emplace_back();
    c.server = this;
    c.fd = fd;
    c.watcher.emplace(loop_, fd, [this, &c](unsigned) { on_readable(c); });
    (void)c.watcher->start(io::readable);
  }
  void on_readable(Conn& c) {
    char buf[65536];
    ssize_t n = ::read(c.fd, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      ++peer_closes_;
      c.close();
      return;
    }
    c.in.append(buf, static_cast<std::size_t>(n));
    for (;;) {
      std::size_t end = c.in.find("\r\n\r\n");
      if (end == std::string::npos) return;
      std::size_t length = 0;
      std::string head = c.in.substr(0, end + 4);
      for (std::size_t at = head.find("\r\n"); at != std::string::npos; at = head.find("\r\n", at + 2)) {
        std::string_view line(head.data() + at + 2, head.size() - at - 2);
        if (line.size() > 15 && iequals(line.substr(0, 15), "content-length:")) {
          length = std::strtoul(std::string(line.substr(15)).c_str(), nullptr, 10);
        }
      }
      if (c.in.size() < end + 4 + length) return;
      std::string request = c.in.substr(0, end + 4 + length);
      c.in.erase(0, end + 4 + length);
      ++c.requests;
      on_request_(c, request);
      if (c.fd < 0) return;
    }
  }

  Loop& loop_;
  OnRequest on_request_;
  std::unique_ptr<net::TcpListener> listener_;
  std::list<Conn> conns_;  // stable addresses for the watchers' captures
  std::size_t accepts_ = 0;
  std::size_t peer_closes_ = 0;
};

// A real Server attached to the test loop. finish() shuts it down and runs the loop until it is gone.
class TestServer {
 public:
  // Plain HTTP, or TLS with `tls`.
  template <typename F>
  TestServer(Loop& loop, F&& handler, ServerOptions options = {},
             std::shared_ptr<net::TlsContext> tls = nullptr)
      : loop_(loop) {
    server_.emplace(std::forward<F>(handler), std::move(options));
    auto port = server_->attach(loop, net::ListenOptions{}, std::move(tls));
    EXPECT_TRUE(port.ok());
    port_ = port.value_or(0);
  }
  ~TestServer() { finish(); }
  uint16_t port() const { return port_; }
  std::string url(std::string_view path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  Server& server() { return *server_; }
  // Starts the shutdown without running the loop (for several servers on one loop: shut each down, then
  // run the loop once).
  void shutdown() {
    if (server_) server_->shutdown(std::chrono::milliseconds(200));
  }
  void finish() {
    if (!server_) return;
    server_->shutdown(std::chrono::milliseconds(200));
    loop_.run();
    server_.reset();
  }

 private:
  Loop& loop_;
  std::optional<Server> server_;
  uint16_t port_ = 0;
};

inline std::string url_of(uint16_t port, std::string_view path = "/") {
  return "http://127.0.0.1:" + std::to_string(port) + std::string(path);
}

}  // namespace waitless::http::testing
