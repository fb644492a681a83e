// Cancellation: a CancelSource fires; CancelTokens observe; CancelCallbacks react (as std::stop_source /
// stop_token / stop_callback, but single-threaded, so no atomics). Every awaitable of the library takes
// the awaiting Task's token, so cancelling a task stops its pending waits: they complete with
// Error::cancelled.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>

#include "waitless/base/intrusive_list.hpp"

namespace waitless {

class CancelCallback;

namespace detail {
// Shared by a source, its tokens and its registered callbacks; recycled through a per-thread free list
// when the last of them lets go, so a CancelSource made per request (the HTTP server's async handlers)
// allocates nothing once warm. Single-threaded like the rest: released on the thread that uses it.
struct CancelState {
  uint32_t refs = 1;
  bool cancelled = false;
  IntrusiveList<CancelCallback> callbacks;
  CancelState* next_free = nullptr;

  static CancelState* make();
  void add_ref() noexcept { ++refs; }
  void release() noexcept {
    if (--refs == 0) recycle(this);
  }
  static void recycle(CancelState* s) noexcept;
};

struct CancelStatePool {
  static constexpr std::size_t kMax = 1024;
  CancelState* head = nullptr;
  std::size_t size = 0;
  ~CancelStatePool() {
    while (CancelState* s = head) {
      head = s->next_free;
      delete s;
    }
  }
  static CancelStatePool& local() noexcept {
    thread_local CancelStatePool pool;
    return pool;
  }
};

inline CancelState* CancelState::make() {
  CancelStatePool& pool = CancelStatePool::local();
  CancelState* s = pool.head;
  if (!s) return new CancelState;
  pool.head = s->next_free;
  --pool.size;
  s->next_free = nullptr;
  s->refs = 1;
  s->cancelled = false;
  return s;
}

inline void CancelState::recycle(CancelState* s) noexcept {
  CancelStatePool& pool = CancelStatePool::local();
  if (pool.size >= CancelStatePool::kMax) {
    delete s;
    return;
  }
  s->next_free = pool.head;
  pool.head = s;
  ++pool.size;
}
}  // namespace detail

// An observer of a CancelSource. A default-constructed token can never be cancelled.
class CancelToken {
 public:
  CancelToken() = default;
  CancelToken(const CancelToken& o) noexcept : state_(o.state_) {
    if (state_) state_->add_ref();
  }
  CancelToken(CancelToken&& o) noexcept : state_(std::exchange(o.state_, nullptr)) {}
  CancelToken& operator=(CancelToken o) noexcept {
    std::swap(state_, o.state_);
    return *this;
  }
  ~CancelToken() {
    if (state_) state_->release();
  }
  bool cancelled() const noexcept { return state_ && state_->cancelled; }
  bool can_be_cancelled() const noexcept { return state_ != nullptr; }

 private:
  friend class CancelSource;
  friend class CancelCallback;
  explicit CancelToken(detail::CancelState* s) noexcept : state_(s) { state_->add_ref(); }
  detail::CancelState* state_ = nullptr;
};

// Runs `fn` once when the token is cancelled (at once if it already is). Unregisters on destruction, so
// a callback never outlives the awaiter that owns it.
class CancelCallback : public ListHook<> {
 public:
  CancelCallback() = default;
  CancelCallback(const CancelToken& token, std::function<void()> fn) { attach(token, std::move(fn)); }
  CancelCallback(const CancelCallback&) = delete;
  CancelCallback& operator=(const CancelCallback&) = delete;
  ~CancelCallback() { detach(); }

  void attach(const CancelToken& token, std::function<void()> fn);
  void detach() noexcept;

 private:
  friend class CancelSource;
  detail::CancelState* state_ = nullptr;
  std::function<void()> fn_;
};

class CancelSource {
 public:
  CancelSource() : state_(detail::CancelState::make()) {}
  // A child source: cancelled when `parent` is, or by its own cancel().
  explicit CancelSource(const CancelToken& parent) : CancelSource() {
    if (parent.can_be_cancelled()) link_.attach(parent, [this] { cancel(); });
  }
  CancelSource(const CancelSource&) = delete;
  CancelSource& operator=(const CancelSource&) = delete;
  ~CancelSource() {
    link_.detach();
    state_->release();
  }

  CancelToken token() const noexcept { return CancelToken(state_); }
  bool cancelled() const noexcept { return state_->cancelled; }
  // Fires every registered callback, in registration order. Cancelling twice is a no-op (returns false).
  bool cancel();

 private:
  detail::CancelState* state_;
  CancelCallback link_;
};

inline void CancelCallback::attach(const CancelToken& token, std::function<void()> fn) {
  detach();
  if (!token.state_) return;
  if (token.state_->cancelled) {
    fn();
    return;
  }
  state_ = token.state_;
  state_->add_ref();
  fn_ = std::move(fn);
  state_->callbacks.push_back(*this);
}

inline void CancelCallback::detach() noexcept {
  if (!state_) return;
  unlink_from_list();
  std::exchange(state_, nullptr)->release();
}

inline bool CancelSource::cancel() {
  if (state_->cancelled) return false;
  state_->cancelled = true;
  state_->add_ref();  // a callback may destroy the source
  detail::CancelState* s = state_;
  while (CancelCallback* cb = s->callbacks.pop_front()) {
    auto fn = std::move(cb->fn_);
    cb->state_ = nullptr;
    s->release();  // the callback's reference
    fn();          // may destroy cb
  }
  s->release();
  return true;
}

}  // namespace waitless
