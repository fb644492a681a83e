#include "waitless/base/arena.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace waitless {
namespace {

TEST(Arena, NoBlockUntilFirstUseThenBumpAllocation) {
  Arena a(256);
  EXPECT_EQ(a.blocks_allocated(), 0u);
  EXPECT_FALSE(a.used());
  a.reset();  // nothing to do
  auto* x = a.make<int64_t>(7);
  auto* y = a.make<int64_t>(8);
  EXPECT_EQ(*x, 7);
  EXPECT_EQ(*y, 8);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(x) % alignof(int64_t), 0u);
  EXPECT_EQ(a.blocks_allocated(), 1u);
  EXPECT_TRUE(a.used());
  std::string_view s = a.copy("hello");
  EXPECT_EQ(s, "hello");
  EXPECT_TRUE(a.copy("").empty());
}

TEST(Arena, ResetRunsDestructorsNewestFirstAndKeepsItsBlocks) {
  std::vector<int> order;
  struct Noisy {
    Noisy(std::vector<int>* o, int i) : order(o), id(i) {}
    ~Noisy() { order->push_back(id); }
    std::vector<int>* order;
    int id;
  };
  Arena a(128, 4096);
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 20; ++i) a.make<Noisy>(&order, i);  // spills over several blocks
    a.reset();
    ASSERT_EQ(order.size(), 20u);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(order[static_cast<std::size_t>(i)], 19 - i);
    order.clear();
  }
  // The first round's blocks served the next two: nothing more from the heap.
  const std::size_t blocks = a.blocks_allocated();
  EXPECT_GT(blocks, 1u);
  for (int i = 0; i < 20; ++i) a.make<Noisy>(&order, i);
  a.reset();
  EXPECT_EQ(a.blocks_allocated(), blocks);
}

TEST(Arena, LargeAllocationsAndTheKeepLimit) {
  Arena a(64, 1024);
  void* big = a.allocate(10000, 16);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big) % 16, 0u);
  std::memset(big, 1, 10000);
  EXPECT_GE(a.capacity(), 10000u);
  a.reset();
  EXPECT_EQ(a.capacity(), 0u);  // a block beyond keep_bytes went back to the heap
  EXPECT_FALSE(a.used());

  (void)a.allocate(32);  // a small first block, then a large one
  (void)a.allocate(5000);
  EXPECT_GE(a.capacity(), 5000u);
  a.reset();
  EXPECT_EQ(a.capacity(), 64u);  // the small one stays for the next user
  const std::size_t blocks = a.blocks_allocated();
  (void)a.allocate(32);
  EXPECT_EQ(a.blocks_allocated(), blocks);
}

TEST(Arena, DestroyedArenaRunsPendingDestructors) {
  int destroyed = 0;
  struct Counted {
    explicit Counted(int* c) : n(c) {}
    ~Counted() { ++*n; }
    int* n;
  };
  {
    Arena a;
    a.make<Counted>(&destroyed);
    a.make<std::string>(100, 'x');  // owns heap memory: freed by its destructor (ASan checks)
  }
  EXPECT_EQ(destroyed, 1);
}

}  // namespace
}  // namespace waitless
