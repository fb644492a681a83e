// FIFO on a power-of-two ring: no allocation once it has grown to its working size.
#pragma once
#include <cstddef>
#include <memory>
#include <utility>

namespace waitless {

template <typename T>
class RingQueue {
 public:
  RingQueue() = default;
  RingQueue(const RingQueue&) = delete;
  RingQueue& operator=(const RingQueue&) = delete;

  bool empty() const noexcept { return head_ == tail_; }
  std::size_t size() const noexcept { return tail_ - head_; }
  void push(T value) {
    if (size() == cap_) grow();
    slots_[tail_++ & (cap_ - 1)] = std::move(value);
  }
  // Visits queued items front to back (they may be modified in place, not added or removed).
  template <typename F>
  void for_each(F&& f) {
    for (std::size_t i = head_; i != tail_; ++i) f(slots_[i & (cap_ - 1)]);
  }
  T pop() noexcept {
    T value = std::move(slots_[head_ & (cap_ - 1)]);
    slots_[head_++ & (cap_ - 1)] = T{};
    return value;
  }

 private:
  void grow() {
    std::size_t cap = cap_ ? cap_ * 2 : 64;
    auto slots = std::make_unique<T[]>(cap);
    std::size_t n = size();
    for (std::size_t i = 0; i < n; ++i) slots[i] = std::move(slots_[(head_ + i) & (cap_ - 1)]);
    slots_ = std::move(slots);
    cap_ = cap;
    head_ = 0;
    tail_ = n;
  }
  std::unique_ptr<T[]> slots_;
  std::size_t cap_ = 0, head_ = 0, tail_ = 0;
};

}  // namespace waitless
