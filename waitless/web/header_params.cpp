#include "waitless/web/header_params.hpp"

#include "waitless/http/header.hpp"

namespace waitless::web {
namespace detail {
namespace {

bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }
// qdtext and the characters a quoted-pair may escape (RFC 9110 5.6.4): HTAB, SP, VCHAR, obs-text.
bool is_quotable(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return c == '\t' || (u >= 0x20 && u != 0x7f);
}

}  // namespace

bool next_header_param(std::string_view text, std::size_t& pos, HeaderParam& out) noexcept {
  out = HeaderParam{};
  std::size_t i = pos;
  while (i < text.size() && is_ows(text[i])) ++i;
  if (i == text.size()) {  // trailing OWS
    pos = i;
    return true;
  }
  if (text[i] != ';') return false;
  ++i;
  while (i < text.size() && is_ows(text[i])) ++i;
  if (i == text.size() || text[i] == ';') {  // an empty parameter
    pos = i;
    return true;
  }
  std::size_t name_end = i;
  while (name_end < text.size() && http::is_token_char(static_cast<unsigned char>(text[name_end])))
    ++name_end;
  if (name_end == i || name_end == text.size() || text[name_end] != '=') return false;
  out.name = text.substr(i, name_end - i);
  i = name_end + 1;
  if (i < text.size() && text[i] == '"') {
    const std::size_t start = ++i;
    for (;;) {
      if (i == text.size()) return false;  // unterminated quoted-string
      const char c = text[i];
      if (c == '"') break;
      if (c == '\\') {
        if (i + 1 == text.size() || !is_quotable(text[i + 1])) return false;
        i += 2;
        continue;
      }
      if (!is_quotable(c)) return false;
      ++i;
    }
    out.raw_value = text.substr(start, i - start);
    out.quoted = true;
    ++i;
  } else {
    const std::size_t start = i;
    while (i < text.size() && http::is_token_char(static_cast<unsigned char>(text[i]))) ++i;
    if (i == start) return false;
    out.raw_value = text.substr(start, i - start);
  }
  pos = i;
  return true;
}

}  // namespace detail

void append_unquoted(std::string_view raw, std::string& out) {
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 1 < raw.size()) ++i;
    out.push_back(raw[i]);
  }
}

}  // namespace waitless::web
