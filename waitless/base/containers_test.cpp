// Tests for the small base containers: IntrusiveList, IntrusiveHeap, RingQueue, Result.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "waitless/base/intrusive_heap.hpp"
#include "waitless/base/intrusive_list.hpp"
#include "waitless/base/result.hpp"
#include "waitless/base/ring_queue.hpp"

namespace waitless {
namespace {

struct Item : ListHook<> {
  int v;
  explicit Item(int x) : v(x) {}
};

TEST(IntrusiveList, PushPopRemoveSplice) {
  IntrusiveList<Item> a, b;
  Item x(1), y(2), z(3);
  a.push_back(x);
  a.push_back(y);
  a.push_front(z);
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(a.front()->v, 3);
  IntrusiveList<Item>::remove(y);
  EXPECT_EQ(a.size(), 2u);
  a.splice_to(b);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(b.pop_front()->v, 3);
  EXPECT_EQ(b.pop_front()->v, 1);
  EXPECT_EQ(b.pop_front(), nullptr);
}

TEST(IntrusiveList, ItemDestroyedLeavesList) {
  IntrusiveList<Item> a;
  {
    Item x(1);
    a.push_back(x);
  }
  EXPECT_TRUE(a.empty());
}

TEST(IntrusiveList, ForEachMayUnlinkCurrent) {
  IntrusiveList<Item> a;
  Item x(1), y(2), z(3);
  a.push_back(x);
  a.push_back(y);
  a.push_back(z);
  std::vector<int> seen;
  a.for_each([&](Item& it) {
    seen.push_back(it.v);
    IntrusiveList<Item>::remove(it);
  });
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(a.empty());
}

TEST(IntrusiveHeap, RandomOpsKeepOrder) {
  std::mt19937 rng(1);
  std::vector<HeapNode> nodes(500);
  IntrusiveHeap heap;
  uint64_t seq = 0;
  for (auto& n : nodes) {
    n.key = rng() % 50;
    n.seq = seq++;
    heap.push(n);
  }
  for (size_t i = 0; i < nodes.size(); i += 7) heap.remove(nodes[i]);
  int64_t last_key = -1;
  uint64_t last_seq = 0;
  size_t popped = 0;
  while (HeapNode* n = heap.pop()) {
    EXPECT_TRUE(n->key > last_key || (n->key == last_key && n->seq > last_seq));
    last_key = n->key;
    last_seq = n->seq;
    EXPECT_FALSE(n->in_heap());
    ++popped;
  }
  EXPECT_EQ(popped, nodes.size() - (nodes.size() + 6) / 7);
}

TEST(RingQueue, GrowsKeepingOrder) {
  RingQueue<std::string> q;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 1000; ++i) q.push(std::to_string(i));
    for (int i = 0; i < 500; ++i) EXPECT_EQ(q.pop(), std::to_string(i));
    for (int i = 0; i < 500; ++i) q.push("x");
    for (int i = 500; i < 1000; ++i) EXPECT_EQ(q.pop(), std::to_string(i));
    for (int i = 0; i < 500; ++i) EXPECT_EQ(q.pop(), "x");
    EXPECT_TRUE(q.empty());
  }
}

TEST(Result, ValueAndError) {
  Result<int> ok = 5;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 5);
  Result<int> bad = Error::timed_out;
  EXPECT_FALSE(bad);
  EXPECT_EQ(bad.error(), make_error_code(Error::timed_out));
  EXPECT_EQ(bad.error(), std::errc::timed_out);
  EXPECT_THROW((void)bad.value(), std::system_error);
  EXPECT_EQ(bad.value_or(7), 7);
  Result<void> v;
  EXPECT_TRUE(v.ok());
  Result<void> e = errno_code(ENOENT);
  EXPECT_EQ(e.error(), std::errc::no_such_file_or_directory);
}

TEST(Result, ErrorCodeAsValue) {
  Result<std::error_code> value = std::error_code{};
  EXPECT_TRUE(value.ok());
  auto failed = Result<std::error_code>::failure(make_error_code(Error::closed));
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(failed.error(), make_error_code(Error::closed));
}

}  // namespace
}  // namespace waitless
