// Arena: a bump allocator for objects that all die together, such as everything one HTTP request needs
// beyond its buffers (route parameters, middleware locals, a body filter). Allocation is a pointer bump;
// reset() runs the destructors of what make() built (newest first) and rewinds, keeping the blocks up to
// `keep_bytes` for the next user, so a pooled owner stops allocating once warm.
//
//   Arena a;
//   auto* p = a.make<Params>(...);        // destroyed by reset() or ~Arena()
//   std::string_view s = a.copy(piece);   // bytes valid until reset()
//
// No block is taken before the first allocation: an owner that never uses its arena pays nothing but its
// size. Not thread-safe (one owner, one thread), like everything tied to a loop.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string_view>
#include <type_traits>
#include <utility>

namespace waitless {

class Arena {
 public:
  static constexpr std::size_t kDefaultFirstBlock = 1024;
  static constexpr std::size_t kDefaultKeep = 16 * 1024;

  explicit Arena(std::size_t first_block = kDefaultFirstBlock, std::size_t keep_bytes = kDefaultKeep) noexcept
      : first_block_(first_block), keep_bytes_(keep_bytes) {}
  ~Arena() {
    reset();
    free_blocks(first_);
  }
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // `size` bytes aligned to `align` (a power of two, at most alignof(std::max_align_t)). Throws
  // std::bad_alloc when the heap is exhausted.
  void* allocate(std::size_t size, std::size_t align = alignof(std::max_align_t)) {
    std::uintptr_t p = (reinterpret_cast<std::uintptr_t>(ptr_) + (align - 1)) & ~(std::uintptr_t(align) - 1);
    if (ptr_ && p + size <= reinterpret_cast<std::uintptr_t>(end_)) {
      ptr_ = reinterpret_cast<char*>(p + size);
      return reinterpret_cast<void*>(p);
    }
    return allocate_slow(size, align);
  }

  // A T built in the arena; its destructor runs at reset() (unless trivial).
  template <typename T, typename... Args>
  T* make(Args&&... args) {
    static_assert(alignof(T) <= alignof(std::max_align_t), "over-aligned types are not supported");
    if constexpr (std::is_trivially_destructible_v<T>) {
      return new (allocate(sizeof(T), alignof(T))) T(std::forward<Args>(args)...);
    } else {
      // The record first, so a throwing constructor leaves nothing to destroy.
      auto* d = static_cast<Dtor*>(allocate(sizeof(Dtor), alignof(Dtor)));
      T* obj = new (allocate(sizeof(T), alignof(T))) T(std::forward<Args>(args)...);
      *d = Dtor{[](void* o) noexcept { static_cast<T*>(o)->~T(); }, obj, dtors_};
      dtors_ = d;
      return obj;
    }
  }

  // A copy of `s` whose bytes live until reset().
  std::string_view copy(std::string_view s) {
    if (s.empty()) return {};
    char* p = static_cast<char*>(allocate(s.size(), 1));
    std::memcpy(p, s.data(), s.size());
    return {p, s.size()};
  }

  // Destroys what make() built (newest first) and rewinds. Blocks beyond keep_bytes go back to the heap.
  // Inline only the test: an owner that never used its arena (most requests) pays a compare, and its
  // reset stays small enough to inline into the owner's own clear().
  void reset() noexcept {
    if (first_) reset_used();
  }
  bool used() const noexcept { return first_ && (ptr_ != first_->data() || cur_ != first_); }

  // Blocks taken from the heap over the arena's life, and the bytes it holds now (for tests and stats).
  std::size_t blocks_allocated() const noexcept { return blocks_allocated_; }
  std::size_t capacity() const noexcept;

 private:
  struct Dtor {
    void (*fn)(void*) noexcept;
    void* obj;
    Dtor* next;
  };
  struct alignas(std::max_align_t) Block {
    Block* next;
    std::size_t size;  // usable bytes after the header
    char* data() noexcept { return reinterpret_cast<char*>(this + 1); }
  };

  void* allocate_slow(std::size_t size, std::size_t align);
  [[gnu::noinline]] void reset_used() noexcept;  // the destructors (newest first), then rewind()
  void rewind() noexcept;
  static void free_blocks(Block* b) noexcept;

  Block* first_ = nullptr;
  Block* cur_ = nullptr;
  char* ptr_ = nullptr;
  char* end_ = nullptr;
  Dtor* dtors_ = nullptr;
  std::size_t first_block_;
  std::size_t keep_bytes_;
  std::size_t blocks_allocated_ = 0;
};

}  // namespace waitless
