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

  // A std::function callback is boxed on the heap: the watcher itself stores only a Target, so the hot
  // path's watchers (one per connection, Target form) carry no empty std::function (32 bytes each).
  IoWatcher(Loop& loop, int fd, Callback cb, SourceLocation where = SourceLocation::current())
      : Handle(loop), fd_(fd), boxed_(true), target_{nullptr, new Callback(std::move(cb))}, where_(where) {}

  // A member function of an object as the callback: `IoWatcher(loop, fd,
  // IoWatcher::method<&Conn::on_io>(this))`. No closure is stored, so nothing is moved per event and the
  // object may destroy the watcher (and itself) inside the call. For watchers on the hot path (one per
  // connection).
  struct Target {
    void (*fn)(void* self, unsigned events);
    void* self;
  };
  template <auto Method, typename T>
  static Target method(T* self) noexcept {
    return {[](void* p, unsigned events) { (static_cast<T*>(p)->*Method)(events); }, self};
  }
  IoWatcher(Loop& loop, int fd, Target target, SourceLocation where = SourceLocation::current())
      : Handle(loop), fd_(fd), target_(target), where_(where) {}

  ~IoWatcher() override {
    stop();
    if (alive_) *alive_ = false;
    if (boxed_) delete static_cast<Callback*>(target_.self);
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
  bool boxed_ = false;  // target_.self is a heap Callback (target_.fn null), owned
  Target target_{};
  SourceLocation where_;
  bool* alive_ = nullptr;  // set while the callback runs; cleared by the destructor
};

}  // namespace waitless
