// Upstreams over TLS: the http::Clients that speak https to an upstream's servers.
//
// An upstream has https servers when a server is written "https://host:port" or the upstream has a "tls"
// section (then all its servers speak TLS). Its UpstreamTls::context (made by the config parser: the CA
// file is read then) is shared by every loop; each loop has one http::Client per such upstream, with that
// context and, when `sni` is set, that name as SNI and as the name verified (ClientOptions::tls_server_name),
// so its keep-alive pool holds TLS connections (and the context offers the last session of each server
// for resumption). Plain-HTTP upstreams share the loop's other client.
//
// A reload keeps an upstream's client (and its pooled connections) when the upstream keeps its name, its TLS
// settings (ca, verify, sni) and the client options; otherwise the new client starts with a new context
// (the CA file read again) while requests in flight finish on the old one.
#pragma once
#include <memory>
#include <vector>

#include "waitless/http/client.hpp"
#include "waitless/loop/loop.hpp"
#include "waitless/proxy/config.hpp"

namespace waitless::proxy {

// `base` with the upstream's TLS context and SNI name.
http::ClientOptions with_upstream_tls(http::ClientOptions base, const UpstreamTls& tls);

// One client per upstream of `next` with https servers (null for the others), reusing those of `previous`
// (the same upstream name and TLS settings) when `same_options`.
std::vector<std::shared_ptr<http::Client>> make_tls_clients(
    Loop& loop, const ProxyConfig& next, const http::ClientOptions& options, const ProxyConfig* previous,
    const std::vector<std::shared_ptr<http::Client>>& previous_clients, bool same_options);

// "https://" or "http://", for a server.
inline const char* scheme_of(const ServerSpec& s) noexcept { return s.tls ? "https://" : "http://"; }

}  // namespace waitless::proxy
