#include "waitless/web/cookie.hpp"

#include <algorithm>

#include "waitless/http/date_cache.hpp"
#include "waitless/http/header.hpp"
#include "waitless/web/error_table.hpp"
#include "waitless/web/header_params.hpp"

namespace waitless::web {
namespace {

constexpr const char* kCookieMessages[] = {
    "ok",
    "invalid cookie name",
    "invalid cookie value",
    "invalid cookie Domain",
    "invalid cookie Path",
    "SameSite=None requires Secure",
    "Partitioned requires Secure",
    "cookie name prefix requirements not met",
};

// cookie-octet (RFC 6265 4.1.1): %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E.
bool is_cookie_octet(char ch) noexcept {
  const auto c = static_cast<unsigned char>(ch);
  return c >= 0x21 && c <= 0x7e && c != '"' && c != ',' && c != ';' && c != '\\';
}

bool valid_value(std::string_view v) noexcept {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  return std::all_of(v.begin(), v.end(), is_cookie_octet);
}

// av-octet (RFC 6265 4.1.1): any CHAR except CTLs or ';'. A space is refused too in a Domain.
bool valid_attribute(std::string_view v) noexcept {
  return std::all_of(v.begin(), v.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c >= 0x20 && c < 0x7f && c != ';';
  });
}

}  // namespace

const std::error_category& cookie_category() noexcept {
  static const detail::TableCategory category("cookie", kCookieMessages);
  return category;
}

namespace detail {

bool next_cookie(std::string_view text, std::size_t& pos, Cookie& out) noexcept {
  const std::size_t end = std::min(text.find(';', pos), text.size());
  const std::string_view pair = text.substr(pos, end - pos);
  pos = end + 1;
  const std::size_t eq = pair.find('=');
  if (eq == std::string_view::npos) return false;
  const std::string_view name = trim_ows(pair.substr(0, eq));
  std::string_view value = trim_ows(pair.substr(eq + 1));
  if (!http::is_token(name)) return false;
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
    value = value.substr(1, value.size() - 2);
  out = {name, value};
  return true;
}

}  // namespace detail

std::optional<std::string_view> find_cookie(std::string_view header, std::string_view name) noexcept {
  std::optional<std::string_view> found;
  for_each_cookie(header, [&](Cookie c) {
    if (c.name != name) return true;
    found = c.value;
    return false;
  });
  return found;
}

std::error_code append_set_cookie(const SetCookie& c, std::string& out) {
  if (!http::is_token(c.name)) return CookieError::bad_name;
  if (!valid_value(c.value)) return CookieError::bad_value;
  if (!valid_attribute(c.domain) || c.domain.find(' ') != std::string_view::npos)
    return CookieError::bad_domain;
  if (!valid_attribute(c.path)) return CookieError::bad_path;
  if (c.same_site == SameSite::none && !c.secure) return CookieError::none_without_secure;
  if (c.partitioned && !c.secure) return CookieError::partitioned_without_secure;
  // Cookie prefixes (RFC 6265bis 4.1.3), matched case-sensitively as browsers do.
  if (c.name.starts_with("__Secure-") && !c.secure) return CookieError::bad_prefix;
  if (c.name.starts_with("__Host-") && (!c.secure || !c.domain.empty() || c.path != "/")) {
    return CookieError::bad_prefix;
  }
  out.append(c.name).append("=").append(c.value);
  if (c.expires) {
    const auto t = std::chrono::system_clock::to_time_t(*c.expires);
    char date[http::DateCache::kValueSize];
    http::format_http_date(t, date);
    out.append("; Expires=").append(date, sizeof date);
  }
  if (c.max_age) out.append("; Max-Age=").append(std::to_string(c.max_age->count()));
  if (!c.domain.empty()) out.append("; Domain=").append(c.domain);
  if (!c.path.empty()) out.append("; Path=").append(c.path);
  if (c.secure) out.append("; Secure");
  if (c.http_only) out.append("; HttpOnly");
  switch (c.same_site) {
    case SameSite::strict:
      out.append("; SameSite=Strict");
      break;
    case SameSite::lax:
      out.append("; SameSite=Lax");
      break;
    case SameSite::none:
      out.append("; SameSite=None");
      break;
    case SameSite::unset:
      break;
  }
  if (c.partitioned) out.append("; Partitioned");
  return {};
}

}  // namespace waitless::web
