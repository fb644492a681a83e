#include "waitless/async/event_emitter.hpp"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>

#include "waitless/base/log.hpp"

namespace waitless {

namespace detail {

std::string event_name(std::string_view declared, const std::type_info& type) {
  if (!declared.empty()) return std::string(declared);
  int status = 0;
  char* demangled = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
  std::string out = status == 0 && demangled ? demangled : type.name();
  std::free(demangled);
  return out;
}

}  // namespace detail

ListenerId EventEmitterBase::add(detail::Slot& slot, std::unique_ptr<detail::ListenerBase> l, NameFn name) {
  l->id = ListenerId{next_id_++};
  ListenerId id = l->id;
  slot.listeners.push_back(std::move(l));
  ++slot.live;
  if (max_listeners_ != 0 && slot.live > max_listeners_ && !slot.warned) {
    slot.warned = true;
    log::warn(
        "possible EventEmitter memory leak detected: {} '{}' listeners added, more than max_listeners {}; "
        "use set_max_listeners() to raise the limit",
        slot.live, name(), max_listeners_);
  }
  return id;
}

void EventEmitterBase::retire(detail::Slot& slot, detail::ListenerBase& l) noexcept {
  l.live = false;
  --slot.live;
}

bool EventEmitterBase::remove(detail::Slot& slot, ListenerId id) noexcept {
  if (id == ListenerId::none) return false;
  auto it = std::find_if(slot.listeners.begin(), slot.listeners.end(),
                         [id](const auto& l) { return l->id == id && l->live; });
  if (it == slot.listeners.end()) return false;
  retire(slot, **it);
  // While an emit of this event runs, its indices must stay valid and the entry may be the running
  // listener: the entry is erased when the last emit ends.
  if (slot.emitting == 0) slot.listeners.erase(it);
  return true;
}

void EventEmitterBase::remove_all(detail::Slot& slot) noexcept {
  for (auto& l : slot.listeners)
    if (l->live) retire(slot, *l);
  if (slot.emitting == 0) slot.listeners.clear();
}

void EventEmitterBase::begin_emit(detail::Slot& slot, detail::EmitFrame& frame) noexcept {
  frame.outer = frames_;
  frames_ = &frame;
  ++slot.emitting;
}

void EventEmitterBase::end_emit(detail::Slot& slot, detail::EmitFrame& frame) noexcept {
  frames_ = frame.outer;
  if (--slot.emitting == 0) compact(slot);
}

void EventEmitterBase::compact(detail::Slot& slot) noexcept {
  if (slot.live == slot.listeners.size()) return;
  std::erase_if(slot.listeners, [](const auto& l) { return !l->live; });
}

ErrorInfo EventEmitterBase::describe_exception(NameFn name) noexcept {
  ErrorInfo info;
  try {
    info.exception = std::current_exception();
    try {
      throw;
    } catch (const std::system_error& e) {
      info.code = e.code();
      info.message = e.what();
    } catch (const std::exception& e) {
      info.message = e.what();
    } catch (...) {
      info.message = "a non-std exception";
    }
    log::error("listener for event '{}' threw: {}", name(), info.message);
  } catch (...) {
    // Out of memory while describing: deliver what we have; the listener's exception is still captured.
  }
  return info;
}

void EventEmitterBase::log_unhandled(const ErrorInfo& info) noexcept {
  try {
    if (info.code) {
      log::error("unhandled 'error' event: {} ({})", info.message, info.code.message());
    } else {
      log::error("unhandled 'error' event: {}", info.message);
    }
  } catch (...) {
  }
}

void EventEmitterBase::release(detail::Slot* slots, std::size_t n) noexcept {
  if (!frames_) return;
  // Destroyed by a listener: every emit in progress must return without touching the emitter, and the
  // closures, some of which are still running up the stack, must outlive the outermost emit.
  detail::EmitFrame* outermost = frames_;
  for (detail::EmitFrame* f = frames_; f; f = f->outer) {
    f->destroyed = true;
    outermost = f;
  }
  for (std::size_t i = 0; i < n; ++i) {
    for (auto& l : slots[i].listeners) {
      try {
        outermost->orphans.push_back(std::move(l));
      } catch (...) {
        // Cannot keep it alive without memory. Leak rather than free a closure that may be running.
        (void)l.release();
      }
    }
  }
}

}  // namespace waitless
