// For tests only: a blocking HTTP/1.1 client on raw sockets (so a test can send anything, pipelined or
// broken), and a harness that serves a Server on a test loop while a client runs on another thread.
#pragma once
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "waitless/http/header.hpp"
#include "waitless/http/server.hpp"

namespace waitless::http::testing {

struct TestResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string raw_head;
  std::string header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (iequals(n, name)) return v;
    }
    return {};
  }
  bool has(std::string_view name) const {
    for (const auto& h : headers) {
      if (iequals(h.first, name)) return true;
    }
    return false;
  }
};

class TestClient {
 public:
  explicit TestClient(uint16_t port, int timeout_ms = 5000) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~TestClient() { close(); }
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // The next response (an interim 1xx is returned as one too). nullopt on EOF, timeout or garbage.
  std::optional<TestResponse> read_response(bool head_request = false) {
    TestResponse r;
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    r.raw_head = buf_.substr(0, end + 4);
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    if (head.compare(0, 9, "HTTP/1.1 ") != 0) return std::nullopt;
    r.status = std::atoi(head.c_str() + 9);
    std::size_t pos = head.find("\r\n");
    while (pos != std::string::npos) {
      std::size_t next = head.find("\r\n", pos + 2);
      std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
      std::size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::size_t v = line.find_first_not_of(' ', colon + 1);
        r.headers.emplace_back(line.substr(0, colon), v == std::string::npos ? "" : line.substr(v));
      }
      pos = next;
    }
    if (r.status < 200 || r.status == 204 || r.status == 304 || head_request) return r;
    if (iequals(r.header("Transfer-Encoding"), "chunked")) {
      for (;;) {
        std::size_t eol;
        while ((eol = buf_.find("\r\n")) == std::string::npos) {
          if (!fill()) return std::nullopt;
        }
        std::size_t size = std::strtoul(buf_.c_str(), nullptr, 16);
        buf_.erase(0, eol + 2);
        while (buf_.size() < size + 2) {
          if (!fill()) return std::nullopt;
        }
        r.body.append(buf_, 0, size);
        buf_.erase(0, size + 2);
        if (size == 0) return r;
      }
    }
    if (r.has("Content-Length")) {
      std::size_t len = std::strtoul(r.header("Content-Length").c_str(), nullptr, 10);
      while (buf_.size() < len) {
        if (!fill()) return std::nullopt;
      }
      r.body = buf_.substr(0, len);
      buf_.erase(0, len);
      return r;
    }
    while (fill()) {  // delimited by the connection's end
    }
    r.body = std::move(buf_);
    buf_.clear();
    return r;
  }
  // Whether the server closed the connection within timeout_ms (pending bytes are kept).
  bool closed_within(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < until) {
      int left = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now())
              .count());
      if (::poll(&p, 1, left > 0 ? left : 0) <= 0) return false;
      char tmp[4096];
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) return true;
      buf_.append(tmp, static_cast<std::size_t>(n));
    }
    return false;
  }
  std::string& buffered() { return buf_; }

 private:
  bool fill() {
    char tmp[65536];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }
  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

// Serves on a test loop while `client` runs on its own thread; then shuts down and checks the loop ends
// with nothing left.
class Harness {
 public:
  template <typename F>
  void start(F&& handler, ServerOptions options = {}) {
    make(std::forward<F>(handler), std::move(options));
    start_server();
  }
  template <typename F>
  void make(F&& handler, ServerOptions options = {}) {
    server_.emplace(std::forward<F>(handler), std::move(options));
  }
  void start_server() {
    net::ListenOptions lo;
    auto port = server_->attach(loop_, lo);
    ASSERT_TRUE(port.ok()) << port.error().message();
    port_ = port.value();
  }
  Server& server() { return *server_; }
  Loop& loop() { return loop_; }
  uint16_t port() const { return port_; }

  void run(const std::function<void(uint16_t)>& client,
           std::chrono::milliseconds deadline = std::chrono::milliseconds(2000)) {
    std::thread t([&] {
      client(port_);
      server_->shutdown(deadline);
    });
    loop_.run();
    t.join();
    server_.reset();
    EXPECT_EQ(loop_.handle_count(), 0u);
    EXPECT_EQ(loop_.timer_count(), 0u);
    EXPECT_FALSE(loop_.alive());
  }

 private:
  Loop loop_;
  std::optional<Server> server_;
  uint16_t port_ = 0;
};

inline std::string get(std::string_view path, std::string_view extra = {}) {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: test\r\n" + std::string(extra) + "\r\n";
}

}  // namespace waitless::http::testing
