#include "waitless/async/event_emitter.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "waitless/base/log.hpp"

namespace waitless {
namespace {

struct Data {
  using args = std::tuple<std::string_view>;
  static constexpr std::string_view name = "data";
};
struct End {
  using args = std::tuple<>;
};
struct Pair {
  using args = std::tuple<int, const std::string&>;
};

using Emitter = EventEmitter<Data, End, Pair>;

// Captures log lines for the test's lifetime; restores the default sink and level after.
class LogCapture {
 public:
  LogCapture() : saved_(log::level()) {
    log::set_level(log::Level::debug);
    log::set_sink([this](log::Level l, std::string_view m) {
      std::lock_guard lock(mutex_);
      lines_.push_back({l, std::string(m)});
    });
  }
  ~LogCapture() {
    log::set_sink({});
    log::set_level(saved_);
  }
  std::size_t count(log::Level l, std::string_view needle = {}) {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (auto& [level, text] : lines_)
      if (level == l && text.find(needle) != std::string::npos) ++n;
    return n;
  }

 private:
  log::Level saved_;
  std::mutex mutex_;
  std::vector<std::pair<log::Level, std::string>> lines_;
};

TEST(EventEmitter, OnEmitPassesArgumentsInRegistrationOrder) {
  Emitter e;
  std::string seen;
  e.on<Data>([&](std::string_view d) { seen += "a:" + std::string(d) + ","; });
  e.on<Data>([&](std::string_view d) { seen += "b:" + std::string(d) + ","; });
  e.on<Pair>([&](int n, const std::string& s) { seen += std::to_string(n) + s + ","; });
  EXPECT_EQ(e.listener_count<Data>(), 2u);
  EXPECT_EQ(e.listener_count<End>(), 0u);
  EXPECT_TRUE(e.emit<Data>("x"));
  EXPECT_TRUE(e.emit<Pair>(7, std::string("y")));
  EXPECT_FALSE(e.emit<End>());  // no listener ran
  EXPECT_EQ(seen, "a:x,b:x,7y,");
}

TEST(EventEmitter, OffRemovesOnlyThatListener) {
  Emitter e;
  int a = 0, b = 0;
  ListenerId ia = e.on<End>([&] { ++a; });
  e.on<End>([&] { ++b; });
  EXPECT_FALSE(e.off<Data>(ia));  // another event's id
  EXPECT_TRUE(e.off<End>(ia));
  EXPECT_FALSE(e.off<End>(ia));  // twice
  EXPECT_FALSE(e.off<End>(ListenerId::none));
  EXPECT_FALSE(e.off<End>(ListenerId{12345}));
  e.emit<End>();
  EXPECT_EQ(a, 0);
  EXPECT_EQ(b, 1);
  EXPECT_EQ(e.listener_count<End>(), 1u);
}

TEST(EventEmitter, UntypedOffFindsTheEvent) {
  Emitter e;
  ListenerId id = e.on<Data>([](std::string_view) {});
  EXPECT_TRUE(e.off(id));
  EXPECT_FALSE(e.off(id));
  EXPECT_EQ(e.listener_count<Data>(), 0u);
}

TEST(EventEmitter, EmptyFunctionIsRefused) {
  Emitter e;
  EXPECT_EQ(e.on<End>(std::function<void()>{}), ListenerId::none);
  EXPECT_EQ(e.listener_count<End>(), 0u);
  EXPECT_FALSE(e.emit<End>());
}

TEST(EventEmitter, OnceRunsOnceAndIsRemovedBeforeItsCall) {
  Emitter e;
  int calls = 0;
  std::size_t count_inside = 99;
  ListenerId id = e.once<End>([&] {
    ++calls;
    count_inside = e.listener_count<End>();
    e.emit<End>();  // re-entrant emit must not call it again
  });
  EXPECT_EQ(e.listener_count<End>(), 1u);
  EXPECT_TRUE(e.emit<End>());
  EXPECT_FALSE(e.emit<End>());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(count_inside, 0u);
  EXPECT_FALSE(e.off<End>(id));  // already gone
}

TEST(EventEmitter, OffOfOnceListenerBeforeEmit) {
  Emitter e;
  int calls = 0;
  ListenerId id = e.once<End>([&] { ++calls; });
  EXPECT_TRUE(e.off<End>(id));
  EXPECT_FALSE(e.emit<End>());
  EXPECT_EQ(calls, 0);
}

// Each listener removes the next one: the removed ones must not run, nothing else is skipped.
TEST(EventEmitter, ListenerRemovedDuringEmitDoesNotRunIfNotYetRun) {
  Emitter e;
  std::vector<int> calls(4, 0);
  ListenerId ids[4];
  std::vector<bool> removed0;
  ids[0] = e.on<End>([&] {
    ++calls[0];
    EXPECT_TRUE(e.off<End>(ids[1]));
  });
  ids[1] = e.on<End>([&] { ++calls[1]; });
  ids[2] = e.on<End>([&] {
    ++calls[2];
    removed0.push_back(e.off<End>(ids[0]));  // already ran: must not shift or skip the rest
  });
  ids[3] = e.on<End>([&] { ++calls[3]; });
  e.emit<End>();
  EXPECT_EQ(calls, (std::vector<int>{1, 0, 1, 1}));
  EXPECT_EQ(e.listener_count<End>(), 2u);
  e.emit<End>();
  EXPECT_EQ(calls, (std::vector<int>{1, 0, 2, 2}));
  EXPECT_EQ(removed0, (std::vector<bool>{true, false}));
}

TEST(EventEmitter, ListenerRemovingItselfKeepsItsClosureAliveAndOthersRun) {
  Emitter e;
  // The closure solely owns heap state it reads after off(): ASan catches a freed closure.
  auto payload = std::make_shared<std::string>("still here");
  std::string seen;
  ListenerId self{};
  self = e.on<Data>([&, p = std::move(payload)](std::string_view) {
    e.off<Data>(self);
    seen += *p + ",";
  });
  e.on<Data>([&](std::string_view) { seen += "next,"; });
  e.emit<Data>("");
  e.emit<Data>("");
  EXPECT_EQ(seen, "still here,next,next,");
}

TEST(EventEmitter, ListenerAddedDuringEmitRunsFromTheNextEmit) {
  Emitter e;
  int added_calls = 0, adds = 0;
  e.on<End>([&] {
    // Enough additions to reallocate the listener vector under the running emit.
    for (int i = 0; i < 50; ++i) e.on<End>([&] { ++added_calls; });
    ++adds;
  });
  e.set_max_listeners(0);
  e.emit<End>();
  EXPECT_EQ(added_calls, 0);
  e.emit<End>();
  EXPECT_EQ(added_calls, 50);
  EXPECT_EQ(adds, 2);
}

TEST(EventEmitter, RemoveAllListenersDuringEmit) {
  Emitter e;
  int later = 0;
  e.on<End>([&] { e.remove_all_listeners<End>(); });
  e.on<End>([&] { ++later; });
  EXPECT_TRUE(e.emit<End>());
  EXPECT_EQ(later, 0);
  EXPECT_EQ(e.listener_count<End>(), 0u);
  EXPECT_FALSE(e.emit<End>());
}

TEST(EventEmitter, NestedEmitWithRemovalInside) {
  Emitter e;
  std::string order;
  ListenerId b{};
  int depth = 0;
  e.on<End>([&] {
    order += "a,";
    if (depth++ == 0) {
      e.emit<End>();  // inner emit runs a and b; outer must then skip the b removed inside
    }
  });
  b = e.on<End>([&] {
    order += "b,";
    e.off<End>(b);
  });
  e.emit<End>();
  EXPECT_EQ(order, "a,a,b,");
  EXPECT_EQ(e.listener_count<End>(), 1u);
}

TEST(EventEmitter, ThrowingListenerIsLoggedOthersRunEmitDoesNotThrow) {
  LogCapture logs;
  Emitter e;
  int after = 0;
  e.on<Data>([](std::string_view) { throw std::runtime_error("boom"); });
  e.on<Data>([&](std::string_view) { ++after; });
  bool ran = false;
  EXPECT_NO_THROW(ran = e.emit<Data>("x"));
  EXPECT_TRUE(ran);
  EXPECT_EQ(after, 1);
  EXPECT_EQ(logs.count(log::Level::error, "listener for event 'data' threw: boom"), 1u);
}

TEST(EventEmitter, ThrowingListenerIsDeliveredToErrorListeners) {
  LogCapture logs;
  Emitter e;
  std::vector<ErrorInfo> errors;
  e.on<ErrorEvent>([&](const ErrorInfo& err) { errors.push_back(err); });
  e.on<End>([] { throw std::system_error(make_error_code(Error::timed_out), "slow"); });
  e.on<Data>([](std::string_view) { throw 42; });
  e.emit<End>();
  e.emit<Data>("");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].code, make_error_code(Error::timed_out));
  EXPECT_NE(errors[0].message.find("slow"), std::string::npos);
  ASSERT_TRUE(errors[0].exception);
  EXPECT_THROW(std::rethrow_exception(errors[0].exception), std::system_error);
  EXPECT_FALSE(errors[1].code);
  EXPECT_EQ(errors[1].message, "a non-std exception");
  // The type name stands in for a tag without `name`.
  EXPECT_EQ(logs.count(log::Level::error, "listener for event 'waitless::(anonymous namespace)::End' threw"),
            1u);
}

TEST(EventEmitter, ThrowingErrorListenerIsOnlyLogged) {
  LogCapture logs;
  Emitter e;
  int error_calls = 0;
  e.on<ErrorEvent>([&](const ErrorInfo&) {
    ++error_calls;
    throw std::runtime_error("error listener broke");
  });
  e.on<End>([] { throw std::runtime_error("first"); });
  EXPECT_NO_THROW(e.emit<End>());
  EXPECT_EQ(error_calls, 1);  // no loop: the error listener's own exception is not re-delivered
  EXPECT_EQ(logs.count(log::Level::error, "first"), 1u);
  EXPECT_EQ(logs.count(log::Level::error, "error listener broke"), 1u);
}

TEST(EventEmitter, UnhandledErrorEventIsLogged) {
  LogCapture logs;
  Emitter e;
  EXPECT_FALSE(e.emit<ErrorEvent>(ErrorInfo{make_error_code(Error::eof), "stream ended", {}}));
  EXPECT_EQ(logs.count(log::Level::error, "unhandled 'error' event: stream ended"), 1u);
}

TEST(EventEmitter, MaxListenersWarningOncePerEvent) {
  LogCapture logs;
  Emitter e;
  EXPECT_EQ(e.max_listeners(), 10u);
  for (int i = 0; i < 10; ++i) e.on<Data>([](std::string_view) {});
  EXPECT_EQ(logs.count(log::Level::warn), 0u);
  e.on<Data>([](std::string_view) {});
  EXPECT_EQ(logs.count(log::Level::warn, "11 'data' listeners added"), 1u);
  for (int i = 0; i < 5; ++i) e.on<Data>([](std::string_view) {});
  EXPECT_EQ(logs.count(log::Level::warn), 1u);  // once per event
  EXPECT_EQ(e.listener_count<Data>(), 16u);     // still added
  // Another event has its own count and its own warning.
  for (int i = 0; i < 11; ++i) e.on<End>([] {});
  EXPECT_EQ(logs.count(log::Level::warn), 2u);
}

TEST(EventEmitter, SetMaxListenersRaisesOrDisablesTheLimit) {
  LogCapture logs;
  Emitter e;
  e.set_max_listeners(20);
  for (int i = 0; i < 20; ++i) e.on<End>([] {});
  EXPECT_EQ(logs.count(log::Level::warn), 0u);
  e.on<End>([] {});
  EXPECT_EQ(logs.count(log::Level::warn), 1u);
  e.set_max_listeners(0);
  for (int i = 0; i < 100; ++i) e.on<Data>([](std::string_view) {});
  EXPECT_EQ(logs.count(log::Level::warn), 1u);
}

TEST(EventEmitter, OnceListenersCountTowardsTheLimit) {
  LogCapture logs;
  Emitter e;
  e.set_max_listeners(2);
  e.once<End>([] {});
  e.once<End>([] {});
  e.emit<End>();  // both gone: the count drops back
  e.once<End>([] {});
  e.once<End>([] {});
  EXPECT_EQ(logs.count(log::Level::warn), 0u);
  e.once<End>([] {});
  EXPECT_EQ(logs.count(log::Level::warn), 1u);
}

TEST(EventEmitter, DestroyedByItsOwnListener) {
  auto e = std::make_unique<Emitter>();
  auto payload = std::make_shared<std::string>("closure state");
  std::string seen;
  int later = 0;
  e->on<End>([&, p = std::move(payload)] {
    e->emit<Data>("inner");  // nested emit of another event that destroys the emitter
    seen += *p;              // the running closure must still be alive (ASan checks)
  });
  e->on<Data>([&](std::string_view) { e.reset(); });
  e->on<End>([&] { ++later; });
  e->emit<End>();
  EXPECT_EQ(e, nullptr);
  EXPECT_EQ(seen, "closure state");
  EXPECT_EQ(later, 0);  // the emitter is gone: nothing more of it runs
}

}  // namespace
}  // namespace waitless
