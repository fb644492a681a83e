#include "waitless/http/field_list.hpp"

#include <gtest/gtest.h>

namespace waitless::http {
namespace {

TEST(FieldList, FindsATokenCaseInsensitivelyWithSpacesAroundItems) {
  EXPECT_TRUE(list_has_token("close", "close"));
  EXPECT_TRUE(list_has_token("keep-alive, Close", "close"));
  EXPECT_TRUE(list_has_token(" \tX-Custom\t , te", "x-custom"));
  EXPECT_TRUE(list_has_token(",,upgrade,", "upgrade"));
  EXPECT_FALSE(list_has_token("closed, unclose", "close"));
  EXPECT_FALSE(list_has_token("", "close"));
  EXPECT_FALSE(list_has_token("keep-alive", "keep"));
}

}  // namespace
}  // namespace waitless::http
