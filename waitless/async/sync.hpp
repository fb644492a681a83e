// Coroutine synchronisation on one loop thread: Semaphore, Mutex, Event and the bounded Channel<T>.
//
//   Semaphore slots(4);      if (auto ec = co_await slots.acquire()) co_return ec;  ...  slots.release();
//   Mutex m;                 auto lock = co_await m.lock(); if (!lock) co_return lock.error();
//   Event ready;             co_await ready.wait();          ready.set();
//   Channel<Job> jobs(64);   co_await jobs.send(job);        Result<Job> j = co_await jobs.receive();
//
// Rules shared by every wait here:
// - FIFO: waiters are served in the order they started waiting; a newcomer never overtakes a waiter
//   (released permits, the mutex and channel items are handed to the first waiter directly).
// - Waiters are woken as microtasks on their loop, never inline inside release()/unlock()/set()/send()/
//   close(): the caller keeps running until it suspends or returns.
// - Every wait honours the awaiting task's CancelToken: a token already cancelled fails the wait with
//   Error::cancelled at once (even if it could complete); one cancelled while waiting removes the waiter
//   and completes it with Error::cancelled. A waiter already handed its permit/item when the token fires
//   keeps it (the wait succeeded), so nothing is lost. The try_*() calls ignore tokens.
// - No allocation per wait: the waiter node is intrusive, inside the awaiter, inside the awaiting frame.
//   A primitive allocates one small wake queue (two for a Channel) the first time a wait suspends.
// - A waiting frame destroyed mid-wait unlinks itself. One destroyed after being handed a permit or the
//   mutex but before it resumed gives it back (to the next waiter); a Channel item handed to a receiver
//   destroyed that way is dropped with it.
// - Destroying a primitive completes its waiters (and those woken but not yet resumed with a permit or
//   the mutex) with Error::closed. A Mutex must outlive its guards.
#pragma once
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>

#include "waitless/async/task.hpp"
#include "waitless/base/cancel.hpp"
#include "waitless/base/intrusive_list.hpp"
#include "waitless/base/result.hpp"

namespace waitless {

namespace detail {

class WakeQueue;
class WaitList;

// Base of every awaiter here: one waiting coroutine.
// States: idle -> waiting (on a WaitList) -> woken (result decided, resumption queued) -> resumed.
class SyncWaiter : public ListHook<> {
 public:
  SyncWaiter() = default;
  SyncWaiter(const SyncWaiter&) = delete;
  SyncWaiter& operator=(const SyncWaiter&) = delete;
  ~SyncWaiter();

 protected:
  // The await_suspend of every awaiter: fails at once on a cancelled token, else completes at once if
  // try_now() can (it sets result_ on failure), else waits on `list`. Returns whether to suspend.
  template <typename P, typename TryNow>
  bool suspend(std::coroutine_handle<P> h, WaitList& list, TryNow&& try_now);

  std::error_code result_;

 private:
  friend class WakeQueue;
  friend class WaitList;
  enum class State : uint8_t { idle, waiting, woken, resumed };
  State state_ = State::idle;
  std::coroutine_handle<> handle_;
  Loop* loop_ = nullptr;
  WakeQueue* wq_ = nullptr;
  CancelCallback cancel_;
};

// The woken waiters of one primitive and the microtasks that resume them. Shared (refcounted) by the
// primitive and each queued microtask, so that neither a primitive destroyed nor a waiter destroyed while
// a resumption is queued leaves the loop's microtask queue pointing at freed memory: a microtask resumes
// the first woken waiter of its loop still here, or nothing.
// Invariant: on each loop, queued microtasks >= woken waiters, so a woken waiter's queue is alive.
class WakeQueue {
 public:
  using GiveBack = void (*)(void* owner) noexcept;

  WakeQueue(void* owner, GiveBack give_back) noexcept : owner_(owner), give_back_(give_back) {}
  WakeQueue(const WakeQueue&) = delete;
  WakeQueue& operator=(const WakeQueue&) = delete;

  void wake(SyncWaiter& w, std::error_code result);
  void abandoned(SyncWaiter& w) noexcept;
  // The primitive is going away: later give-backs are dropped; with `revoke`, woken waiters that were
  // granted something of the owner's complete with Error::closed instead.
  void disown(bool revoke) noexcept;
  void release() noexcept {
    if (--refs_ == 0) delete this;
  }

 private:
  void resume_one(Loop* loop) noexcept;

  uint32_t refs_ = 1;
  void* owner_;
  GiveBack give_back_;
  IntrusiveList<SyncWaiter> woken_;
};

// One FIFO of waiters of a primitive. `give_back` (may be null) returns a grant whose waiter died.
class WaitList {
 public:
  WaitList(void* owner, WakeQueue::GiveBack give_back) noexcept : owner_(owner), give_back_(give_back) {}
  WaitList(const WaitList&) = delete;
  WaitList& operator=(const WaitList&) = delete;
  ~WaitList();

  bool empty() const noexcept { return list_.empty(); }
  std::size_t size() const noexcept { return list_.size(); }
  SyncWaiter* front() noexcept { return list_.front(); }
  void push(SyncWaiter& w, std::coroutine_handle<> h, Loop& loop, const CancelToken& token);
  // `w` must be waiting on this list: it leaves it and resumes (as a microtask) with `result`.
  void wake(SyncWaiter& w, std::error_code result) { wq_->wake(w, result); }
  void wake_all(std::error_code result);

 private:
  IntrusiveList<SyncWaiter> list_;
  WakeQueue* wq_ = nullptr;  // created on the first push
  void* owner_;
  WakeQueue::GiveBack give_back_;
};

template <typename P, typename TryNow>
bool SyncWaiter::suspend(std::coroutine_handle<P> h, WaitList& list, TryNow&& try_now) {
  CancelToken token = detail::token_of(h);
  if (token.cancelled()) {
    result_ = Error::cancelled;
    return false;
  }
  if (try_now()) return false;
  list.push(*this, h, detail::loop_of(h), token);
  return true;
}

}  // namespace detail

// Counting semaphore. co_await acquire() -> std::error_code ({} with a permit, or Error::cancelled /
// Error::closed); release() returns permits (any number; there is no maximum).
class Semaphore {
 public:
  explicit Semaphore(std::size_t permits) noexcept : count_(permits) {}

  class [[nodiscard]] Acquire : public detail::SyncWaiter {
   public:
    explicit Acquire(Semaphore& s) noexcept : s_(s) {}
    bool await_ready() const noexcept { return false; }
    template <typename P>
    bool await_suspend(std::coroutine_handle<P> h) {
      return suspend(h, s_.waiters_, [this] { return s_.try_acquire(); });
    }
    std::error_code await_resume() const noexcept { return result_; }

   private:
    Semaphore& s_;
  };

  Acquire acquire() noexcept { return Acquire(*this); }
  // Takes a permit if one is free (never while others wait: a free permit implies no waiter).
  bool try_acquire() noexcept;
  void release(std::size_t n = 1);
  std::size_t available() const noexcept { return count_; }
  std::size_t waiting() const noexcept { return waiters_.size(); }

 private:
  static void give_back(void* self) noexcept;
  std::size_t count_;  // invariant: count_ > 0 implies waiters_ is empty
  detail::WaitList waiters_{this, &Semaphore::give_back};
};

// Mutex without barging: unlock() hands the lock to the first waiter. co_await lock() -> Result<Guard>;
// the Guard unlocks when destroyed (or by guard.unlock()).
class Mutex {
 public:
  Mutex() noexcept = default;

  class [[nodiscard]] Guard {
   public:
    Guard() noexcept = default;
    Guard(Guard&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
    Guard& operator=(Guard&& o) noexcept {
      if (this != &o) {
        unlock();
        m_ = std::exchange(o.m_, nullptr);
      }
      return *this;
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard() { unlock(); }
    void unlock() noexcept {
      if (m_) std::exchange(m_, nullptr)->unlock();
    }
    bool owns_lock() const noexcept { return m_ != nullptr; }

   private:
    friend class Mutex;
    explicit Guard(Mutex* m) noexcept : m_(m) {}
    Mutex* m_ = nullptr;
  };

  class [[nodiscard]] Lock : public detail::SyncWaiter {
   public:
    explicit Lock(Mutex& m) noexcept : m_(m) {}
    bool await_ready() const noexcept { return false; }
    template <typename P>
    bool await_suspend(std::coroutine_handle<P> h) {
      return suspend(h, m_.waiters_, [this] { return m_.try_take(); });
    }
    Result<Guard> await_resume() noexcept {
      if (result_) return result_;
      return Guard(&m_);
    }

   private:
    Mutex& m_;
  };

  Lock lock() noexcept { return Lock(*this); }
  std::optional<Guard> try_lock() noexcept {
    if (!try_take()) return std::nullopt;
    return Guard(this);
  }
  bool locked() const noexcept { return locked_; }
  std::size_t waiting() const noexcept { return waiters_.size(); }

 private:
  bool try_take() noexcept;
  void unlock() noexcept;
  static void give_back(void* self) noexcept;
  bool locked_ = false;  // stays true while the lock is handed from one owner to the next
  detail::WaitList waiters_{this, &Mutex::give_back};
};

// Manual-reset event. set() wakes every waiter and lets later waits through until reset().
// co_await wait() -> std::error_code.
class Event {
 public:
  explicit Event(bool set = false) noexcept : set_(set) {}

  class [[nodiscard]] Wait : public detail::SyncWaiter {
   public:
    explicit Wait(Event& e) noexcept : e_(e) {}
    bool await_ready() const noexcept { return false; }
    template <typename P>
    bool await_suspend(std::coroutine_handle<P> h) {
      return suspend(h, e_.waiters_, [this] { return e_.set_; });
    }
    std::error_code await_resume() const noexcept { return result_; }

   private:
    Event& e_;
  };

  Wait wait() noexcept { return Wait(*this); }
  void set();
  void reset() noexcept { set_ = false; }
  bool is_set() const noexcept { return set_; }
  std::size_t waiting() const noexcept { return waiters_.size(); }

 private:
  bool set_;
  detail::WaitList waiters_{this, nullptr};
};

// Bounded FIFO channel between tasks of one loop thread. capacity 0 is a rendezvous (send waits for a
// receiver). send() waits while the channel is full (backpressure) -> std::error_code; receive() ->
// Result<T>. close() fails every waiting sender (their items are dropped) and, once the buffer is
// drained, every receiver, with Error::closed; items buffered before close() are still received.
template <typename T>
class Channel {
 public:
  explicit Channel(std::size_t capacity)
      : capacity_(capacity), slots_(capacity ? std::make_unique<std::optional<T>[]>(capacity) : nullptr) {}

  class [[nodiscard]] Send : public detail::SyncWaiter {
   public:
    Send(Channel& c, T value) : c_(c), value_(std::move(value)) {}
    bool await_ready() const noexcept { return false; }
    template <typename P>
    bool await_suspend(std::coroutine_handle<P> h) {
      return suspend(h, c_.senders_, [this] { return c_.send_now(*this); });
    }
    std::error_code await_resume() const noexcept { return result_; }

   private:
    friend class Channel;
    Channel& c_;
    T value_;  // moved into the channel or a receiver when the send completes
  };

  class [[nodiscard]] Receive : public detail::SyncWaiter {
   public:
    explicit Receive(Channel& c) noexcept : c_(c) {}
    bool await_ready() const noexcept { return false; }
    template <typename P>
    bool await_suspend(std::coroutine_handle<P> h) {
      return suspend(h, c_.receivers_, [this] { return c_.receive_now(*this); });
    }
    Result<T> await_resume() {
      if (result_) return result_;
      return std::move(*value_);
    }

   private:
    friend class Channel;
    Channel& c_;
    std::optional<T> value_;  // filled when the receive completes
  };

  Send send(T value) { return Send(*this, std::move(value)); }
  Receive receive() noexcept { return Receive(*this); }

  // Without waiting: Error::queue_full if the item would have to wait, Error::closed after close().
  std::error_code try_send(T value) {
    if (closed_) return Error::closed;
    if (!give(value)) return Error::queue_full;
    return {};
  }
  // Without waiting: an item, or nothing if none is ready (closed or not).
  std::optional<T> try_receive() {
    std::optional<T> out;
    take(out);
    return out;
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    senders_.wake_all(Error::closed);
    receivers_.wake_all(Error::closed);  // receivers only wait on an empty buffer
  }
  bool closed() const noexcept { return closed_; }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t waiting_senders() const noexcept { return senders_.size(); }
  std::size_t waiting_receivers() const noexcept { return receivers_.size(); }

 private:
  // Invariants: receivers wait only while the buffer is empty and no sender waits; senders wait only
  // while the buffer is full and no receiver waits.
  bool send_now(Send& s) {
    if (closed_) {
      s.result_ = Error::closed;
      return true;
    }
    return give(s.value_);
  }
  bool receive_now(Receive& r) {
    if (take(r.value_)) return true;
    if (closed_) {
      r.result_ = Error::closed;
      return true;
    }
    return false;
  }
  // Hands `value` to the first waiting receiver, else buffers it if there is room.
  bool give(T& value) {
    if (detail::SyncWaiter* w = receivers_.front()) {
      auto& r = static_cast<Receive&>(*w);
      r.value_.emplace(std::move(value));
      receivers_.wake(r, {});
      return true;
    }
    if (size_ == capacity_) return false;
    slots_[(head_ + size_) % capacity_].emplace(std::move(value));
    ++size_;
    return true;
  }
  // Takes the oldest item (buffered, else straight from a waiting sender); a waiting sender's item then
  // fills the freed slot.
  bool take(std::optional<T>& out) {
    detail::SyncWaiter* w = senders_.front();
    if (size_ > 0) {
      out.emplace(std::move(*slots_[head_]));
      slots_[head_].reset();
      head_ = (head_ + 1) % capacity_;
      --size_;
      if (w) {
        auto& s = static_cast<Send&>(*w);
        slots_[(head_ + size_) % capacity_].emplace(std::move(s.value_));
        ++size_;
        senders_.wake(s, {});
      }
      return true;
    }
    if (w) {  // capacity 0: rendezvous
      auto& s = static_cast<Send&>(*w);
      out.emplace(std::move(s.value_));
      senders_.wake(s, {});
      return true;
    }
    return false;
  }

  std::size_t capacity_;
  std::unique_ptr<std::optional<T>[]> slots_;  // ring of capacity_ slots, allocated once
  std::size_t head_ = 0;
  std::size_t size_ = 0;
  bool closed_ = false;
  detail::WaitList senders_{this, nullptr};
  detail::WaitList receivers_{this, nullptr};
};

}  // namespace waitless
