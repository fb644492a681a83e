// ThreadServer: the classic blocking server the lab compares waitless against. One std::thread per
// accepted connection, blocking sockets, a hand-written HTTP/1.1 keep-alive loop (apps/lab/mini_http):
// read a request, wait for the "database" (a blocking ppoll() with the I/O time as its timeout: the
// thread sleeps in the kernel exactly as it would in a blocking recv() from a database socket), compute
// the CPU part, write the response. Threads use the default stack size (RLIMIT_STACK, 8 MiB virtual);
// what they cost is what the lab measures, so nothing is tuned.
//
// When the kernel or the process refuses another thread (EAGAIN at thousands of threads), the connection
// is closed at once and counted in refused(): the failure mode of thread-per-connection, made visible.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_set>

#include "waitless/base/result.hpp"

namespace waitless::lab {

struct ThreadServerConfig {
  double io_ms = 0;         // blocking wait per request
  uint64_t cpu_rounds = 0;  // mix_rounds per request
  int backlog = 4096;
};

class ThreadServer {
 public:
  explicit ThreadServer(ThreadServerConfig config);
  ~ThreadServer();
  ThreadServer(const ThreadServer&) = delete;
  ThreadServer& operator=(const ThreadServer&) = delete;

  // Binds and listens on host:port (port 0: ephemeral); returns the bound port.
  Result<uint16_t> listen(const std::string& host, uint16_t port);
  // Accepts on the calling thread until stop(), then waits for every connection thread to finish.
  void serve();
  // Any thread (a signal-waiting thread, a test): stops accepting, wakes every blocked wait and read.
  void stop();

  uint64_t accepted() const noexcept { return accepted_.load(); }
  uint64_t refused() const noexcept { return refused_.load(); }
  std::size_t live_connections() const;

 private:
  void connection(int fd);
  // The I/O part: blocks this thread for io_ms in ppoll() (returns early only when stopping).
  void wait_for_backend() const;

  ThreadServerConfig config_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // eventfd, readable once stop() was called: ends every blocked wait
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> accepted_{0}, refused_{0};
  mutable std::mutex mutex_;
  std::condition_variable all_done_;
  std::unordered_set<int> live_;  // fds of connections whose thread runs (guarded by mutex_)
};

}  // namespace waitless::lab
