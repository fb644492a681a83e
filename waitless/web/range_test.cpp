#include "waitless/web/range.hpp"

#include <gtest/gtest.h>

namespace waitless::web {
namespace {

std::string decide(std::optional<std::string_view> header, uint64_t size) {
  const RangeDecision d = evaluate_range(header, size);
  switch (d.outcome) {
    case RangeOutcome::full:
      return "200";
    case RangeOutcome::unsatisfiable:
      return "416 " + content_range_unsatisfied(size);
    case RangeOutcome::partial:
      EXPECT_EQ(d.range.length(), d.range.last - d.range.first + 1);
      return "206 " + content_range(d.range, size);
  }
  return "?";
}

TEST(Range, SatisfiableForms) {
  EXPECT_EQ(decide("bytes=0-99", 1000), "206 bytes 0-99/1000");
  EXPECT_EQ(decide("bytes=0-0", 1000), "206 bytes 0-0/1000");
  EXPECT_EQ(decide("bytes=999-999", 1000), "206 bytes 999-999/1000");
  EXPECT_EQ(decide("bytes=500-", 1000), "206 bytes 500-999/1000");
  EXPECT_EQ(decide("bytes=500-5000", 1000), "206 bytes 500-999/1000");  // last clamped
  EXPECT_EQ(decide("bytes=-100", 1000), "206 bytes 900-999/1000");
  EXPECT_EQ(decide("bytes=-1000", 1000), "206 bytes 0-999/1000");
  EXPECT_EQ(decide("bytes=-5000", 1000), "206 bytes 0-999/1000");  // suffix larger than the file: all
  EXPECT_EQ(decide("Bytes = 1-2 ", 10), "206 bytes 1-2/10");
  EXPECT_EQ(decide("bytes=0-18446744073709551615", 10), "206 bytes 0-9/10");
}

TEST(Range, Unsatisfiable) {
  EXPECT_EQ(decide("bytes=1000-", 1000), "416 bytes */1000");
  EXPECT_EQ(decide("bytes=1000-2000", 1000), "416 bytes */1000");
  EXPECT_EQ(decide("bytes=-0", 1000), "416 bytes */1000");
  EXPECT_EQ(decide("bytes=0-", 0), "416 bytes */0");
  EXPECT_EQ(decide("bytes=-1", 0), "416 bytes */0");
}

TEST(Range, IgnoredAsRfc9110Allows) {
  for (std::string_view h : {"", "bytes", "bytes=", "bytes=-", "bytes=a-b", "bytes=5-1", "bytes=1-2,4-5",
                             "bytes=0-1, 3-", "items=0-1", "bytes=+1-2", "bytes=1-+2", "bytes=0x1-2",
                             "bytes=1 -2", "bytes=99999999999999999999-", "bytes=--1", "bytes=1-2-3"}) {
    EXPECT_EQ(decide(h, 1000), "200") << h;
  }
  EXPECT_EQ(decide(std::nullopt, 1000), "200");
}

}  // namespace
}  // namespace waitless::web
