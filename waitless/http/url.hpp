// Url: an absolute http URL split into the parts an HTTP/1.1 client needs, as views into the caller's text
// (nothing is copied or decoded).
//
//   auto u = parse_url("http://example.com:8080/a/b?x=1#frag");
//   u->host == "example.com", u->port == 8080, u->authority == "example.com:8080", u->target == "/a/b?x=1"
//
// Accepted: scheme "http" or "https" (any case), a host that is a reg-name, an
// IPv4 literal or a bracketed IPv6 literal ("[::1]", host() without the brackets), an optional port 1..65535
// (empty after ':' means the default), a path and query of visible ASCII, a fragment (dropped). Refused
// with Error::invalid_argument: other schemes, userinfo ("user@host"), an empty host, a bad port, spaces,
// control characters and bytes >= 0x80 anywhere (percent-encode them), a '[' host that is not IPv6.
#pragma once
#include <cstdint>
#include <string_view>

#include "waitless/base/result.hpp"

namespace waitless::http {

struct Url {
  std::string_view scheme;     // as written ("http", "HTTP")
  std::string_view host;       // "example.com", "127.0.0.1", "::1" (no brackets)
  uint16_t port = 80;          // the default port of the scheme when none is written (80, 443)
  bool tls = false;            // https
  bool ipv6 = false;           // host is an IPv6 literal
  std::string_view authority;  // host[:port] as written, brackets kept: the Host header's value
  std::string_view path;       // "/a/b"; empty when the URL has none (the request line then says "/")
  std::string_view query;      // "x=1" (without '?'); empty when absent
  std::string_view target;     // path and query as written ("/a/b?x=1", "?x=1", ""), no fragment
};

Result<Url> parse_url(std::string_view text);

}  // namespace waitless::http
