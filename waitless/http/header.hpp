// Header fields: a name/value pair of views, case-insensitive name comparison and the character classes
// of RFC 9110 used to validate what user code puts into a response.
#pragma once
#include <cstddef>
#include <string_view>

namespace waitless::http {

struct Header {
  std::string_view name;
  std::string_view value;
};

inline constexpr char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? char(c + 32) : c; }

// ASCII case-insensitive equality (header names, tokens such as "chunked" or "100-continue").
inline constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

// Without the optional whitespace (OWS: spaces and tabs, RFC 9110 5.6.3) around a field value or list
// element.
inline constexpr std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Character classes, one table lookup per byte (these run on every request and every header set).
namespace chars {
inline constexpr unsigned char kToken = 1;  // tchar (RFC 9110 5.6.2): what a header name may contain
inline constexpr unsigned char kValue = 2;  // field-value: VCHAR, obs-text, SP, HTAB
inline constexpr unsigned char kHost = 4;   // uri-host [":" port] (RFC 3986 reg-name, IPv4, IP literal)

struct Table {
  unsigned char c[256] = {};
  constexpr Table() {
    for (int i = 0; i < 256; ++i) {
      bool alnum = (i >= '0' && i <= '9') || (i >= 'a' && i <= 'z') || (i >= 'A' && i <= 'Z');
      bool tspecial = false, hspecial = false;
      for (char s : std::string_view("!#$%&'*+-.^_`|~")) tspecial |= i == s;
      for (char s : std::string_view("-._~%!$&'()*+,;=:[]")) hspecial |= i == s;
      c[i] = static_cast<unsigned char>((alnum || tspecial ? kToken : 0) |
                                        ((i >= 0x20 && i != 0x7f) || i == '\t' ? kValue : 0) |
                                        (alnum || hspecial ? kHost : 0));
    }
  }
};
inline constexpr Table kTable{};

// Branch-free: the classes of every byte are ANDed, four at a time (short strings, hot path).
inline constexpr bool all(std::string_view s, unsigned char cls) noexcept {
  const std::size_t n = s.size();
  unsigned acc = 0xff;
  std::size_t i = 0;
  auto at = [&s](std::size_t k) { return kTable.c[static_cast<unsigned char>(s[k])]; };
  for (; i + 4 <= n; i += 4) acc &= at(i) & at(i + 1) & at(i + 2) & at(i + 3);
  for (; i < n; ++i) acc &= at(i);
  return (acc & cls) != 0;
}
}  // namespace chars

inline constexpr bool is_token_char(unsigned char c) noexcept { return chars::kTable.c[c] & chars::kToken; }
inline constexpr bool is_token(std::string_view s) noexcept {
  return !s.empty() && chars::all(s, chars::kToken);
}
// field-value (RFC 9110 5.5): visible characters, obs-text, SP and HTAB. Everything else (CR, LF, NUL and
// the other controls) could split or corrupt the response, so it is refused.
inline constexpr bool is_field_value(std::string_view s) noexcept { return chars::all(s, chars::kValue); }
// A Host value: reg-name / IPv4 / [IP literal], optional port; empty allowed (no authority). Refuses what
// could confuse virtual hosting or a proxy: spaces, '/', '@', '?', '#'...
inline constexpr bool is_host(std::string_view s) noexcept { return chars::all(s, chars::kHost); }

static_assert(is_token("Content-Type") && !is_token("Bad Name") && !is_token(""));
static_assert(is_field_value("a\tb \xff") && !is_field_value("a\rb") &&
              !is_field_value(std::string_view("\0", 1)));
static_assert(is_host("[::1]:80") && is_host("a.b-c_d") && !is_host("a b") && !is_host("a/b") &&
              !is_host("u@h"));

}  // namespace waitless::http
