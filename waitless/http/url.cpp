#include "waitless/http/url.hpp"

#include "waitless/http/header.hpp"

namespace waitless::http {

namespace {

bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_hex(char c) noexcept { return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }

// RFC 3986 reg-name: unreserved / pct-encoded / sub-delims (an IPv4 literal is one too).
bool is_reg_name(std::string_view s) noexcept {
  for (char c : s) {
    bool ok = is_alpha(c) || is_digit(c);
    for (char x : std::string_view("-._~%!$&'()*+,;=")) ok |= c == x;
    if (!ok) return false;
  }
  return !s.empty();
}

// Visible ASCII only: what may stand in a request-target as sent (no SP, CTL, DEL or non-ASCII byte).
bool is_target(std::string_view s) noexcept {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

}  // namespace

Result<Url> parse_url(std::string_view text) {
  Url u;
  std::size_t colon = text.find("://");
  if (colon == std::string_view::npos || colon == 0) return Error::invalid_argument;
  u.scheme = text.substr(0, colon);
  if (!is_alpha(u.scheme[0])) return Error::invalid_argument;
  u.tls = iequals(u.scheme, "https");
  if (!u.tls && !iequals(u.scheme, "http")) return Error::invalid_argument;
  if (u.tls) u.port = 443;
  std::string_view rest = text.substr(colon + 3);

  std::size_t auth_end = rest.find_first_of("/?#");
  u.authority = rest.substr(0, auth_end);
  std::string_view after = auth_end == std::string_view::npos ? std::string_view{} : rest.substr(auth_end);
  if (u.authority.empty() || u.authority.find('@') != std::string_view::npos) return Error::invalid_argument;

  std::string_view port;
  bool has_port = false;
  if (u.authority.front() == '[') {
    std::size_t close = u.authority.find(']');
    if (close == std::string_view::npos) return Error::invalid_argument;
    u.host = u.authority.substr(1, close - 1);
    u.ipv6 = true;
    if (u.host.find(':') == std::string_view::npos) return Error::invalid_argument;
    for (char c : u.host) {
      if (!is_hex(c) && c != ':' && c != '.') return Error::invalid_argument;
    }
    std::string_view tail = u.authority.substr(close + 1);
    if (!tail.empty()) {
      if (tail.front() != ':') return Error::invalid_argument;
      port = tail.substr(1);
      has_port = true;
    }
  } else {
    std::size_t pc = u.authority.find(':');
    u.host = u.authority.substr(0, pc);
    if (pc != std::string_view::npos) {
      port = u.authority.substr(pc + 1);
      has_port = true;
    }
    if (!is_reg_name(u.host)) return Error::invalid_argument;
  }
  if (has_port && !port.empty()) {
    if (port.size() > 5) return Error::invalid_argument;
    uint32_t p = 0;
    for (char c : port) {
      if (!is_digit(c)) return Error::invalid_argument;
      p = p * 10 + static_cast<uint32_t>(c - '0');
    }
    if (p == 0 || p > 65535) return Error::invalid_argument;
    u.port = static_cast<uint16_t>(p);
  }

  std::size_t hash = after.find('#');
  if (!is_target(after)) return Error::invalid_argument;  // the fragment too: nothing odd anywhere
  u.target = after.substr(0, hash);
  std::size_t q = u.target.find('?');
  u.path = u.target.substr(0, q);
  if (q != std::string_view::npos) u.query = u.target.substr(q + 1);
  return u;
}

}  // namespace waitless::http
