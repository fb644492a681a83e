// Cookies: the request's Cookie header read into name/value views, and Set-Cookie values written with
// every attribute (RFC 6265, with RFC 6265bis' SameSite and Max-Age forms and CHIPS' Partitioned).
//
//   for_each_cookie(req_cookie_header, [](Cookie c) { ... });        // or find_cookie(header, "sid")
//   std::string v;
//   if (auto ec = append_set_cookie({.name = "sid", .value = token, .max_age = 3600s, .path = "/",
//                                    .secure = true, .http_only = true, .same_site = SameSite::lax}, v)) ...
//
// Reading is lenient, as browsers write: pairs split on ';', OWS trimmed, a pair without '=' or with an
// empty or non-token name skipped (one foreign cookie on the domain must not break the others), the value
// kept as sent except for one pair of surrounding DQUOTEs. Nothing is percent-decoded.
// Writing is strict: a name that is not a token, a value with a byte outside cookie-octet (controls,
// space, DQUOTE, ',', ';', '\'), a Domain or Path with a control or ';', SameSite=None or Partitioned
// without Secure, and the __Secure- / __Host- prefixes without what they promise are refused with a
// CookieError, and nothing is appended.
#pragma once
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace waitless::web {

enum class CookieError {
  ok = 0,
  bad_name,             // empty, or not a token (RFC 9110 tchar)
  bad_value,            // a byte outside cookie-octet (quotes allowed only as one surrounding pair)
  bad_domain,           // a control, a space or ";" inside
  bad_path,             // a control or ';' inside
  none_without_secure,  // SameSite=None requires Secure (browsers reject it otherwise)
  partitioned_without_secure,
  bad_prefix,  // __Secure- without Secure; __Host- without Secure, with a Domain or a Path other than "/"
};
const std::error_category& cookie_category() noexcept;
inline std::error_code make_error_code(CookieError e) noexcept {
  return {static_cast<int>(e), cookie_category()};
}

struct Cookie {
  std::string_view name;
  std::string_view value;
};

// Calls f(Cookie) for each well-formed pair of a Cookie header value, in order; f may return void, or
// bool (false stops). Views into `header`.
template <typename F>
void for_each_cookie(std::string_view header, F&& f);
// The value of the first cookie named `name` (exact match), or nullopt.
std::optional<std::string_view> find_cookie(std::string_view header, std::string_view name) noexcept;

enum class SameSite { unset, strict, lax, none };

struct SetCookie {
  std::string_view name{};
  std::string_view value{};
  std::optional<std::chrono::system_clock::time_point> expires{};  // written as IMF-fixdate, to the second
  std::optional<std::chrono::seconds> max_age{};                   // 0 or negative: delete at once
  std::string_view domain{};                                       // empty: not written (host-only)
  std::string_view path{};                                         // empty: not written
  bool secure = false;
  bool http_only = false;
  bool partitioned = false;
  SameSite same_site = SameSite::unset;
};

// Appends the Set-Cookie field value (no "Set-Cookie: " and no CRLF) to out; on an error out is unchanged.
std::error_code append_set_cookie(const SetCookie& cookie, std::string& out);

namespace detail {
// One pair of a Cookie header from text[pos]; advances pos past its ';'. False when the pair is skipped.
bool next_cookie(std::string_view text, std::size_t& pos, Cookie& out) noexcept;
}  // namespace detail

template <typename F>
void for_each_cookie(std::string_view header, F&& f) {
  std::size_t pos = 0;
  Cookie c;
  while (pos < header.size()) {
    if (!detail::next_cookie(header, pos, c)) continue;
    if constexpr (std::is_same_v<decltype(f(c)), bool>) {
      if (!f(c)) return;
    } else {
      f(c);
    }
  }
}

}  // namespace waitless::web

template <>
struct std::is_error_code_enum<waitless::web::CookieError> : std::true_type {};
