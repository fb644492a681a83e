#include "waitless/base/cancel.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace waitless {
namespace {

TEST(Cancel, CallbacksRunOnceInOrder) {
  CancelSource source;
  std::string order;
  CancelCallback a(source.token(), [&] { order += "a"; });
  CancelCallback b(source.token(), [&] { order += "b"; });
  EXPECT_TRUE(source.cancel());
  EXPECT_FALSE(source.cancel());
  EXPECT_EQ(order, "ab");
  EXPECT_TRUE(source.token().cancelled());
}

TEST(Cancel, AttachToCancelledRunsAtOnce) {
  CancelSource source;
  source.cancel();
  bool ran = false;
  CancelCallback c(source.token(), [&] { ran = true; });
  EXPECT_TRUE(ran);
}

TEST(Cancel, DetachedCallbackNeverRuns) {
  CancelSource source;
  bool ran = false;
  {
    CancelCallback c(source.token(), [&] { ran = true; });
  }
  source.cancel();
  EXPECT_FALSE(ran);
}

TEST(Cancel, ChildFollowsParentNotTheOtherWay) {
  CancelSource parent;
  CancelSource child(parent.token());
  CancelSource other_child(parent.token());
  other_child.cancel();
  EXPECT_FALSE(parent.cancelled());
  parent.cancel();
  EXPECT_TRUE(child.cancelled());
}

TEST(Cancel, TokenOutlivesSource) {
  CancelToken token;
  {
    CancelSource s;
    token = s.token();
    s.cancel();
  }
  EXPECT_TRUE(token.cancelled());
  EXPECT_FALSE(CancelToken{}.can_be_cancelled());
}

TEST(Cancel, CallbackMayDestroyTheSourceAndOtherCallbacks) {
  auto source = std::make_unique<CancelSource>();
  auto second = std::make_unique<CancelCallback>();
  int ran = 0;
  CancelCallback first(source->token(), [&] {
    ++ran;
    second.reset();  // unregister a later callback during cancel
  });
  second->attach(source->token(), [&] { ++ran; });
  CancelCallback third(source->token(), [&] { ++ran; });
  CancelSource* raw = source.get();
  CancelCallback killer(raw->token(), [&] { source.reset(); });
  raw->cancel();
  EXPECT_EQ(ran, 2);
  EXPECT_EQ(source, nullptr);
}

// A source's state is recycled once its last token lets go: the next source reuses it (no allocation per
// source once warm), fresh (not cancelled, no callbacks), and a token that outlives its source keeps the
// state out of the pool until it goes.
TEST(Cancel, StatesAreRecycledFresh) {
  auto& pool = detail::CancelStatePool::local();
  { CancelSource warm; }
  const std::size_t before = pool.size;
  ASSERT_GE(before, 1u);
  CancelToken kept;
  {
    CancelSource s;
    EXPECT_EQ(pool.size, before - 1);  // taken from the pool, not allocated
    kept = s.token();
    CancelCallback cb(s.token(), [] {});
    s.cancel();
  }
  EXPECT_EQ(pool.size, before - 1);  // `kept` still refers to it
  EXPECT_TRUE(kept.cancelled());
  kept = CancelToken();
  EXPECT_EQ(pool.size, before);
  CancelSource again;  // reuses it: fresh
  EXPECT_FALSE(again.cancelled());
  int fired = 0;
  CancelCallback cb(again.token(), [&] { ++fired; });
  EXPECT_TRUE(again.cancel());
  EXPECT_EQ(fired, 1);
}

}  // namespace
}  // namespace waitless
