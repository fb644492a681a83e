#include "waitless/proxy/metrics.hpp"

#include <fmt/format.h>

namespace waitless::proxy {

namespace {

// A label value with \, " and newline escaped.
std::string label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void help(std::string& out, std::string_view name, std::string_view type, std::string_view text) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, text, name, type);
}

}  // namespace

std::string render_metrics(const Snapshot& snap) {
  std::string out;
  const int64_t now = Upstream::now_ns();
  auto per_server = [&](std::string_view name, std::string_view type, std::string_view text, auto value) {
    help(out, name, type, text);
    for (const auto& up : snap.upstreams) {
      for (std::size_t i = 0; i < up->size(); ++i) {
        const ServerState& s = up->server(i);
        fmt::format_to(std::back_inserter(out), "{}{{upstream=\"{}\",server=\"{}\"}} {}\n", name,
                       label(up->spec().name), label(s.spec.addr), value(s));
      }
    }
  };
  auto load = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  per_server("waitless_proxy_requests_total", "counter", "Attempts sent to the server.",
             [&](const ServerState& s) { return load(s.requests); });
  per_server("waitless_proxy_failures_total", "counter", "Attempts without a usable response.",
             [&](const ServerState& s) { return load(s.failures); });
  per_server("waitless_proxy_timeouts_total", "counter", "Attempts that timed out.",
             [&](const ServerState& s) { return load(s.timeouts); });
  per_server("waitless_proxy_responses_5xx_total", "counter", "Responses with a 5xx status.",
             [&](const ServerState& s) { return load(s.responses_5xx); });
  per_server("waitless_proxy_ejections_total", "counter", "Passive ejections.",
             [&](const ServerState& s) { return load(s.ejections); });
  per_server("waitless_proxy_in_flight", "gauge", "Requests in flight.",
             [&](const ServerState& s) { return uint64_t(s.in_flight.load(std::memory_order_relaxed)); });
  per_server("waitless_proxy_tunnels_open", "gauge", "Upgraded connections (WebSocket) tunnelled now.",
             [&](const ServerState& s) { return uint64_t(s.tunnels.load(std::memory_order_relaxed)); });
  per_server("waitless_proxy_up", "gauge", "1 if the server takes requests now.",
             [&](const ServerState& s) { return s.usable(now) ? 1 : 0; });
  per_server("waitless_proxy_ejected", "gauge", "1 if passive checks eject the server now.",
             [&](const ServerState& s) { return s.ejected(now) ? 1 : 0; });
  per_server("waitless_proxy_check_up", "gauge", "1 if the active checks (if any) say the server is up.",
             [&](const ServerState& s) { return s.active_up.load(std::memory_order_relaxed) ? 1 : 0; });

  help(out, "waitless_proxy_latency_seconds", "histogram", "Time to proxy a complete response.");
  for (const auto& up : snap.upstreams) {
    for (std::size_t i = 0; i < up->size(); ++i) {
      const ServerState& s = up->server(i);
      const std::string labels =
          fmt::format("upstream=\"{}\",server=\"{}\"", label(up->spec().name), label(s.spec.addr));
      uint64_t cumulative = 0;
      for (std::size_t b = 0; b < kLatencyBucketsUs.size(); ++b) {
        cumulative += load(s.latency_buckets[b]);
        fmt::format_to(std::back_inserter(out), "waitless_proxy_latency_seconds_bucket{{{},le=\"{}\"}} {}\n",
                       labels, double(kLatencyBucketsUs[b]) / 1e6, cumulative);
      }
      const uint64_t count = load(s.latency_count);
      fmt::format_to(std::back_inserter(out), "waitless_proxy_latency_seconds_bucket{{{},le=\"+Inf\"}} {}\n",
                     labels, count);
      fmt::format_to(std::back_inserter(out), "waitless_proxy_latency_seconds_sum{{{}}} {}\n", labels,
                     double(load(s.latency_sum_us)) / 1e6);
      fmt::format_to(std::back_inserter(out), "waitless_proxy_latency_seconds_count{{{}}} {}\n", labels,
                     count);
    }
  }
  auto per_upstream = [&](std::string_view name, std::string_view text, auto value) {
    help(out, name, "counter", text);
    for (const auto& up : snap.upstreams) {
      fmt::format_to(std::back_inserter(out), "{}{{upstream=\"{}\"}} {}\n", name, label(up->spec().name),
                     value(*up));
    }
  };
  per_upstream("waitless_proxy_upstream_requests_total", "Requests routed to the upstream.",
               [](const Upstream& u) { return u.requests(); });
  per_upstream("waitless_proxy_upstream_retries_total", "Retries on another server.",
               [](const Upstream& u) { return u.retries(); });
  per_upstream("waitless_proxy_upstream_retries_refused_total", "Retries refused by the retry budget.",
               [](const Upstream& u) { return u.retries_refused(); });
  per_upstream("waitless_proxy_upstream_no_server_total", "Requests answered 503: no usable server.",
               [](const Upstream& u) { return u.no_server(); });
  help(out, "waitless_proxy_rate_limited_total", "counter", "Requests answered 429 by a route's rate limit.");
  for (std::size_t i = 0; i < snap.limiters.size() && i < snap.config.routes.size(); ++i) {
    if (!snap.limiters[i]) continue;
    fmt::format_to(std::back_inserter(out), "waitless_proxy_rate_limited_total{{route=\"{}\"}} {}\n",
                   label(route_label(snap.config.routes[i])), snap.limiters[i]->limited());
  }
  auto per_cache = [&](std::string_view name, std::string_view type, std::string_view text, auto value) {
    help(out, name, type, text);
    for (std::size_t i = 0; i < snap.caches.size() && i < snap.config.routes.size(); ++i) {
      if (!snap.caches[i]) continue;
      fmt::format_to(std::back_inserter(out), "{}{{route=\"{}\"}} {}\n", name,
                     label(route_label(snap.config.routes[i])), value(*snap.caches[i]));
    }
  };
  per_cache("waitless_proxy_cache_hits_total", "counter", "Responses served from the route's cache.",
            [](const CacheCounters& c) { return c.hits.load(std::memory_order_relaxed); });
  per_cache("waitless_proxy_cache_misses_total", "counter", "Lookups that went to the upstream.",
            [](const CacheCounters& c) { return c.misses.load(std::memory_order_relaxed); });
  per_cache("waitless_proxy_cache_coalesced_total", "counter",
            "Misses that waited for another request of the same key (single-flight).",
            [](const CacheCounters& c) { return c.coalesced.load(std::memory_order_relaxed); });
  per_cache("waitless_proxy_cache_stores_total", "counter", "Responses stored.",
            [](const CacheCounters& c) { return c.stores.load(std::memory_order_relaxed); });
  per_cache("waitless_proxy_cache_bytes", "gauge", "Bytes held by the route's caches (every loop).",
            [](const CacheCounters& c) { return c.bytes.load(std::memory_order_relaxed); });
  return out;
}

}  // namespace waitless::proxy
