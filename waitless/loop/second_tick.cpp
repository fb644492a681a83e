#include "waitless/loop/second_tick.hpp"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <ctime>

#include "waitless/base/syscall.hpp"

namespace waitless {

namespace {
// Until the next wall-clock second (+1 ms), so a seconds clock turns over within a few ms of the real one.
Duration until_next_second() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return std::chrono::nanoseconds(1'000'000'000 - ts.tv_nsec + 1'000'000);
}
}  // namespace

std::error_code SecondTick::start(std::function<void()> cb) {
  cb_ = std::move(cb);
  if (running()) return {};
  if (start_timerfd()) return {};
  auto ec = timer_.start(
      until_next_second(), [this] { cb_(); }, std::chrono::seconds(1));
  if (!ec) timer_.unref();
  return ec;
}

bool SecondTick::start_timerfd() noexcept {
  const int fd = ::timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd < 0) return false;
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  itimerspec its{};
  its.it_interval.tv_sec = 1;
  its.it_value.tv_sec = now.tv_sec + 1;
  its.it_value.tv_nsec = 1'000'000;
  if (::timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, nullptr) == 0) {
    fd_ = fd;
    watcher_.emplace(loop_, fd, [this](unsigned) { on_readable(); });
    if (!watcher_->start(io::readable)) {
      watcher_->unref();  // what the tick serves keeps the loop alive, not the clock
      return true;
    }
    watcher_.reset();
    fd_ = -1;
  }
  sys::close(fd);
  return false;
}

void SecondTick::on_readable() noexcept {
  uint64_t expirations;
  while (sys::read(fd_, &expirations, sizeof expirations) < 0 && errno == EINTR) {
  }
  cb_();
}

void SecondTick::stop() noexcept {
  (void)timer_.stop();
  if (watcher_) {
    watcher_.reset();  // before the fd it watches is closed
    sys::close(fd_);
    fd_ = -1;
  }
}

}  // namespace waitless
