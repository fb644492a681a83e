#include "apps/lab/thread_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <string>
#include <system_error>
#include <thread>

#include "apps/lab/cpu_work.hpp"
#include "apps/lab/mini_http.hpp"

namespace waitless::lab {

ThreadServer::ThreadServer(ThreadServerConfig config) : config_(config) {
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
}

ThreadServer::~ThreadServer() {
  stop();
  {
    std::unique_lock lock(mutex_);
    all_done_.wait(lock, [this] { return live_.empty(); });
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

Result<uint16_t> ThreadServer::listen(const std::string& host, uint16_t port) {
  if (stop_fd_ < 0) return std::error_code(errno, std::system_category());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1)
    return std::make_error_code(std::errc::invalid_argument);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::error_code(errno, std::system_category());
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd, config_.backlog) != 0) {
    std::error_code ec(errno, std::system_category());
    ::close(fd);
    return ec;
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  listen_fd_ = fd;
  return ntohs(addr.sin_port);
}

void ThreadServer::serve() {
  while (!stopping_.load()) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_.load()) break;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors or memory: let connections wait in the backlog a moment instead of spinning.
        ++refused_;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      break;  // the listening socket was shut down (stop) or failed
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ++accepted_;
    {
      std::lock_guard lock(mutex_);
      live_.insert(fd);
    }
    try {
      std::thread(&ThreadServer::connection, this, fd).detach();
    } catch (const std::system_error&) {
      // No thread for this connection: the model's limit. The client sees its connection closed.
      ++refused_;
      std::lock_guard lock(mutex_);
      live_.erase(fd);
      ::close(fd);
      all_done_.notify_all();
    }
  }
  std::unique_lock lock(mutex_);
  all_done_.wait(lock, [this] { return live_.empty(); });
}

void ThreadServer::stop() {
  if (stopping_.exchange(true)) return;
  if (stop_fd_ >= 0) {
    const uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof one);
  }
  // shutdown() wakes a thread blocked in accept() or recv() on that socket; close() would not.
  if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
  std::lock_guard lock(mutex_);
  for (int fd : live_) ::shutdown(fd, SHUT_RDWR);
}

std::size_t ThreadServer::live_connections() const {
  std::lock_guard lock(mutex_);
  return live_.size();
}

void ThreadServer::wait_for_backend() const {
  if (!(config_.io_ms > 0)) return;
  pollfd p{stop_fd_, POLLIN, 0};
  const double ns = config_.io_ms * 1e6;
  timespec ts{static_cast<time_t>(ns / 1e9), static_cast<long>(std::fmod(ns, 1e9))};
  while (::ppoll(&p, 1, &ts, nullptr) < 0 && errno == EINTR) {
  }
}

void ThreadServer::connection(int fd) {
  char chunk[8192];
  std::string in;
  uint64_t served = 0;
  bool open = true;
  while (open && !stopping_.load()) {
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      break;
    }
    in.append(chunk, static_cast<std::size_t>(n));
    for (;;) {
      MessageHead head;
      const HeadParse r = parse_request_head(in, head);
      if (r == HeadParse::need_more) break;
      if (r == HeadParse::bad) {
        const std::string res = make_response(400, "Bad Request", "bad request\n", true);
        (void)!::send(fd, res.data(), res.size(), MSG_NOSIGNAL);
        open = false;
        break;
      }
      // A body is read and ignored (the lab's client sends none); wait for all of it first.
      if (in.size() < head.head_bytes + head.content_length) break;
      wait_for_backend();
      const uint64_t v = mix_rounds(config_.cpu_rounds, ++served);
      char body[32];
      const int len = std::snprintf(body, sizeof body, "%016llx\n", static_cast<unsigned long long>(v));
      const std::string res =
          make_response(200, "OK", std::string_view(body, static_cast<std::size_t>(len)), head.close);
      std::size_t sent = 0;
      while (sent < res.size()) {
        const ssize_t w = ::send(fd, res.data() + sent, res.size() - sent, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
          open = false;
          break;
        }
        sent += static_cast<std::size_t>(w);
      }
      in.erase(0, head.head_bytes + head.content_length);
      if (head.close) open = false;
      if (!open) break;
    }
  }
  std::lock_guard lock(mutex_);
  live_.erase(fd);
  ::close(fd);
  all_done_.notify_all();
}

}  // namespace waitless::lab
