// Coroutine frames come from the thread's block cache (base/block_cache.hpp), so a Task per request
// allocates nothing after warm-up.
#pragma once
#include <cstddef>
#include <cstdint>

namespace waitless::detail {

void* allocate_frame(std::size_t size);
void free_frame(void* p, std::size_t size) noexcept;
// Coroutine frames created on this thread so far (tests: "this path creates no coroutine").
uint64_t frames_allocated() noexcept;

}  // namespace waitless::detail
