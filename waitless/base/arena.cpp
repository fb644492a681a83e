#include "waitless/base/arena.hpp"

#include <algorithm>
#include <cstdlib>

namespace waitless {

void* Arena::allocate_slow(std::size_t size, std::size_t align) {
  // The next kept block, if the request fits there; otherwise a new one, twice the last (or big enough),
  // linked after the current one so the kept chain stays in order.
  auto fits = [size, align](Block* b) { return b && size + align <= b->size; };
  Block* next = cur_ ? cur_->next : first_;
  if (!fits(next)) {
    std::size_t want = std::max(cur_ ? cur_->size * 2 : first_block_, size + align);
    void* mem = std::malloc(sizeof(Block) + want);
    if (!mem) throw std::bad_alloc();
    ++blocks_allocated_;
    Block* b = new (mem) Block{next, want};
    if (cur_) {
      cur_->next = b;
    } else {
      first_ = b;
    }
    next = b;
  }
  cur_ = next;
  ptr_ = cur_->data();
  end_ = ptr_ + cur_->size;
  return allocate(size, align);
}

void Arena::reset_used() noexcept {
  while (Dtor* d = dtors_) {
    dtors_ = d->next;
    d->fn(d->obj);
  }
  rewind();
}

void Arena::rewind() noexcept {
  // Keep the leading blocks up to keep_bytes: the next request of the same shape allocates nothing. A
  // first block already past it (one large allocation) goes too.
  if (first_->size > keep_bytes_) {
    free_blocks(first_);
    first_ = cur_ = nullptr;
    ptr_ = end_ = nullptr;
    return;
  }
  std::size_t kept = first_->size;
  Block* b = first_;
  while (b->next && kept + b->next->size <= keep_bytes_) {
    b = b->next;
    kept += b->size;
  }
  free_blocks(b->next);
  b->next = nullptr;
  cur_ = first_;
  ptr_ = first_->data();
  end_ = ptr_ + first_->size;
}

void Arena::free_blocks(Block* b) noexcept {
  while (b) {
    Block* next = b->next;
    std::free(b);
    b = next;
  }
}

std::size_t Arena::capacity() const noexcept {
  std::size_t total = 0;
  for (Block* b = first_; b; b = b->next) total += b->size;
  return total;
}

}  // namespace waitless
