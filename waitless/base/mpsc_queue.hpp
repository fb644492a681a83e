// MpscQueue: a lock-free queue with many producers (any thread) and one consumer (one thread), for
// Loop::post. A producer's push is one compare-and-swap; the consumer takes everything pushed so far with
// one exchange (a Treiber stack, reversed when drained). No lock: a producer preempted in the middle of a
// push never holds up the consumer or another producer.
//
// Order: drain() hands out items in the order their pushes took effect, so two items pushed by one thread
// come out in the order that thread pushed them.
//
// Wake-ups, one per batch: push() answers Push::first when it found the queue empty. That producer, and
// only that one, wakes the consumer (Loop::post writes its eventfd), then calls end_wake(). The consumer
// empties the queue only with drain(), and a push that finds it non-empty joins a batch whose first
// producer has yet to wake the consumer or whose wake-up the consumer has yet to act on: none is lost.
//
// Closing (the consumer, once): close() makes every later push answer Push::closed (and drop its item),
// waits for the producers between Push::first and end_wake(), then drops what was queued. After it returns
// no producer touches the queue again, so the consumer may free whatever the wake-up uses (the eventfd).
// Items are destroyed outside any critical section: a dropped item's destructor may push (and be refused).
//
// Intrusive items (MpscQueue<T, Item>): push_item() queues an object of the producer's that derives from
// MpscLink, with no allocation and no copy; the items share the queue (and its order and wake-ups) with
// the T values. drain() hands them to fn as Item&; a dropped one (close, destructor) gets item.drop(). The
// item is the consumer's from its push until fn or drop() returns: drain reads the link before calling fn,
// so fn may free the item.
//
// Memory: a node per T value, carved by the producing thread from its own block of kNodesPerBlock nodes (one
// allocation per block, nodes of one thread side by side, so a drain walks memory in order). A block
// counts the nodes not yet released; whoever releases the last one (the consumer after running its items,
// one decrement per run of consecutive nodes of the block, or the producing thread at exit for the nodes
// it never used) frees the block. A malloc per item on the
// producer and a free on the consumer cost more than the queue itself: the two threads' arenas bounce.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <thread>
#include <type_traits>
#include <utility>

namespace waitless {

// The link inside an item pushed without allocation (MpscQueue::push_item). `block` stays nullptr: it tells
// intrusive items from the queue's own nodes.
struct MpscLink {
  MpscLink* mpsc_next = nullptr;
  void* mpsc_block = nullptr;
};

// Item: void (T values only), or a type deriving from MpscLink with `void drop() noexcept`.
template <typename T, typename Item = void>
class MpscQueue {
 public:
  enum class Push {
    first,   // queued, and the queue was empty: wake the consumer, then call end_wake()
    queued,  // queued behind others: the consumer is (or will be) woken by the batch's first producer
    closed,  // refused: the queue is closed; the item was dropped
  };

  MpscQueue() = default;
  MpscQueue(const MpscQueue&) = delete;
  MpscQueue& operator=(const MpscQueue&) = delete;
  ~MpscQueue() {
    MpscLink* top = head_.load(std::memory_order_acquire);
    if (top != closed_mark()) destroy(top);
  }

  // Any thread.
  template <typename U>
  Push push(U&& value) {
    Node* node = Block::allocate();
    ::new (static_cast<void*>(&node->value)) T(std::forward<U>(value));
    const Push r = link(node);
    if (r == Push::closed) {
      node->value.~T();
      Block::release(node);
    }
    return r;
  }

  // Any thread: queues the producer's own item, without allocating. On Push::closed the item was not
  // queued and is still the caller's (drop() is not called).
  template <typename I = Item>
  requires(!std::is_void_v<I>) Push push_item(I& item)
  noexcept {
    MpscLink& l = item;
    l.mpsc_block = nullptr;
    return link(&l);
  }

  // By the producer that got Push::first, once it has woken the consumer.
  void end_wake() noexcept { wakers_.fetch_sub(1, std::memory_order_release); }

  // Consumer thread. Calls fn(T&) on every item pushed so far, oldest first, destroying each item after
  // its call; items pushed meanwhile (fn may push) wait for the next drain. Returns how many were run.
  template <typename F>
  std::size_t drain(F&& fn) noexcept {
    static_assert(std::is_nothrow_invocable_v<F&, T&>, "fn must not throw: the batch would leak");
    if (head_.load(std::memory_order_relaxed) == closed_mark()) return 0;  // only the consumer closes
    MpscLink* top = head_.exchange(nullptr, std::memory_order_acquire);
    MpscLink* oldest = nullptr;  // reverse the stack: newest-first becomes oldest-first
    while (top) {
      MpscLink* next = top->mpsc_next;
      top->mpsc_next = oldest;
      oldest = top;
      top = next;
    }
    // Nodes are released to their block a run at a time: one producer's consecutive pushes sit side by
    // side in one block, so a batch costs an atomic decrement per run, not per item. A block whose nodes
    // are still to be released stays allocated, so deferring is safe.
    std::size_t n = 0;
    Block* run_block = nullptr;
    std::size_t run_length = 0;
    while (oldest) {
      MpscLink* next = oldest->mpsc_next;
      ++n;
      if constexpr (!std::is_void_v<Item>) {
        if (!oldest->mpsc_block) {  // an intrusive item: fn may free it
          fn(static_cast<Item&>(*oldest));
          oldest = next;
          continue;
        }
      }
      Node* node = static_cast<Node*>(oldest);
      fn(node->value);
      node->value.~T();
      Block* block = static_cast<Block*>(node->mpsc_block);
      if (block != run_block) {
        if (run_block) run_block->release_many(run_length);
        run_block = block;
        run_length = 0;
      }
      ++run_length;
      oldest = next;
    }
    if (run_block) run_block->release_many(run_length);
    return n;
  }

  // Consumer thread; see the header comment. Closing twice is harmless.
  void close() noexcept {
    MpscLink* top = head_.exchange(closed_mark(), std::memory_order_acquire);
    while (wakers_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
    if (top != closed_mark()) destroy(top);
  }

  // A hint from any thread; exact on the consumer's thread while no producer runs.
  bool empty() const noexcept {
    MpscLink* top = head_.load(std::memory_order_relaxed);
    return top == nullptr || top == closed_mark();
  }
  bool closed() const noexcept { return head_.load(std::memory_order_relaxed) == closed_mark(); }

 private:
  struct Block;
  struct Node : MpscLink {  // mpsc_block: the Block it was carved from
    union {
      T value;  // constructed by push(), destroyed by drain(), close(), the destructor or a refused push
    };
    Node() noexcept {}
    ~Node() {}
  };

  static constexpr std::size_t kNodesPerBlock = 256;

  struct Block {
    std::atomic<std::size_t> unreleased{kNodesPerBlock};
    Node nodes[kNodesPerBlock];

    // The calling thread's block being carved; the rest of it is released when the thread exits. A push
    // from a later thread-exit destructor (the cursor gone) takes a block of its own and releases the
    // other nodes at once.
    struct Cursor {
      Block* block = nullptr;
      std::size_t used = 0;
      bool gone = false;
      Cursor() = default;
      Cursor(const Cursor&) = delete;
      Cursor& operator=(const Cursor&) = delete;
      ~Cursor() {
        if (block) block->release_many(kNodesPerBlock - used);
        block = nullptr;
        gone = true;
      }
    };
    static Node* allocate() {
      thread_local Cursor cursor;
      if (cursor.gone) {
        Block* b = new Block;
        b->release_many(kNodesPerBlock - 1);
        b->nodes[0].mpsc_block = b;
        return &b->nodes[0];
      }
      if (!cursor.block || cursor.used == kNodesPerBlock) {
        cursor.block = new Block;
        cursor.used = 0;
      }
      Node* n = &cursor.block->nodes[cursor.used++];
      n->mpsc_block = cursor.block;
      return n;
    }
    static void release(Node* n) noexcept { static_cast<Block*>(n->mpsc_block)->release_many(1); }
    void release_many(std::size_t k) noexcept {
      if (k != 0 && unreleased.fetch_sub(k, std::memory_order_acq_rel) == k) delete this;
    }
  };

  // Links `l` on top; on Push::closed it was not linked.
  Push link(MpscLink* l) noexcept {
    MpscLink* old = head_.load(std::memory_order_relaxed);
    bool announced = false;
    for (;;) {
      if (old == closed_mark()) break;
      // About to be the first of a batch: count ourselves as a waker BEFORE the item is visible, so a
      // close() that sees the item also sees the count (the release CAS publishes both).
      if (old == nullptr && !announced) {
        wakers_.fetch_add(1, std::memory_order_relaxed);
        announced = true;
      }
      l->mpsc_next = old;
      if (head_.compare_exchange_weak(old, l, std::memory_order_release, std::memory_order_relaxed)) {
        if (old == nullptr) return Push::first;
        if (announced) end_wake();  // someone else's push made the queue non-empty first
        return Push::queued;
      }
    }
    if (announced) end_wake();
    return Push::closed;
  }

  // Never an item's address (items are aligned): marks the queue closed.
  static MpscLink* closed_mark() noexcept { return reinterpret_cast<MpscLink*>(std::uintptr_t{1}); }
  // Drops the items of a detached stack (their destructors may push: a new push takes a new node).
  static void destroy(MpscLink* top) noexcept {
    while (top) {
      MpscLink* l = std::exchange(top, top->mpsc_next);
      if constexpr (!std::is_void_v<Item>) {
        if (!l->mpsc_block) {
          static_cast<Item*>(l)->drop();
          continue;
        }
      }
      Node* n = static_cast<Node*>(l);
      n->value.~T();
      Block::release(n);
    }
  }

  // On a cache line of their own: every producer's push writes them, and whatever the queue is embedded
  // next to (Loop's State shares its allocation with a shared_ptr's count, which the loop's thread changes
  // on each pool job) would otherwise bounce between the producers and the consumer with them.
  // head_: the newest item; nullptr when empty; closed_mark() when closed.
  alignas(64) std::atomic<MpscLink*> head_{nullptr};
  std::atomic<int> wakers_{0};  // producers between Push::first (announced) and end_wake()
  char pad_[64 - sizeof(std::atomic<MpscLink*>) - sizeof(std::atomic<int>)];
};

}  // namespace waitless
