#include "apps/demo/items.hpp"

#include <gtest/gtest.h>

#include <variant>

namespace waitless::demo {
namespace {

FieldError error_of(std::string_view json) {
  auto body = web::parse_json(json);
  EXPECT_TRUE(body.ok()) << json;
  auto r = parse_item(*body);
  EXPECT_TRUE(std::holds_alternative<FieldError>(r)) << json;
  return std::holds_alternative<FieldError>(r) ? std::get<FieldError>(r) : FieldError{};
}

TEST(DemoItems, ValidItem) {
  auto body = web::parse_json(R"({"name":"Tea pot","category":"kitchen","price_cents":2500,"stock":3})");
  ASSERT_TRUE(body.ok());
  auto r = parse_item(*body);
  ASSERT_TRUE(std::holds_alternative<ItemInput>(r));
  const auto& item = std::get<ItemInput>(r);
  EXPECT_EQ(item.name, "Tea pot");
  EXPECT_EQ(item.category, "kitchen");
  EXPECT_EQ(item.price_cents, 2500);
  EXPECT_EQ(item.stock, 3);
}

TEST(DemoItems, EachFieldNamed) {
  EXPECT_EQ(error_of(R"([1])").field, "body");
  EXPECT_EQ(error_of(R"({"category":"kitchen","price_cents":1})").field, "name");
  EXPECT_EQ(error_of(R"({"name":"","category":"kitchen","price_cents":1})").field, "name");
  EXPECT_EQ(error_of(R"({"name":"x","category":"cars","price_cents":1})").field, "category");
  EXPECT_EQ(error_of(R"({"name":"x","category":"toys","price_cents":-1})").field, "price_cents");
  EXPECT_EQ(error_of(R"({"name":"x","category":"toys","price_cents":1.5})").field, "price_cents");
  EXPECT_EQ(error_of(R"({"name":"x","category":"toys","price_cents":"12"})").field, "price_cents");
  EXPECT_EQ(error_of(R"({"name":"x","category":"toys","price_cents":1,"stock":2000000})").field, "stock");
  EXPECT_EQ(error_of(R"({"name":"x","category":"toys","price_cents":1,"colour":"red"})").field, "colour");
}

TEST(DemoItems, Etags) {
  EXPECT_EQ(item_etag(7, 3), "\"7.3\"");
  EXPECT_EQ(weak_etag_of("abc"), weak_etag_of("abc"));
  EXPECT_NE(weak_etag_of("abc"), weak_etag_of("abd"));
  EXPECT_TRUE(weak_etag_of("").starts_with("W/\""));
}

}  // namespace
}  // namespace waitless::demo
