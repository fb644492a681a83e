// EventEmitter: Node's EventEmitter with typed events.
//
// An event is a tag type naming the arguments its listeners take:
//
//   struct Data { using args = std::tuple<std::string_view>; };
//   struct End  { using args = std::tuple<>; };
//   EventEmitter<Data, End> e;
//   ListenerId id = e.on<Data>([](std::string_view d) { ... });
//   e.emit<Data>("chunk");   // true: a listener ran
//   e.off<Data>(id);
//
// A tag may carry `static constexpr std::string_view name = "data";` for log lines; otherwise its C++
// type name is used. Every emitter also has ErrorEvent (Node's 'error'), which need not be listed.
//
// Semantics, and where they differ from Node:
// - A listener that throws never propagates out of emit(): the exception is logged, delivered to the
//   ErrorEvent listeners if there are any, and the remaining listeners still run (Node would unwind).
//   A throwing ErrorEvent listener is only logged. emit<ErrorEvent> with no listener logs the error
//   (Node would throw it).
// - emit() runs the listeners registered when it began, in registration order. A listener removed during
//   emit() (off, remove_all_listeners, or a once listener) does not run if it has not run yet (Node would
//   still run it); one added during emit() first runs in the next emit(). A once listener is removed just
//   before it is called, so re-emitting from inside it does not call it again.
// - Listeners are identified by the ListenerId that on()/once() return (C++ cannot compare callables).
// - Adding more than max_listeners() (default 10, 0 = unlimited) to one event logs one warning per event,
//   as Node's MaxListenersExceededWarning; the listener is still added.
// - The emitter may be destroyed by one of its own listeners: the emit in progress then returns at once,
//   and the running listener's closure stays alive until the outermost emit() returns.
// Not thread-safe: an emitter lives on one loop, like everything it is part of.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "waitless/base/error.hpp"

namespace waitless {

// Names one registration. Ids are unique within an emitter and never reused; ListenerId::none is what a
// refused registration returns and matches nothing.
enum class ListenerId : uint64_t { none = 0 };

// What ErrorEvent listeners receive.
struct ErrorInfo {
  std::error_code code;          // the error (errno or waitless::Error); a listener's std::system_error
                                 // code; empty when a listener threw anything else
  std::string message;           // human-readable detail (what() for exceptions)
  std::exception_ptr exception;  // what a listener threw, null for errors reported by the emitter's owner
};

// Node's 'error' event, present in every emitter.
struct ErrorEvent {
  using args = std::tuple<const ErrorInfo&>;
  static constexpr std::string_view name = "error";
};

namespace detail {

template <typename T>
struct IsTuple : std::false_type {};
template <typename... A>
struct IsTuple<std::tuple<A...>> : std::true_type {};

template <typename Tuple>
struct ListenerFn;
template <typename... A>
struct ListenerFn<std::tuple<A...>> {
  using type = std::function<void(A...)>;
  // Listeners all receive the same arguments, so emit() passes them as lvalues: rvalue parameters could
  // be moved from by the first listener and are refused.
  static constexpr bool ok = (!std::is_rvalue_reference_v<A> && ...);
};

template <typename T, typename... List>
constexpr std::size_t index_of() {
  constexpr bool found[] = {std::is_same_v<T, List>..., false};
  for (std::size_t i = 0; i < sizeof...(List); ++i)
    if (found[i]) return i;
  return sizeof...(List);
}

template <typename E>
concept HasName = requires {
  { E::name } -> std::convertible_to<std::string_view>;
};

// One registration. Type-erased base so the bookkeeping lives in one non-template class.
struct ListenerBase {
  ListenerId id = ListenerId::none;
  bool once = false;
  bool live = true;  // false once removed; the entry itself is freed when no emit of its event is running
  virtual ~ListenerBase() = default;
};

template <typename E>
struct Listener final : ListenerBase {
  typename ListenerFn<typename E::args>::type fn;
};

// The listeners of one event. Entries are heap nodes so a running listener's closure never moves when
// another listener is added (the vector may reallocate) and never dies while it runs.
struct Slot {
  std::vector<std::unique_ptr<ListenerBase>> listeners;
  std::size_t live = 0;   // entries with live == true
  unsigned emitting = 0;  // emits of this event in progress (nested emits count each)
  bool warned = false;    // the max-listeners warning was logged
};

// An emit() in progress. Frames form a stack through the emitter so its destructor can tell them it died.
struct EmitFrame {
  EmitFrame* outer = nullptr;
  bool destroyed = false;
  // Filled only in the outermost frame when the emitter is destroyed during emit: keeps every closure
  // (including the ones running further up the stack) alive until that emit returns.
  std::vector<std::unique_ptr<ListenerBase>> orphans;
};

std::string event_name(std::string_view declared, const std::type_info& type);

}  // namespace detail

// Everything that does not depend on the event types.
class EventEmitterBase {
 public:
  static constexpr std::size_t kDefaultMaxListeners = 10;

  EventEmitterBase(const EventEmitterBase&) = delete;
  EventEmitterBase& operator=(const EventEmitterBase&) = delete;

  // 0 means unlimited (Node: 0 or Infinity). Applies to listeners added from now on.
  void set_max_listeners(std::size_t n) noexcept { max_listeners_ = n; }
  std::size_t max_listeners() const noexcept { return max_listeners_; }

 protected:
  EventEmitterBase() = default;
  ~EventEmitterBase() = default;

  using NameFn = std::string (*)();
  ListenerId add(detail::Slot& slot, std::unique_ptr<detail::ListenerBase> l, NameFn name);
  bool remove(detail::Slot& slot, ListenerId id) noexcept;
  void remove_all(detail::Slot& slot) noexcept;
  static void retire(detail::Slot& slot, detail::ListenerBase& l) noexcept;
  void begin_emit(detail::Slot& slot, detail::EmitFrame& frame) noexcept;
  void end_emit(detail::Slot& slot, detail::EmitFrame& frame) noexcept;
  // Called from the catch block of a listener call: logs, and returns what ErrorEvent listeners get.
  static ErrorInfo describe_exception(NameFn name) noexcept;
  static void log_unhandled(const ErrorInfo& info) noexcept;
  // From the derived destructor, while the slots still exist.
  void release(detail::Slot* slots, std::size_t n) noexcept;

 private:
  static void compact(detail::Slot& slot) noexcept;

  uint64_t next_id_ = 1;
  std::size_t max_listeners_ = kDefaultMaxListeners;
  detail::EmitFrame* frames_ = nullptr;
};

template <typename... Events>
class EventEmitter : public EventEmitterBase {
  static_assert((detail::IsTuple<typename Events::args>::value && ...),
                "an event's `args` must be a std::tuple of the listener's parameter types");
  static_assert((detail::ListenerFn<typename Events::args>::ok && ...),
                "event arguments are passed to every listener, so they cannot be rvalue references");
  static_assert(detail::index_of<ErrorEvent, Events...>() == sizeof...(Events),
                "ErrorEvent is part of every emitter; do not list it");

 public:
  template <typename E>
  using Fn = typename detail::ListenerFn<typename E::args>::type;
  template <typename E>
  static constexpr bool has_event = std::is_same_v<E, ErrorEvent> ||
                                    detail::index_of<E, Events...>() < sizeof...(Events);

  EventEmitter() = default;
  ~EventEmitter() { release(slots_.data(), slots_.size()); }

  // Adds a listener called on every emit<E>. Returns ListenerId::none (and adds nothing) for an empty
  // std::function.
  template <typename E, typename F>
  requires has_event<E> && std::is_constructible_v<Fn<E>, F &&> ListenerId on(F&& f) {
    return add_listener<E>(std::forward<F>(f), false);
  }
  // Adds a listener removed just before its first call.
  template <typename E, typename F>
  requires has_event<E> && std::is_constructible_v<Fn<E>, F &&> ListenerId once(F&& f) {
    return add_listener<E>(std::forward<F>(f), true);
  }
  // Removes a listener of E. Returns false if `id` is not a live listener of E (already removed, a once
  // listener already called, another event's). Safe at any time, including from a listener.
  template <typename E>
  requires has_event<E>
  bool off(ListenerId id) noexcept { return remove(slot<E>(), id); }
  // Removes a listener of whichever event it belongs to.
  bool off(ListenerId id) noexcept {
    for (detail::Slot& s : slots_)
      if (remove(s, id)) return true;
    return false;
  }
  template <typename E>
  requires has_event<E>
  void remove_all_listeners() noexcept { remove_all(slot<E>()); }
  void remove_all_listeners() noexcept {
    for (detail::Slot& s : slots_) remove_all(s);
  }
  template <typename E>
  requires has_event<E> std::size_t listener_count()
  const noexcept { return slots_[index<E>()].live; }

  // Calls E's listeners with `args` (each gets them as lvalues). Returns whether any listener ran.
  template <typename E, typename... A>
  requires has_event<E> && std::is_invocable_v < Fn<E>
  &, A&... > bool emit(A&&... args) noexcept {
    detail::Slot& s = slot<E>();
    if (s.live == 0) {
      if constexpr (std::is_same_v<E, ErrorEvent>) log_unhandled(args...);
      return false;
    }
    // Only entries present now may run; later ones are appended past `count`, and removed ones are
    // marked, not erased, while any emit of this event runs, so indices stay valid.
    const std::size_t count = s.listeners.size();
    detail::EmitFrame frame;
    begin_emit(s, frame);
    bool ran = false;
    for (std::size_t i = 0; i < count; ++i) {
      auto& l = static_cast<detail::Listener<E>&>(*s.listeners[i]);
      if (!l.live) continue;
      if (l.once) retire(s, l);
      ran = true;
      std::optional<ErrorInfo> failure;
      try {
        l.fn(args...);
      } catch (...) {
        failure = describe_exception(&name<E>);  // logs it
      }
      if (frame.destroyed) return true;  // `this` is gone: touch nothing but the frame
      if constexpr (!std::is_same_v<E, ErrorEvent>) {
        // Outside the catch block: ErrorEvent listeners are ordinary code, not exception handlers.
        if (failure && slot<ErrorEvent>().live > 0) {
          emit<ErrorEvent>(*failure);
          if (frame.destroyed) return true;
        }
      }
    }
    end_emit(s, frame);
    return ran;
  }

 private:
  template <typename E>
  static constexpr std::size_t index() {
    if constexpr (std::is_same_v<E, ErrorEvent>) {
      return 0;
    } else {
      return 1 + detail::index_of<E, Events...>();
    }
  }
  template <typename E>
  detail::Slot& slot() noexcept {
    return slots_[index<E>()];
  }
  template <typename E>
  static std::string name() {
    if constexpr (detail::HasName<E>) {
      return detail::event_name(E::name, typeid(E));
    } else {
      return detail::event_name({}, typeid(E));
    }
  }
  template <typename E, typename F>
  ListenerId add_listener(F&& f, bool once) {
    auto l = std::make_unique<detail::Listener<E>>();
    l->fn = Fn<E>(std::forward<F>(f));
    if (!l->fn) return ListenerId::none;
    l->once = once;
    return add(slot<E>(), std::move(l), &name<E>);
  }

  std::array<detail::Slot, 1 + sizeof...(Events)> slots_;
};

}  // namespace waitless
