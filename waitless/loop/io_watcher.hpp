// IoWatcher: calls back when a file descriptor is ready. It does not own the fd; whoever owns the fd
// stops (or destroys) the watcher before closing it.
#pragma once
#include <functional>
#include "waitless/base/source_location.hpp"

#include "waitless/loop/loop.hpp"

namespace waitless {

class IoWatcher final : public Handle {
 public:
  using Callback = std::function<void(unsigned events)>;  // events: io:: bits

  IoWatcher(Loop& loop, int fd, Callback cb, SourceLocation where = SourceLocation::current())
      : Handle(loop), fd_(fd), cb_(std::move(cb)), where_(where) {}
  ~IoWatcher() override {
    stop();
    if (alive_) *alive_ = false;
  }

  // Watches for `events` (io::readable | io::writable); 0 stops. Changing the set is one modify call.
  std::error_code start(unsigned events) noexcept;
  void stop() noexcept;
  unsigned events() const noexcept { return events_; }
  int fd() const noexcept { return fd_; }

 private:
  friend class Loop;
  void on_stop() noexcept override { stop(); }
  void dispatch(unsigned events) noexcept;

  int fd_;
  unsigned events_ = 0;
  bool registered_ = false;
  Callback cb_;
  SourceLocation where_;
  bool* alive_ = nullptr;  // set while the callback runs; cleared by the destructor
};

}  // namespace waitless
