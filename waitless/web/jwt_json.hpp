// A strict, minimal JSON reader for what JWT needs: the top-level members of an object (a JOSE header, a
// claims set) with their strings unescaped, numbers converted and arrays of strings collected; nested
// values are checked and skipped. The framework's JSON library (web/json) is for applications; this one
// exists so that token verification depends on nothing but the grammar (RFC 8259): no duplicate member
// names at the top level (RFC 7515 4: reject or take the last; we reject), UTF-8 only, nesting <= 32.
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace waitless::web::detail {

struct JsonMember {
  enum class Kind { string, number, boolean, null, array, object };
  Kind kind = Kind::null;
  std::string text;                  // string: the unescaped value
  double number = 0;                 // number
  bool all_strings = true;           // array: every element is a string
  std::vector<std::string> strings;  // array: its string elements, unescaped
};

// Calls f(name, member) for each top-level member of the object `json`, in order. False when `json` is
// not exactly one strict JSON object (whitespace around allowed), or repeats a top-level name.
bool read_json_object(std::string_view json,
                      const std::function<void(std::string_view name, const JsonMember& member)>& f);

}  // namespace waitless::web::detail
