// Intrusive doubly linked list: nodes live inside their owners, so linking never allocates.
// An owner joins a list by deriving from ListHook<Tag>; one tag per list it can be in.
// Invariant: a hook is either unlinked (next == prev == this) or in exactly one list.
#pragma once
#include <cstddef>

namespace waitless {

struct ListNode {
  ListNode* next = this;
  ListNode* prev = this;

  ListNode() = default;
  ListNode(const ListNode&) = delete;
  ListNode& operator=(const ListNode&) = delete;
  ~ListNode() { unlink(); }

  bool linked() const noexcept { return next != this; }
  void unlink() noexcept {
    next->prev = prev;
    prev->next = next;
    next = prev = this;
  }
};

template <typename Tag = void>
struct ListHook : ListNode {
  bool in_list() const noexcept { return linked(); }
  void unlink_from_list() noexcept { unlink(); }
};

template <typename T, typename Tag = void>
class IntrusiveList {
  using Hook = ListHook<Tag>;

 public:
  IntrusiveList() = default;
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;
  ~IntrusiveList() { clear(); }

  bool empty() const noexcept { return !head_.linked(); }
  void push_back(T& item) noexcept { insert_before(head_, hook(item)); }
  void push_front(T& item) noexcept { insert_before(*head_.next, hook(item)); }
  T* front() noexcept { return empty() ? nullptr : owner(head_.next); }
  T* pop_front() noexcept {
    if (empty()) return nullptr;
    ListNode* n = head_.next;
    n->unlink();
    return owner(n);
  }
  static void remove(T& item) noexcept { hook(item).unlink(); }
  static bool contains_any(const T& item) noexcept { return static_cast<const Hook&>(item).linked(); }
  void clear() noexcept {
    while (!empty()) head_.next->unlink();
  }
  // Moves every item to the end of `to`, keeping order; `this` ends empty.
  void splice_to(IntrusiveList& to) noexcept {
    if (empty()) return;
    ListNode* first = head_.next;
    ListNode* last = head_.prev;
    head_.next = head_.prev = &head_;
    ListNode* tail = to.head_.prev;
    tail->next = first;
    first->prev = tail;
    last->next = &to.head_;
    to.head_.prev = last;
  }
  std::size_t size() const noexcept {
    std::size_t n = 0;
    for (const ListNode* p = head_.next; p != &head_; p = p->next) ++n;
    return n;
  }
  // Visits every item; f may unlink the item it is given.
  template <typename F>
  void for_each(F&& f) {
    for (ListNode* p = head_.next; p != &head_;) {
      ListNode* next = p->next;
      f(*owner(p));
      p = next;
    }
  }

 private:
  static ListNode& hook(T& item) noexcept { return static_cast<Hook&>(item); }
  static T* owner(ListNode* n) noexcept { return static_cast<T*>(static_cast<Hook*>(n)); }
  static void insert_before(ListNode& pos, ListNode& n) noexcept {
    n.unlink();
    n.next = &pos;
    n.prev = pos.prev;
    pos.prev->next = &n;
    pos.prev = &n;
  }
  ListNode head_;
};

}  // namespace waitless
