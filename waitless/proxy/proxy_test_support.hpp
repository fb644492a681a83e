// Helpers for the proxy's unit tests (header only; not part of the library): the proxy's front server on
// the test loop, a one-upstream configuration, and shutting several servers down at once.
#pragma once
#include <gtest/gtest.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "waitless/http/client_test_support.hpp"
#include "waitless/proxy/proxy.hpp"

namespace waitless::proxy::testing {

// Shuts every server down at once, then runs the loop until they are all gone.
inline void finish_all(Loop& loop, std::initializer_list<http::testing::TestServer*> servers) {
  for (http::testing::TestServer* s : servers) s->shutdown();
  loop.run();
  for (http::testing::TestServer* s : servers) s->finish();
}

inline std::string addr(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

// Upstream "app" with these servers, one route "/" to it, metrics on /__metrics.
inline ProxyConfig config_for(const std::vector<uint16_t>& ports) {
  ProxyConfig c;
  UpstreamSpec u;
  u.name = "app";
  for (uint16_t p : ports) {
    ServerSpec s;
    s.addr = addr(p);
    s.host = "127.0.0.1";
    s.port = p;
    u.servers.push_back(s);
  }
  c.upstreams.push_back(u);
  RouteSpec r;
  r.upstream = "app";
  c.routes.push_back(r);
  c.metrics_path = "/__metrics";
  return c;
}

// The proxy (its handler on this loop) behind a real server.
struct Front {
  Front(Loop& loop, ProxyConfig config) : proxy(std::move(config)), pl(proxy, loop) {
    server.emplace(loop, proxy.handler());
  }
  std::string url(std::string_view path) const { return server->url(path); }
  Proxy proxy;
  ProxyLoop pl;
  std::optional<http::testing::TestServer> server;
};

// The value of a metric line `name{labels}` in the proxy's metrics text, or -1.
inline double metric(const Proxy& proxy, const std::string& name_and_labels) {
  const std::string text = proxy.metrics_text();
  const std::string key = "\n" + name_and_labels + " ";
  auto at = text.find(key);
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + key.size()));
}

}  // namespace waitless::proxy::testing
