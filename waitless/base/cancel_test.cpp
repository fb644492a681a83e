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

}  // namespace
}  // namespace waitless
