// The poller seam: the only place the loop talks to the kernel's readiness API.
// Four operations (add / modify / remove / wait), as in Redis' ae. Backend: epoll (poller_epoll.cpp);
// an io_uring backend can replace that file behind the same interface without touching callers.
#pragma once
#include <cstdint>
#include <system_error>

namespace waitless {

// Interest and readiness bits. Values match epoll's so the epoll backend translates nothing.
namespace io {
inline constexpr unsigned readable = 0x001;      // EPOLLIN
inline constexpr unsigned writable = 0x004;      // EPOLLOUT
inline constexpr unsigned error = 0x008;         // EPOLLERR (readiness only)
inline constexpr unsigned hangup = 0x010;        // EPOLLHUP (readiness only)
inline constexpr unsigned peer_closed = 0x2000;  // EPOLLRDHUP
}  // namespace io

class Poller {
 public:
  struct Event {
    void* data;       // what add() was given; nullptr once remove() invalidated it
    unsigned events;  // io:: bits
  };
  static constexpr int kMaxEvents = 1024;  // events per wait: also the cap on I/O callbacks per iteration

  Poller();
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  std::error_code add(int fd, unsigned events, void* data) noexcept;
  std::error_code modify(int fd, unsigned events, void* data) noexcept;
  // Removes fd; any event for `data` still undelivered from the current wait() is dropped, so a callback
  // never runs for a watcher that was stopped or freed earlier in the same iteration.
  void remove(int fd, void* data) noexcept;
  // Waits up to timeout_ms (-1: forever, 0: poll). Returns the number of ready events (0 on EINTR).
  int wait(int timeout_ms) noexcept;
  Event& event(int i) noexcept { return events_[i]; }

 private:
  int fd_ = -1;
  int ready_ = 0;
  Event events_[kMaxEvents];
  void* raw_;  // backend's own event array
};

}  // namespace waitless
