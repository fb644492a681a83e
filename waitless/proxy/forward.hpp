// Header rewriting between the client and the upstream (RFC 9110 7.6).
//
// Toward the upstream: the hop-by-hop fields are dropped (Connection and every field it names,
// Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade) and so is Content-Length (the client layer
// frames the body it sends); X-Forwarded-For gets the client's address appended; X-Forwarded-Proto and
// X-Forwarded-Host are set (this proxy is the edge: values a client sent are replaced); Forwarded gets an
// element `for=...;host="...";proto=...` appended (RFC 7239); Via gets "1.1 <pseudonym>" appended. Host is
// kept unless a rewrite is asked for.
//
// Toward the client: the same hop-by-hop fields and the framing (Content-Length, Transfer-Encoding:
// the server frames what it sends) are dropped, Via gets "1.1 <pseudonym>" appended.
#pragma once
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "waitless/http/header.hpp"
#include "waitless/http/header_map.hpp"
#include "waitless/http/response.hpp"

namespace waitless::proxy {

struct ForwardInfo {
  std::string_view client_ip;      // "127.0.0.1", "::1"
  bool tls = false;                // the client spoke HTTPS to us
  int version_minor = 1;           // the client's HTTP/1.x
  std::string_view via;            // our pseudonym
  std::string_view host_override;  // non-empty: the Host sent upstream
};

// Whether `name` is hop-by-hop, by itself or because `connection` (the Connection field's value) names it.
bool is_hop_by_hop(std::string_view name, std::string_view connection) noexcept;

// The request fields to send upstream, into `out` (cleared first).
void forward_request_headers(const std::vector<http::Header>& in, const ForwardInfo& info,
                             http::HeaderMap& out);

// Copies the upstream response's fields onto `res` (see the file comment). The first refused field's
// error is returned (the rest are still copied).
std::error_code forward_response_headers(const http::HeaderMap& in, std::string_view via,
                                         http::Response& res);

// The trailer fields of an upstream's chunked response that go on to the client (which sent
// `TE: trailers`): all but hop-by-hop, Content-Length and Host. `out` is cleared first.
void forward_trailers(const http::HeaderMap& in, http::HeaderMap& out);

// The head of a 101 toward the client, from the upstream's 101 fields: the same filtering as
// forward_response_headers, then `Connection: Upgrade` and the upstream's `Upgrade` put back (hop-by-hop,
// but they are what the switch is about). Field values come from the response parser (checked there).
std::string switching_protocols_head(const http::HeaderMap& in, std::string_view via);

}  // namespace waitless::proxy
