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

// tchar (RFC 9110 5.6.2): what a header name may contain.
inline constexpr bool is_token_char(unsigned char c) noexcept {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

inline constexpr bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_token_char(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// field-value (RFC 9110 5.5): visible characters, obs-text, SP and HTAB. Everything else (CR, LF, NUL and
// the other controls) could split or corrupt the response, so it is refused.
inline constexpr bool is_field_value(std::string_view s) noexcept {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

}  // namespace waitless::http
