// System calls of the I/O hot path, made directly. glibc's read(), recv(), send() and sendmsg() are
// thread-cancellation points: in a process with more than one thread (every waitless process: pools,
// watchdog) each call switches asynchronous cancellation on and off around the syscall, about 60
// instructions per request in `waitless hello` (callgrind). waitless never cancels threads, so these go to
// the kernel through syscall(2). Same arguments, return values and errno as the libc functions.
#pragma once
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstddef>

namespace waitless::sys {

inline ssize_t read(int fd, void* buf, std::size_t n) noexcept { return ::syscall(SYS_read, fd, buf, n); }

// Linux releases the descriptor even when close is interrupted: EINTR is not retried.
inline int close(int fd) noexcept { return static_cast<int>(::syscall(SYS_close, fd)); }

inline ssize_t recv(int fd, void* buf, std::size_t n, int flags) noexcept {
  return ::syscall(SYS_recvfrom, fd, buf, n, flags, nullptr, nullptr);
}

inline ssize_t send(int fd, const void* buf, std::size_t n, int flags) noexcept {
  return ::syscall(SYS_sendto, fd, buf, n, flags, nullptr, 0);
}

inline ssize_t sendmsg(int fd, const msghdr* msg, int flags) noexcept {
  return ::syscall(SYS_sendmsg, fd, msg, flags);
}

}  // namespace waitless::sys
