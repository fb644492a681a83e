#include "waitless/web/jwt_json.hpp"

#include <gtest/gtest.h>

#include <string>

namespace waitless::web::detail {
namespace {

std::string members(std::string_view json) {
  std::string out;
  bool ok = read_json_object(json, [&](std::string_view name, const JsonMember& m) {
    out += "[" + std::string(name) + ":";
    switch (m.kind) {
      case JsonMember::Kind::string:
        out += "s=" + m.text;
        break;
      case JsonMember::Kind::number:
        out += "n=" + std::to_string(m.number);
        break;
      case JsonMember::Kind::array:
        out += m.all_strings ? "strings" : "array";
        for (const auto& s : m.strings) out += "," + s;
        break;
      case JsonMember::Kind::object:
        out += "object";
        break;
      case JsonMember::Kind::boolean:
        out += "bool";
        break;
      case JsonMember::Kind::null:
        out += "null";
        break;
    }
    out += "]";
  });
  return ok ? out : "invalid";
}

TEST(JwtJson, ReadsTopLevelMembers) {
  EXPECT_EQ(members("{}"), "");
  EXPECT_EQ(members(" {\r\n \"a\" : \"x\" ,\"b\":-1.5e2}\t"), "[a:s=x][b:n=-150.000000]");
  EXPECT_EQ(
      members(R"({"a":[],"b":["x","y"],"c":["x",1],"d":{"e":[{"f":null}]},"g":true,"h":false,"i":null})"),
      "[a:strings][b:strings,x,y][c:array,x][d:object][g:bool][h:bool][i:null]");
  EXPECT_EQ(members(R"({"s":"\"\\\/\b\f\n\r\t\u0041\u00e9\ud83d\ude00"})"),
            "[s:s=\"\\/\b\f\n\r\tA\xc3\xa9\xf0\x9f\x98\x80]");
  EXPECT_EQ(members(R"({"d":{"a":1,"a":2}})"), "[d:object]");  // duplicates below the top level: allowed
}

TEST(JwtJson, RefusesWhatIsNotStrictJson) {
  for (std::string_view bad : {"",
                               "[]",
                               "\"a\"",
                               "{",
                               "{\"a\"}",
                               "{\"a\":}",
                               "{\"a\":1,}",
                               "{,}",
                               "{\"a\":1}x",
                               "{\"a\":1}{}",
                               "{'a':1}",
                               "{a:1}",
                               "{\"a\":01}",
                               "{\"a\":1.}",
                               "{\"a\":.5}",
                               "{\"a\":+1}",
                               "{\"a\":1e}",
                               "{\"a\":-}",
                               "{\"a\":NaN}",
                               "{\"a\":tru}",
                               "{\"a\":nul}",
                               "{\"a\":\"\x01\"}",
                               "{\"a\":\"\\x\"}",
                               "{\"a\":\"\\u12\"}",
                               "{\"a\":\"\\ud83d\"}",
                               "{\"a\":\"\\ude00\"}",
                               "{\"a\":\"\\ud83d\\u0041\"}",
                               "{\"a\":\"\xc3\"}",
                               "{\"a\":\"\xed\xa0\x80\"}",
                               "{\"a\":1,\"a\":2}",
                               "{\"a\":[1,]}",
                               "{\"a\":[1 2]}",
                               "{\"a\":1e999}"}) {
    EXPECT_EQ(members(bad), "invalid") << bad;
  }
  std::string deep(40, '[');
  EXPECT_EQ(members("{\"a\":" + deep + std::string(40, ']') + "}"), "invalid");  // nesting over 32
  std::string ok(30, '[');
  EXPECT_EQ(members("{\"a\":" + ok + std::string(30, ']') + "}"), "[a:array]");
}

}  // namespace
}  // namespace waitless::web::detail
