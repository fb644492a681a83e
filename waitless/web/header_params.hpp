// Parameters of a header value (RFC 9110 5.6.6): `type; name=value; name="quoted \"value\""`, as used by
// Content-Type, Content-Disposition and others. Views into the header text; quoted-pairs are left as
// written (append_unquoted resolves them when a caller needs the value itself).
#pragma once
#include <string>
#include <string_view>

#include "waitless/http/header.hpp"

namespace waitless::web {

// A header value or list element without the optional whitespace (SP, HTAB) around it.
using http::trim_ows;

struct HeaderParam {
  std::string_view name;       // a token, case as written (compare with http::iequals)
  std::string_view raw_value;  // a token, or the inside of a quoted-string without its quotes
  bool quoted = false;
};

namespace detail {
// Parses one `OWS ";" OWS [ token "=" ( token / quoted-string ) ]` at text[pos]; advances pos past it.
// False on a syntax error. An empty parameter (";;") yields a HeaderParam with an empty name.
bool next_header_param(std::string_view text, std::size_t& pos, HeaderParam& out) noexcept;
}  // namespace detail

// Calls f(const HeaderParam&) for each parameter of `params` (the text after the leading value, starting
// at its first ';' or empty): `*( OWS ";" OWS [ token "=" ( token / quoted-string ) ] ) OWS`. Returns
// false at the first syntax error (f has seen the parameters before it). Empty parameters are skipped.
template <typename F>
bool for_each_param(std::string_view params, F&& f) {
  std::size_t pos = 0;
  HeaderParam p;
  while (pos < params.size()) {
    if (!detail::next_header_param(params, pos, p)) return false;
    if (!p.name.empty()) f(p);
  }
  return true;
}

// Appends the value of a quoted-string's inside (raw_value with quoted-pairs resolved) to out.
void append_unquoted(std::string_view raw, std::string& out);

}  // namespace waitless::web
