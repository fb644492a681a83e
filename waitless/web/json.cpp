#include "waitless/web/json.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

namespace waitless::web {

std::string JsonError::message() const {
  std::string m = "invalid JSON";
  if (offset > 0 || line > 1 || column > 1)
    m += " at line " + std::to_string(line) + ", column " + std::to_string(column);
  m += ": " + code.message();
  return m;
}

Result<Json> parse_json(std::string_view text, JsonError* where, const JsonOptions& options) {
  json::parse_options po;
  po.max_depth = options.max_depth;
  json::parser p(json::storage_ptr(), po);
  p.reset(options.storage);
  boost::system::error_code ec;
  // write() parses the whole text as one value (cut short or followed by more: an error) or stops at the
  // first error, returning how much it read.
  std::size_t n = p.write(text.data(), text.size(), ec);
  if (ec) {
    std::error_code code = ec;
    if (where != nullptr) {
      n = std::min(n, text.size());
      std::string_view before = text.substr(0, n);
      std::size_t nl = before.rfind('\n');
      *where =
          JsonError{code, n, 1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n')),
                    1 + (nl == std::string_view::npos ? n : n - nl - 1)};
    }
    return code;
  }
  return p.release();
}

namespace {

// Boost.JSON's serializer, resumable and general (its output is the reference).
void append_json_boost(const Json& value, std::string& out) {
  json::serializer sr;
  sr.reset(&value);
  while (!sr.done()) {
    const std::size_t at = out.size();
    out.resize(std::max(out.capacity(), at + 512));  // write into the spare capacity, grow when it is full
    std::string_view wrote = sr.read(out.data() + at, out.size() - at);
    out.resize(at + wrote.size());
  }
}

// A string as Boost.JSON writes it: '"' and '\\' escaped, \b \t \n \f \r, other bytes below 0x20 as
// \u00xx, everything else (DEL, UTF-8) as it is.
void append_json_string(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  // 0: as it is; else the letter after the backslash ('u': \u00xx).
  static constexpr auto kEscape = [] {
    std::array<char, 256> t{};
    for (int c = 0; c < 0x20; ++c) t[c] = 'u';
    t['\b'] = 'b';
    t['\t'] = 't';
    t['\n'] = 'n';
    t['\f'] = 'f';
    t['\r'] = 'r';
    t['"'] = '"';
    t['\\'] = '\\';
    return t;
  }();
  std::size_t clean = 0;
  while (clean < s.size() && kEscape[static_cast<unsigned char>(s[clean])] == 0) ++clean;
  if (clean == s.size()) {  // the usual string: one growth, three copies
    const std::size_t at = out.size();
    out.resize(at + s.size() + 2);
    char* p = out.data() + at;
    *p = '"';
    std::memcpy(p + 1, s.data(), s.size());
    p[s.size() + 1] = '"';
    return;
  }
  out += '"';
  out.append(s.data(), clean);
  for (std::size_t i = clean; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const char e = kEscape[c];
    if (e == 0) {
      out += static_cast<char>(c);
    } else if (e != 'u') {
      const char esc[2] = {'\\', e};
      out.append(esc, 2);
    } else {
      const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      out.append(esc, 6);
    }
  }
  out += '"';
}

template <typename Int>
void append_int(Int v, std::string& out) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

// The common values written directly into `out` (no serializer state, no zero-filled spare capacity);
// false at a double (Boost.JSON's own shortest form is kept: the caller starts over with its serializer).
bool append_json_direct(const Json& value, std::string& out) {
  switch (value.kind()) {
    case json::kind::null:
      out += "null";
      return true;
    case json::kind::bool_:
      out += value.get_bool() ? "true" : "false";
      return true;
    case json::kind::int64:
      append_int(value.get_int64(), out);
      return true;
    case json::kind::uint64:
      append_int(value.get_uint64(), out);
      return true;
    case json::kind::double_:
      return false;
    case json::kind::string:
      append_json_string(value.get_string(), out);
      return true;
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const Json& item : value.get_array()) {
        if (!first) out += ',';
        first = false;
        if (!append_json_direct(item, out)) return false;
      }
      out += ']';
      return true;
    }
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& member : value.get_object()) {
        if (!first) out += ',';
        first = false;
        append_json_string(member.key(), out);
        out += ':';
        if (!append_json_direct(member.value(), out)) return false;
      }
      out += '}';
      return true;
    }
  }
  return false;
}

}  // namespace

void append_json(const Json& value, std::string& out) {
  const std::size_t at = out.size();
  if (append_json_direct(value, out)) return;
  out.resize(at);
  append_json_boost(value, out);
}

std::string to_json(const Json& value) {
  std::string out;
  append_json(value, out);
  return out;
}

}  // namespace waitless::web
