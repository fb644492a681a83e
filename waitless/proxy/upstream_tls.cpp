#include "waitless/proxy/upstream_tls.hpp"

namespace waitless::proxy {

http::ClientOptions with_upstream_tls(http::ClientOptions base, const UpstreamTls& tls) {
  base.tls = tls.context;
  base.tls_server_name = tls.sni;
  return base;
}

std::vector<std::shared_ptr<http::Client>> make_tls_clients(
    Loop& loop, const ProxyConfig& next, const http::ClientOptions& options, const ProxyConfig* previous,
    const std::vector<std::shared_ptr<http::Client>>& previous_clients, bool same_options) {
  std::vector<std::shared_ptr<http::Client>> out(next.upstreams.size());
  for (std::size_t i = 0; i < next.upstreams.size(); ++i) {
    const UpstreamSpec& u = next.upstreams[i];
    if (!u.tls.context) continue;
    if (previous && same_options) {
      for (std::size_t k = 0; k < previous->upstreams.size() && k < previous_clients.size(); ++k) {
        const UpstreamSpec& p = previous->upstreams[k];
        if (previous_clients[k] && p.name == u.name && p.tls.same_settings(u.tls))
          out[i] = previous_clients[k];
      }
    }
    if (!out[i]) out[i] = std::make_shared<http::Client>(loop, with_upstream_tls(options, u.tls));
  }
  return out;
}

}  // namespace waitless::proxy
