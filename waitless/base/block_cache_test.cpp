#include "waitless/base/block_cache.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace waitless::detail {
namespace {

// Each test runs on a thread of its own: its block cache starts empty.
template <typename F>
void on_fresh_thread(F f) {
  std::thread(f).join();
}

std::vector<void*> allocate(std::size_t n, std::size_t size) {
  std::vector<void*> v;
  for (std::size_t i = 0; i < n; ++i) v.push_back(allocate_block(size));
  return v;
}

void free_all(const std::vector<void*>& v, std::size_t size) {
  for (void* p : v) free_block(p, size);
}

TEST(BlockCache, AFreedBlockServesTheNextAllocationOfItsClass) {
  if (!block_cache_enabled()) GTEST_SKIP() << "no cache under AddressSanitizer";
  on_fresh_thread([] {
    constexpr std::size_t kSmall = 12 * kBlockGranule + 1, kLarge = 13 * kBlockGranule;  // one class
    void* a = allocate_block(kSmall);
    free_block(a, kSmall);
    EXPECT_EQ(cached_blocks(), 1u);
    EXPECT_EQ(allocate_block(kLarge), a);
    EXPECT_EQ(cached_blocks(), 0u);
    void* b = allocate_block(kLarge + 1);  // the next class: not the cached block
    EXPECT_NE(b, a);
    free_block(a, kLarge);
    free_block(b, kLarge + 1);
    EXPECT_EQ(cached_blocks(), 2u);
  });
}

TEST(BlockCache, LargeBlocksAreNotCached) {
  on_fresh_thread([] {
    void* p = allocate_block(kMaxCachedBlock + 1);
    free_block(p, kMaxCachedBlock + 1);
    EXPECT_EQ(cached_blocks(), 0u);
  });
}

TEST(BlockCache, WithoutALoopAClassKeepsAtMostItsCap) {
  if (!block_cache_enabled()) GTEST_SKIP() << "no cache under AddressSanitizer";
  on_fresh_thread([] {
    free_all(allocate(kKeepPerClass + 100, 128), 128);
    EXPECT_EQ(cached_blocks(), kKeepPerClass);
  });
}

TEST(BlockCache, UnderALoopABurstIsKeptThenTrimmedOnceUnused) {
  if (!block_cache_enabled()) GTEST_SKIP() << "no cache under AddressSanitizer";
  on_fresh_thread([] {
    const std::size_t burst = 3 * kKeepPerClass;
    block_cache_enter_loop();
    trim_block_cache();  // starts a period
    free_all(allocate(burst, 128), 128);
    EXPECT_EQ(cached_blocks(), burst);  // all of it, for the next burst

    // A period in which the whole burst was used again: nothing is trimmed.
    free_all(allocate(burst, 128), 128);
    trim_block_cache();
    EXPECT_EQ(cached_blocks(), burst);

    // A period in which only half of it was needed: the other half (beyond the cap) goes back.
    free_all(allocate(burst / 2, 128), 128);
    trim_block_cache();
    EXPECT_EQ(cached_blocks(), burst / 2);

    // A period with no use at all: down to the cap, and no further.
    trim_block_cache();
    EXPECT_EQ(cached_blocks(), kKeepPerClass);
    trim_block_cache();
    EXPECT_EQ(cached_blocks(), kKeepPerClass);
    block_cache_leave_loop();

    // Once the loop is gone, frees beyond the cap go back at once.
    free_all(allocate(kKeepPerClass + 10, 128), 128);
    EXPECT_EQ(cached_blocks(), kKeepPerClass);
  });
}

TEST(BlockCache, ABlockFreedOnAnotherThreadJoinsThatThreadsLists) {
  std::vector<void*> blocks;
  on_fresh_thread([&] { blocks = allocate(16, 512); });
  on_fresh_thread([&] {
    free_all(blocks, 512);
    if (block_cache_enabled()) EXPECT_EQ(cached_blocks(), 16u);
    // And serves this thread's allocations.
    free_all(allocate(16, 512), 512);
  });
}

}  // namespace
}  // namespace waitless::detail
