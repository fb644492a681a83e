// Coroutine frames come from a per-thread free list by size class, so a Task per request allocates
// nothing after warm-up. Frames above kMaxPooled bytes, and all frames under AddressSanitizer (which must
// see every use after free), go to the global allocator.
#pragma once
#include <cstddef>
#include <cstdint>

namespace waitless::detail {

inline constexpr std::size_t kFrameGranule = 64;
inline constexpr std::size_t kMaxPooled = 2048;
inline constexpr std::size_t kMaxFreePerClass = 1024;  // bounds memory parked per thread per size class

void* allocate_frame(std::size_t size);
void free_frame(void* p, std::size_t size) noexcept;
// Coroutine frames created on this thread so far (tests: "this path creates no coroutine").
uint64_t frames_allocated() noexcept;

}  // namespace waitless::detail
