#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "waitless/base/log.hpp"
#include "waitless/loop/poller.hpp"

namespace waitless {

static_assert(io::readable == EPOLLIN && io::writable == EPOLLOUT && io::error == EPOLLERR &&
              io::hangup == EPOLLHUP && io::peer_closed == EPOLLRDHUP);

Poller::Poller() : raw_(new epoll_event[kMaxEvents]) {
  fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (fd_ < 0) {
    log::error("epoll_create1 failed: {}", std::system_category().message(errno));
    std::abort();  // no loop without a poller: nothing sensible to return to
  }
}

Poller::~Poller() {
  ::close(fd_);
  delete[] static_cast<epoll_event*>(raw_);
}

std::error_code Poller::add(int fd, unsigned events, void* data) noexcept {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = data;
  if (epoll_ctl(fd_, EPOLL_CTL_ADD, fd, &ev) < 0) return {errno, std::system_category()};
  return {};
}

std::error_code Poller::modify(int fd, unsigned events, void* data) noexcept {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = data;
  if (epoll_ctl(fd_, EPOLL_CTL_MOD, fd, &ev) < 0) return {errno, std::system_category()};
  return {};
}

void Poller::remove(int fd, void* data) noexcept {
  epoll_event ev{};
  epoll_ctl(fd_, EPOLL_CTL_DEL, fd, &ev);  // may fail if fd was already closed: the kernel dropped it then
  for (int i = 0; i < ready_; ++i) {
    if (events_[i].data == data) events_[i].data = nullptr;
  }
}

int Poller::wait(int timeout_ms) noexcept {
  auto* raw = static_cast<epoll_event*>(raw_);
  int n = epoll_wait(fd_, raw, kMaxEvents, timeout_ms);
  if (n < 0) {
    if (errno != EINTR) log::error("epoll_wait: {}", std::system_category().message(errno));
    n = 0;
  }
  for (int i = 0; i < n; ++i) events_[i] = Event{raw[i].data.ptr, raw[i].events};
  ready_ = n;
  return n;
}

}  // namespace waitless
