// Metrics of every upstream server in the Prometheus text exposition format (version 0.0.4), served on
// ProxyConfig::metrics_path. Per server (labels upstream="name", server="host:port"):
//   waitless_proxy_requests_total          attempts sent to the server (a retry counts on each server)
//   waitless_proxy_failures_total          attempts without a usable response (connect, reset, timeout...)
//   waitless_proxy_timeouts_total          of those, timeouts
//   waitless_proxy_responses_5xx_total     responses with a 5xx status from the server
//   waitless_proxy_ejections_total         passive ejections
//   waitless_proxy_in_flight               requests in flight now
//   waitless_proxy_up                      1 if it takes requests now (not ejected, active checks up)
//   waitless_proxy_ejected                 1 if passive checks eject it now
//   waitless_proxy_check_up                1 if the active checks (when configured) say it is up
//   waitless_proxy_latency_seconds         histogram of complete proxied responses (bucket, sum, count)
// Per upstream: waitless_proxy_upstream_requests_total, _retries_total, _retries_refused_total (over the
// budget), _no_server_total (503: no usable server).
// Per route with a rate limit (label route="host/prefix"): waitless_proxy_rate_limited_total (429s).
// Per route with a cache: waitless_proxy_cache_hits_total, _misses_total, _coalesced_total, _stores_total,
// _bytes (gauge).
#pragma once
#include <string>

#include "waitless/proxy/proxy.hpp"

namespace waitless::proxy {

std::string render_metrics(const Snapshot& snapshot);

}  // namespace waitless::proxy
