#include "waitless/base/block_cache.hpp"

#include <algorithm>
#include <new>

namespace waitless::detail {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCache = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kCache = false;
#else
constexpr bool kCache = true;
#endif
#else
constexpr bool kCache = true;
#endif

struct FreeBlock {
  FreeBlock* next;
};

constexpr std::size_t kClasses = kMaxCachedBlock / kBlockGranule;

struct FreeList {
  FreeBlock* head = nullptr;
  std::size_t count = 0;
  std::size_t low_water = 0;  // the fewest blocks the list held since the last trim: those were not needed

  void push(FreeBlock* b) noexcept {
    b->next = head;
    head = b;
    ++count;
  }
  FreeBlock* pop() noexcept {
    FreeBlock* b = head;
    head = b->next;
    low_water = std::min(low_water, --count);
    return b;
  }
  void release(std::size_t n) noexcept {
    for (; n > 0 && head; --n) ::operator delete(pop());
  }
};

struct Cache {
  FreeList lists[kClasses];

  ~Cache() {
    for (FreeList& l : lists) l.release(l.count);
  }
};

thread_local Cache t_cache;
// Loop::Scopes open on this thread: while there is one, the lists are uncapped. Apart from t_cache, which
// has a destructor: entering and leaving a scope (every loop iteration) then costs no TLS guard check.
thread_local int t_loops = 0;

std::size_t class_of(std::size_t size) noexcept { return (size + kBlockGranule - 1) / kBlockGranule - 1; }

}  // namespace

void* allocate_block(std::size_t size) {
  if (!kCache || size > kMaxCachedBlock) return ::operator new(size);
  const std::size_t c = class_of(size);
  if (FreeList& l = t_cache.lists[c]; l.head) return l.pop();
  return ::operator new((c + 1) * kBlockGranule);
}

void free_block(void* p, std::size_t size) noexcept {
  if (!kCache || size > kMaxCachedBlock) {
    ::operator delete(p);
    return;
  }
  FreeList& l = t_cache.lists[class_of(size)];
  if (l.count >= kKeepPerClass && t_loops == 0) {
    ::operator delete(p);
    return;
  }
  l.push(static_cast<FreeBlock*>(p));
}

void block_cache_enter_loop() noexcept { ++t_loops; }
void block_cache_leave_loop() noexcept { --t_loops; }

void trim_block_cache() noexcept {
  for (FreeList& l : t_cache.lists) {
    const std::size_t unused = std::min(l.low_water, l.count > kKeepPerClass ? l.count - kKeepPerClass : 0);
    l.release(unused);
    l.low_water = l.count;
  }
}

bool block_cache_enabled() noexcept { return kCache; }

std::size_t cached_blocks() noexcept {
  std::size_t n = 0;
  for (const FreeList& l : t_cache.lists) n += l.count;
  return n;
}

}  // namespace waitless::detail
