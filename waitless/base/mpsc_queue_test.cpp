// Tests for MpscQueue (the queue behind Loop::post). The suite's name contains "Post" so that `make tsan`
// runs it under ThreadSanitizer.
#include "waitless/base/mpsc_queue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace waitless {
namespace {

using Queue = MpscQueue<int>;

TEST(MpscPostQueue, FirstPushOfABatchIsToldToWake) {
  Queue q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.push(1), Queue::Push::first);
  q.end_wake();
  EXPECT_EQ(q.push(2), Queue::Push::queued);
  EXPECT_EQ(q.push(3), Queue::Push::queued);
  std::vector<int> seen;
  EXPECT_EQ(q.drain([&](int& v) noexcept { seen.push_back(v); }), 3u);
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.drain([&](int&) noexcept { ADD_FAILURE(); }), 0u);
  EXPECT_EQ(q.push(4), Queue::Push::first);  // a new batch
  q.end_wake();
  EXPECT_EQ(q.drain([&](int& v) noexcept { seen.push_back(v); }), 1u);
  EXPECT_EQ(seen.back(), 4);
}

TEST(MpscPostQueue, ItemPushedWhileDrainingWaitsForTheNextDrain) {
  MpscQueue<std::function<void()>> q;
  std::vector<int> order;
  ASSERT_EQ(q.push([&] { order.push_back(1); }), MpscQueue<std::function<void()>>::Push::first);
  q.end_wake();
  auto pushed_inside = MpscQueue<std::function<void()>>::Push::closed;
  std::size_t n = q.drain([&](std::function<void()>& fn) noexcept {
    fn();
    pushed_inside = q.push([&] { order.push_back(2); });
  });
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(pushed_inside, MpscQueue<std::function<void()>>::Push::first);  // the drained batch is gone
  q.end_wake();
  EXPECT_EQ(order, (std::vector<int>{1}));
  q.drain([](std::function<void()>& fn) noexcept { fn(); });
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

// Many producers against a consumer draining as it goes: nothing lost or duplicated, each producer's items
// in its own order, and exactly one Push::first per batch the consumer took.
TEST(MpscPostQueue, ManyProducersKeepTheirOrderAndWakeOncePerBatch) {
  constexpr int kProducers = 4;
  constexpr int kPerProducer = 50'000;
  using PairQueue = MpscQueue<std::pair<int, int>>;
  PairQueue q;
  std::atomic<int> firsts{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        auto r = q.push(std::pair{p, i});
        if (r == PairQueue::Push::closed) ++refused;
        if (r == PairQueue::Push::first) {
          firsts.fetch_add(1, std::memory_order_relaxed);
          q.end_wake();
        }
      }
    });
  }
  std::vector<int> next(kProducers, 0);
  long received = 0;
  int batches = 0;
  bool in_order = true;
  while (received < long{kProducers} * kPerProducer) {
    std::size_t n = q.drain([&](std::pair<int, int>& item) noexcept {
      if (item.second != next[item.first]) in_order = false;
      next[item.first] = item.second + 1;
    });
    if (n > 0) ++batches;
    received += static_cast<long>(n);
    if (n == 0) std::this_thread::yield();
  }
  for (auto& t : producers) t.join();
  EXPECT_EQ(refused.load(), 0);
  EXPECT_TRUE(in_order);
  EXPECT_EQ(received, long{kProducers} * kPerProducer);
  for (int p = 0; p < kProducers; ++p) EXPECT_EQ(next[p], kPerProducer);
  EXPECT_TRUE(q.empty());
  // Every batch starts with one push onto the empty queue, and only such a push answers `first`.
  EXPECT_EQ(firsts.load(), batches);
  EXPECT_GT(batches, 0);
}

// Counts live instances, to see what close() and the destructor drop.
struct Counted {
  static inline std::atomic<int> live{0};
  Counted() { ++live; }
  Counted(const Counted&) { ++live; }
  Counted(Counted&&) noexcept { ++live; }
  ~Counted() { --live; }
};

TEST(MpscPostQueue, CloseRefusesLaterPushesAndDropsWhatWasQueued) {
  {
    MpscQueue<Counted> q;
    EXPECT_EQ(q.push(Counted{}), MpscQueue<Counted>::Push::first);
    q.end_wake();
    EXPECT_EQ(q.push(Counted{}), MpscQueue<Counted>::Push::queued);
    EXPECT_EQ(Counted::live.load(), 2);
    q.close();
    EXPECT_EQ(Counted::live.load(), 0);
    EXPECT_TRUE(q.closed());
    EXPECT_EQ(q.push(Counted{}), MpscQueue<Counted>::Push::closed);
    EXPECT_EQ(Counted::live.load(), 0);  // the refused item was dropped
    EXPECT_EQ(q.drain([](Counted&) noexcept { ADD_FAILURE(); }), 0u);
    q.close();  // twice: harmless
  }
  {
    MpscQueue<Counted> q;  // the destructor drops what is still queued
    (void)q.push(Counted{});
    q.end_wake();
  }
  EXPECT_EQ(Counted::live.load(), 0);
}

// close() must not return while a producer that got Push::first has yet to call end_wake(): that producer
// is about to use what the consumer frees after close() (the loop's eventfd).
TEST(MpscPostQueue, CloseWaitsForTheProducerThatIsWaking) {
  MpscQueue<int> q;
  std::atomic<bool> pushed{false}, release{false}, closed{false};
  std::thread producer([&] {
    EXPECT_EQ(q.push(1), MpscQueue<int>::Push::first);
    pushed = true;
    while (!release) std::this_thread::yield();
    q.end_wake();
  });
  while (!pushed) std::this_thread::yield();
  std::thread closer([&] {
    q.close();
    closed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(closed.load());  // still waiting for end_wake()
  release = true;
  producer.join();
  closer.join();
  EXPECT_TRUE(closed.load());
}

// Producers racing close(): each push is either run by a drain before close() or refused; none is lost
// without being dropped, and close() returns.
TEST(MpscPostQueue, ProducersRacingCloseAreRefusedNotLost) {
  auto q = std::make_unique<MpscQueue<Counted>>();
  std::atomic<int> refused{0}, accepted{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < 3; ++p) {
    producers.emplace_back([&] {
      for (int i = 0; i < 20'000; ++i) {
        auto r = q->push(Counted{});
        if (r == MpscQueue<Counted>::Push::closed) {
          ++refused;
        } else {
          ++accepted;
          if (r == MpscQueue<Counted>::Push::first) q->end_wake();
        }
      }
    });
  }
  int ran = 0;
  for (int i = 0; i < 100; ++i) ran += static_cast<int>(q->drain([](Counted&) noexcept {}));
  q->close();
  for (auto& t : producers) t.join();
  EXPECT_EQ(accepted + refused, 60'000);
  EXPECT_LE(ran, accepted.load());
  EXPECT_EQ(Counted::live.load(), 0);  // what was accepted and not run, close() dropped
}

// An item pushed without allocation: records what happened to it.
struct Item : MpscLink {
  int id = 0;
  int* dropped = nullptr;
  void drop() noexcept { ++*dropped; }
};
using ItemQueue = MpscQueue<int, Item>;

// Items and values share one queue: one order, one wake-up per batch; close() and the destructor call
// drop() on the items still queued (and destroy the values).
TEST(MpscPostQueue, IntrusiveItemsShareTheOrderAndAreDroppedWhenClosed) {
  int dropped = 0;
  Item a, b, c;
  a.id = 10, b.id = 20, c.id = 30;
  a.dropped = b.dropped = c.dropped = &dropped;
  {
    ItemQueue q;
    EXPECT_EQ(q.push_item(a), ItemQueue::Push::first);
    q.end_wake();
    EXPECT_EQ(q.push(1), ItemQueue::Push::queued);
    EXPECT_EQ(q.push_item(b), ItemQueue::Push::queued);
    EXPECT_EQ(q.push(2), ItemQueue::Push::queued);
    std::vector<int> seen;
    struct Visit {
      std::vector<int>* seen;
      void operator()(int& v) const noexcept { seen->push_back(v); }
      void operator()(Item& item) const noexcept { seen->push_back(item.id); }
    };
    EXPECT_EQ(q.drain(Visit{&seen}), 4u);
    EXPECT_EQ(seen, (std::vector<int>{10, 1, 20, 2}));
    EXPECT_EQ(dropped, 0);
    EXPECT_EQ(q.push_item(c), ItemQueue::Push::first);
    q.end_wake();
    EXPECT_EQ(q.push(3), ItemQueue::Push::queued);
    q.close();
    EXPECT_EQ(dropped, 1);  // c
    EXPECT_EQ(q.push_item(a), ItemQueue::Push::closed);
    EXPECT_EQ(dropped, 1);  // a refused item is still the caller's: not dropped by the queue
  }
  {
    ItemQueue q;  // the destructor drops what is still queued
    (void)q.push_item(a);
    q.end_wake();
    (void)q.push_item(b);
  }
  EXPECT_EQ(dropped, 3);
}

// Producers pushing values and their own items in turn, against a consumer draining as it goes: nothing
// lost, each producer's pushes in its order, and the consumer may free (here: reuse) an item in fn.
TEST(MpscPostQueue, ManyProducersMixingItemsAndValuesKeepTheirOrder) {
  constexpr int kProducers = 3;
  constexpr int kPerProducer = 20'000;  // half values, half items
  struct Tagged : MpscLink {
    int producer = 0, seq = 0;
    void drop() noexcept {}
  };
  using Queue = MpscQueue<std::pair<int, int>, Tagged>;
  Queue q;
  std::vector<std::vector<Tagged>> items(kProducers, std::vector<Tagged>(kPerProducer / 2));
  std::atomic<int> done{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        Queue::Push r;
        if (i % 2) {
          Tagged& t = items[p][i / 2];
          t.producer = p, t.seq = i;
          r = q.push_item(t);
        } else {
          r = q.push(std::pair{p, i});
        }
        if (r == Queue::Push::first) q.end_wake();
      }
      ++done;
    });
  }
  std::vector<int> next(kProducers, 0);
  bool in_order = true;
  long received = 0;
  auto check = [&](int p, int i) {
    if (next[p] != i) in_order = false;
    next[p] = i + 1;
    ++received;
  };
  struct Visit {
    decltype(check)* f;
    void operator()(std::pair<int, int>& v) const noexcept { (*f)(v.first, v.second); }
    void operator()(Tagged& t) const noexcept { (*f)(t.producer, t.seq); }
  };
  while (done.load() != kProducers || !q.empty()) q.drain(Visit{&check});
  for (auto& t : producers) t.join();
  q.drain(Visit{&check});
  EXPECT_TRUE(in_order);
  EXPECT_EQ(received, long{kProducers} * kPerProducer);
}

}  // namespace
}  // namespace waitless
