#include "waitless/web/json.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <vector>

namespace waitless::web {
namespace {

struct Address {
  std::string city;
  std::string zip;
};
BOOST_DESCRIBE_STRUCT(Address, (), (city, zip))

struct User {
  int64_t id = 0;
  std::string name;
  bool active = false;
  double score = 0;
  std::vector<std::string> roles;
  Address address;
};
BOOST_DESCRIBE_STRUCT(User, (), (id, name, active, score, roles, address))

TEST(Json, BuildReadAndSerialize) {
  Json v = json::object{{"id", 7}, {"tags", json::array{"a", "b"}}};
  v.as_object()["name"] = "Ada";
  v.as_object()["ok"] = true;
  v.as_object()["none"] = nullptr;
  EXPECT_EQ(to_json(v), R"({"id":7,"tags":["a","b"],"name":"Ada","ok":true,"none":null})");
  EXPECT_EQ(v.at("tags").as_array().size(), 2u);
  EXPECT_EQ(v.at("id").as_int64(), 7);
  EXPECT_EQ(to_json(Json("quote\" back\\ nl\n \x01 caf\xC3\xA9")), R"("quote\" back\\ nl\n \u0001 café")");
}

TEST(Json, ParseRoundTrip) {
  std::string text = R"({"a":[1,-2,3.5,1e+300,true,false,null],"b":{"c":"\u00e9\ud83d\ude00"},"d":""})";
  auto v = parse_json(text);
  ASSERT_TRUE(v.ok()) << v.error().message();
  EXPECT_EQ(v->at("b").at("c").as_string(), "\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(v->at("a").as_array()[1].as_int64(), -2);
  auto again = parse_json(to_json(*v));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *v);
  EXPECT_TRUE(parse_json("  [1, 2]\n").ok());  // surrounding whitespace
  EXPECT_EQ(parse_json("18446744073709551615").value(), Json(UINT64_MAX));
}

TEST(Json, ParseErrorsCarryThePosition) {
  JsonError where;
  auto v = parse_json("{\n  \"a\": 1,\n  \"b\": tru\n}", &where);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(where.code, v.error());
  EXPECT_EQ(where.line, 3u);
  EXPECT_GE(where.column, 8u);  // at or just after "tru"
  EXPECT_LE(where.column, 11u);
  EXPECT_NE(where.message().find("invalid JSON at line 3, column"), std::string::npos) << where.message();

  EXPECT_FALSE(parse_json("[1,", &where).ok());  // cut short: the error is at the end
  EXPECT_EQ(where.offset, 3u);
  EXPECT_EQ(where.column, 4u);
  EXPECT_FALSE(parse_json("", &where).ok());
  EXPECT_FALSE(parse_json("[1] x", &where).ok());  // extra data after the value
  EXPECT_EQ(where.code, std::error_code(json::error::extra_data));
  EXPECT_EQ(where.offset, 4u);
  for (std::string_view bad : {"{\"a\":1,}", "[1,]", "// c\n1", "{'a':1}", "01", "[1 2]", "\"\xC3\x28\"",
                               "nul", "{\"a\"}", "\"\\x\"", "\"a\nb\""}) {
    EXPECT_FALSE(parse_json(bad).ok()) << bad;
  }
}

TEST(Json, DepthLimit) {
  std::string deep(65, '['), close(65, ']');
  JsonError where;
  EXPECT_FALSE(parse_json(deep + close, &where).ok());
  EXPECT_EQ(where.code, std::error_code(json::error::too_deep));
  EXPECT_TRUE(parse_json(std::string(64, '[') + std::string(64, ']')).ok());
  JsonOptions deeper;
  deeper.max_depth = 100;
  EXPECT_TRUE(parse_json(deep + close, nullptr, deeper).ok());
  std::string very(100000, '[');  // no stack overflow, a clean error
  EXPECT_FALSE(parse_json(very).ok());
}

TEST(Json, StructsToAndFromJson) {
  User u{42, "Ada", true, 98.5, {"admin", "dev"}, {"London", "NW1"}};
  std::string s = to_json(u);
  EXPECT_EQ(s, R"({"id":42,"name":"Ada","active":true,"score":9.85E1,"roles":["admin","dev"],)"
               R"("address":{"city":"London","zip":"NW1"}})");
  auto back = parse_json_as<User>(s);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->id, 42);
  EXPECT_EQ(back->name, "Ada");
  EXPECT_EQ(back->roles, (std::vector<std::string>{"admin", "dev"}));
  EXPECT_EQ(back->address.city, "London");
  EXPECT_EQ(to_json(*back), s);

  std::vector<User> list{u, u};
  auto many = parse_json_as<std::vector<User>>(to_json(list));
  ASSERT_TRUE(many.ok());
  EXPECT_EQ(many->size(), 2u);
  std::map<std::string, int> m{{"a", 1}, {"b", 2}};
  EXPECT_EQ(to_json(m), R"({"a":1,"b":2})");
  EXPECT_EQ(to_json_value(u).at("address").at("zip").as_string(), "NW1");
}

TEST(Json, StructShapeErrorsAreValues) {
  JsonError where;
  // A missing member, a wrong type, an inexact number, not an object: errors, never exceptions.
  for (std::string_view bad :
       {R"({"id":1,"name":"x","active":true,"score":1,"roles":[]})",
        R"({"id":"1","name":"x","active":true,"score":1,"roles":[],"address":{"city":"c","zip":"z"}})",
        R"({"id":1.5,"name":"x","active":true,"score":1,"roles":[],"address":{"city":"c","zip":"z"}})",
        R"({"id":1,"name":"x","active":true,"score":1,"roles":[2],"address":{"city":"c","zip":"z"}})",
        R"([1,2])"}) {
    auto u = parse_json_as<User>(bad, &where);
    EXPECT_FALSE(u.ok()) << bad;
    EXPECT_EQ(where.code, u.error()) << bad;
  }
  auto ok = parse_json_as<User>(
      R"({"id":1,"name":"x","active":true,"score":1,"roles":[],"address":{"city":"c","zip":"z"}})");
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(ok->score, 1.0);
  EXPECT_EQ(from_json<int>(Json(3.0)).value(), 3);  // an exact conversion is fine
  EXPECT_FALSE(from_json<int>(Json(1e12)).ok());    // out of int's range
}

TEST(Json, ParsesIntoAnArena) {
  unsigned char buffer[4096];
  json::monotonic_resource arena(buffer, sizeof buffer);
  JsonOptions options;
  options.storage = json::storage_ptr(&arena);
  auto v = parse_json(R"({"a":[1,2,3],"b":"a string long enough not to fit in place"})", nullptr, options);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->storage().get(), &arena);  // the value and its children live in the arena
  EXPECT_EQ(v->at("b").as_string().storage().get(), &arena);
  EXPECT_EQ(v->at("a").as_array().size(), 3u);
}

TEST(Json, AppendReusesTheBuffer) {
  json::array big;
  for (int i = 0; i < 2000; ++i) big.push_back(json::object{{"i", i}, {"s", "text " + std::to_string(i)}});
  std::string out = "prefix:";
  append_json(big, out);
  EXPECT_EQ(out.substr(0, 7), "prefix:");
  auto v = parse_json(std::string_view(out).substr(7));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->as_array().size(), 2000u);
  EXPECT_EQ(out.substr(7), json::serialize(big));
  out.clear();
  const char* data = out.data();
  append_json(Json(1), out);
  EXPECT_EQ(out, "1");
  EXPECT_EQ(out.data(), data);  // kept its memory
}

// append_json writes the common values itself: byte for byte what Boost.JSON's serializer writes, escapes
// and numbers included; a value with a double anywhere goes through Boost.JSON whole.
TEST(Json, AppendWritesWhatBoostWrites) {
  std::string every_byte;
  for (int c = 0; c < 256; ++c) every_byte += static_cast<char>(c);
  const std::vector<Json> values = {
      Json(nullptr),
      Json(true),
      Json(false),
      Json(0),
      Json(-1),
      Json(std::numeric_limits<int64_t>::min()),
      Json(std::numeric_limits<uint64_t>::max()),
      Json(""),
      Json(every_byte),
      Json("quote \" backslash \\ slash / tab \t nl \n cr \r bs \b ff \f del \x7f \xc3\xa9"),
      json::array{},
      json::object{},
      json::array{1, "two", nullptr, json::array{json::object{}}, json::object{{"k", json::array{}}}},
      json::object{
          {"message", "Hello, World!"}, {"a\"b", 1}, {"", false}, {"nested", json::object{{"x", -7}}}},
      json::object{{"resource", 3}, {"score", 1.5}},
      json::array{1, 2.0, 1e300, -0.0},
  };
  for (const Json& v : values) {
    std::string out = "p:";
    append_json(v, out);
    EXPECT_EQ(out, "p:" + json::serialize(v));
  }
}

}  // namespace
}  // namespace waitless::web
