// Differential fuzz target: the intrusive timer heap against a simple sorted model, under random
// push / remove / pop sequences. Any divergence in order (key, then insertion order) aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <utility>
#include <vector>

#include "waitless/base/intrusive_heap.hpp"

using waitless::HeapNode;
using waitless::IntrusiveHeap;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kNodes = 64;
  std::vector<HeapNode> nodes(kNodes);
  IntrusiveHeap heap;
  std::set<std::pair<std::pair<int64_t, uint64_t>, size_t>> model;  // ((key, seq), node index)
  uint64_t seq = 0;
  for (size_t i = 0; i + 1 < size; i += 2) {
    uint8_t op = data[i] % 3, arg = data[i + 1];
    size_t idx = arg % kNodes;
    HeapNode& n = nodes[idx];
    switch (op) {
      case 0:  // push (or re-push with a new key, as Timer::start does)
        if (n.in_heap()) {
          model.erase({{n.key, n.seq}, idx});
          heap.remove(n);
        }
        n.key = arg / 4;
        n.seq = seq++;
        heap.push(n);
        model.insert({{n.key, n.seq}, idx});
        break;
      case 1:  // remove
        if (n.in_heap()) model.erase({{n.key, n.seq}, idx});
        heap.remove(n);
        break;
      case 2: {  // pop
        HeapNode* top = heap.pop();
        if (model.empty() != (top == nullptr)) std::abort();
        if (top) {
          auto first = *model.begin();
          model.erase(model.begin());
          if (&nodes[first.second] != top) std::abort();
        }
        break;
      }
    }
    if (heap.size() != model.size()) std::abort();
    if (!model.empty() && heap.top() != &nodes[model.begin()->second]) std::abort();
  }
  while (HeapNode* top = heap.pop()) {
    auto first = *model.begin();
    model.erase(model.begin());
    if (&nodes[first.second] != top) std::abort();
  }
  return model.empty() ? 0 : (std::abort(), 0);
}
