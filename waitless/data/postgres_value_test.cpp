#include "waitless/data/postgres_value.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace waitless::data::pg {
namespace {

TEST(PostgresValue, DecodesIntegersStrictlyWithRangeChecks) {
  EXPECT_EQ(decode<int64_t>("-9223372036854775808").value(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(decode<int32_t>("+42").value(), 42);
  EXPECT_EQ(decode<int16_t>("32768").error(), DbError::bad_value);
  EXPECT_EQ(decode<int32_t>("12x").error(), DbError::bad_value);
  EXPECT_EQ(decode<int32_t>("").error(), DbError::bad_value);
  EXPECT_EQ(decode<int32_t>(" 1").error(), DbError::bad_value);
  EXPECT_EQ(decode<int64_t>("1.5").error(), DbError::bad_value);
}

TEST(PostgresValue, DecodesFloatsAsTheServerPrintsThem) {
  EXPECT_DOUBLE_EQ(decode<double>("1.5e-3").value(), 0.0015);
  EXPECT_TRUE(std::isnan(decode<double>("NaN").value()));
  EXPECT_EQ(decode<double>("-Infinity").value(), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(decode<double>("inf").error(), DbError::bad_value);
  EXPECT_EQ(decode<float>("1,5").error(), DbError::bad_value);
}

TEST(PostgresValue, DecodesBooleansAndBytea) {
  EXPECT_TRUE(decode<bool>("t").value());
  EXPECT_FALSE(decode<bool>("f").value());
  EXPECT_EQ(decode<bool>("yes").error(), DbError::bad_value);
  Bytea b = decode<Bytea>("\\x00ff10").value();
  ASSERT_EQ(b.bytes.size(), 3u);
  EXPECT_EQ(b.bytes[1], std::byte{0xff});
  EXPECT_EQ(decode<Bytea>("\\x0").error(), DbError::bad_value);
  EXPECT_EQ(decode<Bytea>("\\xzz").error(), DbError::bad_value);
  EXPECT_EQ(decode<Bytea>("abc").error(), DbError::bad_value);
}

TEST(PostgresValue, EncodesParametersThatReadBack) {
  EXPECT_EQ(encode(int32_t{-7}), "-7");
  EXPECT_EQ(encode(true), "t");
  EXPECT_EQ(encode(std::optional<int>{}), std::nullopt);
  EXPECT_EQ(encode(std::nullopt), std::nullopt);
  EXPECT_EQ(encode("text"), "text");
  EXPECT_EQ(encode(std::numeric_limits<double>::infinity()), "Infinity");
  const double third = 1.0 / 3;
  EXPECT_EQ(decode<double>(*encode(third)).value(), third);
  Bytea b{{std::byte{1}, std::byte{0xab}}};
  EXPECT_EQ(encode(b), "\\x01ab");
  EXPECT_EQ(decode<Bytea>(*encode(b)).value(), b);
}

}  // namespace
}  // namespace waitless::data::pg
