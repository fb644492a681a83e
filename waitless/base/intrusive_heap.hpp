// Binary min-heap of pointers to nodes that carry their own key and heap index, so removal of an
// arbitrary node is O(log n) and nothing is allocated per node (the pointer array only grows).
// Order: (key, seq). seq breaks ties so equal keys leave in insertion order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace waitless {

struct HeapNode {
  static constexpr std::size_t npos = ~std::size_t{0};
  int64_t key = 0;
  uint64_t seq = 0;
  std::size_t heap_index = npos;
  bool in_heap() const noexcept { return heap_index != npos; }
};

class IntrusiveHeap {
 public:
  bool empty() const noexcept { return nodes_.empty(); }
  std::size_t size() const noexcept { return nodes_.size(); }
  HeapNode* top() const noexcept { return nodes_.empty() ? nullptr : nodes_.front(); }

  // seq must grow with each push for FIFO among equal keys; the caller owns the counter.
  void push(HeapNode& n) {
    n.heap_index = nodes_.size();
    nodes_.push_back(&n);
    sift_up(n.heap_index);
  }
  void remove(HeapNode& n) noexcept {
    if (!n.in_heap()) return;
    std::size_t i = n.heap_index;
    HeapNode* last = nodes_.back();
    nodes_.pop_back();
    n.heap_index = HeapNode::npos;
    if (last == &n) return;
    nodes_[i] = last;
    last->heap_index = i;
    if (i > 0 && less(last, nodes_[(i - 1) / 2])) {
      sift_up(i);
    } else {
      sift_down(i);
    }
  }
  HeapNode* pop() noexcept {
    HeapNode* n = top();
    if (n) remove(*n);
    return n;
  }

 private:
  static bool less(const HeapNode* a, const HeapNode* b) noexcept {
    return a->key < b->key || (a->key == b->key && a->seq < b->seq);
  }
  void place(std::size_t i, HeapNode* n) noexcept {
    nodes_[i] = n;
    n->heap_index = i;
  }
  void sift_up(std::size_t i) noexcept {
    HeapNode* n = nodes_[i];
    while (i > 0) {
      std::size_t parent = (i - 1) / 2;
      if (!less(n, nodes_[parent])) break;
      place(i, nodes_[parent]);
      i = parent;
    }
    place(i, n);
  }
  void sift_down(std::size_t i) noexcept {
    HeapNode* n = nodes_[i];
    std::size_t count = nodes_.size();
    for (;;) {
      std::size_t child = 2 * i + 1;
      if (child >= count) break;
      if (child + 1 < count && less(nodes_[child + 1], nodes_[child])) ++child;
      if (!less(nodes_[child], n)) break;
      place(i, nodes_[child]);
      i = child;
    }
    place(i, n);
  }
  std::vector<HeapNode*> nodes_;
};

}  // namespace waitless
