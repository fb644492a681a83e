// Block cache: small blocks (coroutine frames, thread-pool jobs) come from per-thread free lists by size
// class, so what a thread allocates and frees over and over costs a pointer swap instead of a trip through
// malloc (several hundred instructions for a 256-byte block once its tcache bin is empty).
//
// How much a free list keeps:
//   - while a loop is current on the thread (inside Loop::Scope: a loop's iteration, or code that set it
//     up), everything freed: a burst (200 000 pool jobs in flight) is served again from the cache. About
//     once a second the loop trims it (trim_block_cache): the blocks that stayed unused for the whole
//     period, beyond kKeepPerClass, go back to malloc. So the cache holds at most what the thread used
//     at once in the last second or two (a loop blocked in epoll_wait trims when it next wakes);
//   - otherwise, at most kKeepPerClass blocks per class.
// Blocks above kMaxCachedBlock bytes, and every block under AddressSanitizer (which must see each use after
// free), go straight to the global allocator. A block may be freed on another thread than the one that
// allocated it: it joins the freeing thread's lists.
#pragma once
#include <cstddef>
#include <cstdint>

namespace waitless::detail {

inline constexpr std::size_t kBlockGranule = 16;
inline constexpr std::size_t kMaxCachedBlock = 2048;
inline constexpr std::size_t kKeepPerClass = 1024;

void* allocate_block(std::size_t size);
// `size` is the size given to allocate_block.
void free_block(void* p, std::size_t size) noexcept;

// How often a loop trims its thread's cache (Loop::run_once).
inline constexpr int64_t kTrimPeriodNs = 1'000'000'000;

// For Loop::Scope: while a loop is current on the thread, its free lists are not capped.
void block_cache_enter_loop() noexcept;
void block_cache_leave_loop() noexcept;
// Returns the blocks that no allocation needed since the previous trim (beyond kKeepPerClass per class).
// A loop calls it every kTrimPeriodNs (two loops on one thread: twice as often).
void trim_block_cache() noexcept;
// Blocks parked in this thread's free lists, and whether there are any lists (not under ASan) (tests).
std::size_t cached_blocks() noexcept;
bool block_cache_enabled() noexcept;

}  // namespace waitless::detail
