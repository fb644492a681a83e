#include "waitless/async/frame_allocator.hpp"

#include <cstdint>
#include <new>

namespace waitless::detail {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kPool = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kPool = false;
#else
constexpr bool kPool = true;
#endif
#else
constexpr bool kPool = true;
#endif

struct FreeBlock {
  FreeBlock* next;
};

constexpr std::size_t kClasses = kMaxPooled / kFrameGranule;

struct FreeLists {
  FreeBlock* head[kClasses] = {};
  std::size_t count[kClasses] = {};
  ~FreeLists() {
    for (auto* h : head) {
      while (h) {
        FreeBlock* next = h->next;
        ::operator delete(h);
        h = next;
      }
    }
  }
};

thread_local FreeLists t_free;
thread_local uint64_t t_frames = 0;

std::size_t class_of(std::size_t size) noexcept { return (size + kFrameGranule - 1) / kFrameGranule - 1; }

}  // namespace

uint64_t frames_allocated() noexcept { return t_frames; }

void* allocate_frame(std::size_t size) {
  ++t_frames;
  if (!kPool || size > kMaxPooled) return ::operator new(size);
  std::size_t c = class_of(size);
  if (FreeBlock* b = t_free.head[c]) {
    t_free.head[c] = b->next;
    --t_free.count[c];
    return b;
  }
  return ::operator new((c + 1) * kFrameGranule);
}

void free_frame(void* p, std::size_t size) noexcept {
  if (!kPool || size > kMaxPooled) {
    ::operator delete(p);
    return;
  }
  std::size_t c = class_of(size);
  if (t_free.count[c] >= kMaxFreePerClass) {
    ::operator delete(p);
    return;
  }
  auto* b = static_cast<FreeBlock*>(p);
  b->next = t_free.head[c];
  t_free.head[c] = b;
  ++t_free.count[c];
}

}  // namespace waitless::detail
