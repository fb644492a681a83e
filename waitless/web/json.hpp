// Json: the framework's one JSON value type, boost::json::value (docs/json.md: chosen by measurement). Users
// build it, read it, and convert their structs to and from it without hand-written code.
//
//   Json v = json::object{{"id", 7}, {"tags", json::array{"a", "b"}}};
//   v.as_object()["name"] = "Ada";                       // build and change
//   std::string body = to_json(v);                        // {"id":7,"tags":["a","b"],"name":"Ada"}
//
//   JsonError where;
//   auto parsed = parse_json(text, &where);               // errors are values
//   if (!parsed) return bad_request(where.message());     // "invalid JSON at line 2, column 5: ..."
//   int64_t id = parsed->at("id").as_int64();            // boost::json's checked accessors (as_*, at, if_*)
//
//   struct User { int64_t id; std::string name; };
//   BOOST_DESCRIBE_STRUCT(User, (), (id, name))           // one line per struct: the member list
//   std::string s = to_json(User{1, "Ada"});              // {"id":1,"name":"Ada"}
//   Result<User> u = parse_json_as<User>(s);              // or from_json<User>(value)
//
// Struct conversion is Boost.JSON's (value_from / try_value_to): described structs, standard containers,
// strings, numbers, bool, nested freely. Reading a described struct (Boost 1.81) wants an object with
// exactly its members (a missing or extra key is an error, boost::json::error::unknown_name /
// size_mismatch), and numbers that convert exactly (1.5 into an int64_t is an error).
// Parsing refuses invalid UTF-8, comments, trailing commas, nesting deeper than JsonOptions::max_depth and
// anything after the value; the body size limit is the body parser's (413), not this function's.
#pragma once
#include <boost/describe.hpp>
#include <boost/json.hpp>
#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "waitless/base/result.hpp"

namespace waitless::web {

namespace json = boost::json;
using Json = boost::json::value;

// Where and why a parse failed: for a 400 response's message.
struct JsonError {
  std::error_code code;    // a boost::json::error (category "boost.json")
  std::size_t offset = 0;  // bytes of the text read before the error (the text's size when it ended early)
  std::size_t line = 1;    // 1-based line and column (in bytes) of that offset
  std::size_t column = 1;
  // "invalid JSON at line 2, column 5: syntax error"
  std::string message() const;
};

struct JsonOptions {
  std::size_t max_depth = 64;  // arrays and objects nested deeper are refused (error::too_deep)
  // Where the parsed value's memory comes from (default: the heap). A per-request json::monotonic_resource
  // parses small and 10 KB bodies 1.3-1.8x faster (docs/json.md); the value must not outlive it.
  json::storage_ptr storage = {};
};

// Parses one JSON value (surrounding whitespace allowed). On failure, fills *where when given.
Result<Json> parse_json(std::string_view text, JsonError* where = nullptr, const JsonOptions& options = {});

// Serializes compactly (no spaces), appended to `out` (which keeps its memory across calls).
void append_json(const Json& value, std::string& out);
std::string to_json(const Json& value);

// A value of any convertible type (described struct, container, string, number, bool) as JSON.
template <typename T>
requires(!std::is_convertible_v<const T&, const Json&>) Json to_json_value(const T& x) {
  return json::value_from(x);
}
template <typename T>
requires(!std::is_convertible_v<const T&, const Json&>) std::string to_json(const T& x) {
  return to_json(json::value_from(x));
}

// The value as a T, or the conversion's error (a boost::json::error).
template <typename T>
Result<T> from_json(const Json& value) {
  auto r = json::try_value_to<T>(value);
  if (!r) return std::error_code(r.error());
  return std::move(*r);
}

template <typename T>
Result<T> parse_json_as(std::string_view text, JsonError* where = nullptr, const JsonOptions& options = {}) {
  auto v = parse_json(text, where, options);
  if (!v) return v.error();
  auto t = from_json<T>(*v);
  if (!t && where != nullptr) *where = JsonError{t.error(), 0, 1, 1};  // a shape error: no position
  return t;
}

}  // namespace waitless::web
