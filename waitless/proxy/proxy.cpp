#include "waitless/proxy/proxy.hpp"

#include <unistd.h>

#include <charconv>
#include <utility>

#include "waitless/base/log.hpp"
#include "waitless/http/field_list.hpp"
#include "waitless/proxy/forward.hpp"
#include "waitless/proxy/metrics.hpp"
#include "waitless/proxy/request_body.hpp"
#include "waitless/proxy/tunnel.hpp"
#include "waitless/proxy/upstream_tls.hpp"

namespace waitless::proxy {

namespace {

thread_local ProxyLoop* tl_current = nullptr;

std::shared_ptr<const Snapshot> make_snapshot(ProxyConfig config, const Snapshot* previous) {
  auto s = std::make_shared<Snapshot>();
  for (const UpstreamSpec& u : config.upstreams) {
    const Upstream* old = nullptr;
    if (previous) {
      for (const auto& p : previous->upstreams) {
        if (p->spec().name == u.name) old = p.get();
      }
    }
    s->upstreams.push_back(std::make_shared<Upstream>(u, old));
  }
  s->limiters = make_edge_limiters(config, previous ? &previous->config : nullptr,
                                   previous ? &previous->limiters : nullptr);
  s->caches = make_cache_counters(config, previous ? &previous->config : nullptr,
                                  previous ? &previous->caches : nullptr);
  s->config = std::move(config);
  return s;
}

http::ClientOptions client_options(const ProxyConfig& c) {
  http::ClientOptions o;
  unsigned most = 1;
  for (const UpstreamSpec& u : c.upstreams) most = std::max(most, u.max_connections);
  o.max_connections_per_origin = most;
  o.connect_timeout = c.connect_timeout;
  o.header_timeout = c.first_byte_timeout;
  o.body_timeout = c.idle_timeout;
  o.idle_timeout = c.keepalive_timeout;
  o.total_timeout = Duration::zero();
  return o;
}

bool same_client_options(const ProxyConfig& a, const ProxyConfig& b) {
  auto x = client_options(a), y = client_options(b);
  return x.max_connections_per_origin == y.max_connections_per_origin &&
         x.connect_timeout == y.connect_timeout && x.header_timeout == y.header_timeout &&
         x.body_timeout == y.body_timeout && x.idle_timeout == y.idle_timeout;
}

std::string_view host_without_port(std::string_view host) noexcept {
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  auto colon = host.rfind(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

// The value of cookie `name` in a Cookie field ("a=1; b=2"), or "".
std::string_view cookie_value(std::string_view cookies, std::string_view name) noexcept {
  while (!cookies.empty()) {
    std::size_t semi = cookies.find(';');
    std::string_view pair = cookies.substr(0, semi);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    std::size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
    if (semi == std::string_view::npos) break;
    cookies.remove_prefix(semi + 1);
  }
  return {};
}

bool idempotent(http::Method m) noexcept {
  using M = http::Method;
  return m == M::get || m == M::head || m == M::put || m == M::del || m == M::options;
}

// Failures where the request may not have reached the application: retrying elsewhere is safe for an
// idempotent request. A timeout is not among them (the first server may still be working on it).
bool retriable(std::error_code ec) noexcept {
  return ec != Error::timed_out && ec != Error::cancelled && ec != Error::closed &&
         ec != Error::invalid_argument && ec != Error::limit_exceeded;
}

std::error_code send_text(http::Response& res, int status, std::string_view body) {
  return res.send(status, body, "text/plain; charset=utf-8");
}

// Counts a request in flight on a server until destroyed.
class InFlight {
 public:
  InFlight(std::shared_ptr<Upstream> up, std::size_t i) noexcept : up_(std::move(up)), i_(i) {}
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
  ~InFlight() { up_->release(i_); }

 private:
  std::shared_ptr<Upstream> up_;
  std::size_t i_;
};

}  // namespace

const RouteSpec* match_route(const ProxyConfig& config, std::string_view host,
                             std::string_view path) noexcept {
  host = host_without_port(host);
  const RouteSpec* best = nullptr;
  for (const RouteSpec& r : config.routes) {
    if (!r.host.empty() && !http::iequals(r.host, host)) continue;
    if (path.substr(0, r.prefix.size()) != r.prefix) continue;
    if (!best || (!r.host.empty() && best->host.empty()) ||
        (r.host.empty() == best->host.empty() && r.prefix.size() > best->prefix.size())) {
      best = &r;
    }
  }
  return best;
}

// ---- Proxy ------------------------------------------------------------------------------------------------

Proxy::Proxy(ProxyConfig config) : snapshot_(make_snapshot(std::move(config), nullptr)) {}

void Proxy::reload(ProxyConfig config) {
  std::lock_guard lock(mutex_);
  snapshot_ = make_snapshot(std::move(config), snapshot_.get());
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

std::shared_ptr<const Snapshot> Proxy::snapshot() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

http::Handler Proxy::handler() {
  return [](http::Request& req, http::Response& res) -> Task<> {
    ProxyLoop* pl = tl_current;
    if (!pl) {
      (void)send_text(res, 500, "proxy: this loop has no upstream pools\n");
      return []() -> Task<> { co_return; }();
    }
    return pl->handle(req, res);
  };
}

std::string Proxy::metrics_text() const { return render_metrics(*snapshot()); }

// ---- ProxyLoop --------------------------------------------------------------------------------------------

ProxyLoop::ProxyLoop(Proxy& proxy, Loop& loop) : proxy_(proxy), loop_(loop) {
  refresh();
  tl_current = this;
}

ProxyLoop::~ProxyLoop() {
  if (tl_current == this) tl_current = nullptr;
}

ProxyLoop* ProxyLoop::current() noexcept { return tl_current; }

void ProxyLoop::refresh() {
  const uint64_t g = proxy_.generation();
  if (g == generation_ && snapshot_) return;
  auto next = proxy_.snapshot();
  const bool same_options = client_ && same_client_options(snapshot_->config, next->config);
  if (!same_options) client_ = std::make_shared<http::Client>(loop_, client_options(next->config));
  tls_clients_ = make_tls_clients(loop_, next->config, client_options(next->config),
                                  snapshot_ ? &snapshot_->config : nullptr, tls_clients_, same_options);
  caches_.refresh(loop_, next->caches);
  snapshot_ = std::move(next);
  generation_ = g;
}

Task<> ProxyLoop::handle(http::Request& req, http::Response& res) {
  refresh();
  const std::shared_ptr<const Snapshot> snap = snapshot_;  // this request's configuration, to its end
  const ProxyConfig& cfg = snap->config;
  const std::string_view host = req.header("host");

  if (!cfg.metrics_path.empty() && req.path() == cfg.metrics_path) {
    (void)res.set_content_type("text/plain; version=0.0.4; charset=utf-8");
    (void)res.send(render_metrics(*snap));
    co_return;
  }
  const RouteSpec* route = match_route(cfg, host, req.path());
  if (!route) {
    (void)send_text(res, 404, "404 no route for this host and path\n");
    co_return;
  }
  auto peer = req.peer_address();
  const std::string client_ip = peer ? peer->host() : std::string("unknown");
  const std::size_t route_index = std::size_t(route - cfg.routes.data());
  if (const auto& limiter = snap->limiters[route_index]) {
    if (!limiter->admit(req, client_ip, res)) co_return;  // 429: the upstream is never contacted
  }
  const std::shared_ptr<ResponseCache> cache = caches_.for_route(route_index);
  CachePlan plan;
  if (cache) {
    plan = cache->plan(req);
    if (co_await cache->serve(req, plan, cfg.via, res)) co_return;  // a fresh stored response
  }
  const std::shared_ptr<Upstream> up = snap->upstreams[route->upstream_index];
  const UpstreamSpec& spec = up->spec();
  const std::shared_ptr<http::Client> client =
      spec.tls.context ? tls_clients_[route->upstream_index] : client_;  // https servers: their own pools
  up->count_request(Upstream::now_ns());

  // The body is streamed to the upstream as the client sends it (request_body.hpp).
  std::shared_ptr<RequestBody> body;
  const std::optional<uint64_t> length = req.content_length();
  if (req.has_body()) {
    if (length && *length > cfg.max_request_body) {
      (void)send_text(res, 413, "413 request body too large\n");
      co_return;
    }
    req.set_body_limit(cfg.max_request_body);
    body = std::make_shared<RequestBody>(req);
  }

  uint64_t key = 0;
  if (spec.balance == Balance::hash) {
    switch (spec.hash_key.kind) {
      case HashKey::Kind::client_ip:
        key = hash_key(client_ip);
        break;
      case HashKey::Kind::header:
        key = hash_key(req.header(spec.hash_key.name));
        break;
      case HashKey::Kind::cookie:
        key = hash_key(cookie_value(req.header("cookie"), spec.hash_key.name));
        break;
    }
  }

  http::ClientRequest creq;
  creq.method = std::string(req.method());
  ForwardInfo info{client_ip, !cfg.tls_cert.empty(), req.version_minor(), cfg.via, {}};
  forward_request_headers(req.headers(), info, creq.headers);
  // An Upgrade request (WebSocket...): the two hop-by-hop fields the switch needs go on to the upstream.
  const bool upgrade = req.is_upgrade() && req.method_id() != http::Method::connect;
  if (upgrade) {
    creq.headers.add("Connection", "Upgrade");
    creq.headers.add("Upgrade", req.header("upgrade"));
  }
  // `TE: trailers` (hop-by-hop too): the client takes trailer fields, so the upstream may send them.
  const bool trailers = http::list_has_token(req.header("te"), "trailers");
  if (trailers) creq.headers.add("TE", "trailers");
  if (body) {
    creq.body_source = body;
    creq.body_length = length ? int64_t(*length) : -1;  // chunked from the client: chunked upstream
  }
  const bool may_retry = idempotent(req.method_id()) && up->size() > 1 && cfg.retry_budget_percent > 0;
  const std::string_view target =
      req.target().empty() || req.target().front() != '/' ? req.path() : req.target();

  int exclude = -1;
  for (int attempt = 0;; ++attempt) {
    const int64_t start = Upstream::now_ns();
    int chosen = -1;
    std::string_view sticky;  // the client's sticky cookie, when it names a usable server
    if (!spec.sticky_cookie.empty() && attempt == 0) {
      sticky = cookie_value(req.header("cookie"), spec.sticky_cookie);
      chosen = up->acquire_sticky(sticky, start);
      if (chosen < 0) sticky = {};
    }
    if (chosen < 0) chosen = up->acquire(key, exclude, start);
    if (chosen < 0) {
      (void)send_text(res, 503, "503 no healthy upstream server\n");
      co_return;
    }
    const std::size_t i = std::size_t(chosen);
    InFlight counted(up, i);
    ServerState& server = up->server(i);
    std::string url = scheme_of(server.spec);
    url += server.spec.addr;
    url += target;
    // The request is moved into the client only on the last attempt, after which the loop never continues.
    creq.url = std::move(url);  // NOLINT(bugprone-use-after-move)
    if (spec.rewrite_host) creq.headers.set("Host", server.spec.addr);
    const bool last = attempt > 0 || !may_retry;
    // An attempt that failed before anything reached the client (no head, or no first body piece) counts
    // against the server; then the request goes to another server (true) or the client gets 504 / 502.
    auto try_another = [&](std::error_code ec, std::string_view failed_part) {
      up->report_failure(i, Upstream::now_ns(), ec == Error::timed_out);
      if (ec.category() == net::tls_category()) {
        log::warn("proxy: TLS to {} ({}) failed: {}", server.spec.addr, spec.name, ec.message());
      }
      // With a body: only while all of it read so far is still held (RequestBody::kReplayLimit).
      if (!last && retriable(ec) && (!body || body->rewind()) &&
          up->take_retry(cfg.retry_budget_percent, Upstream::now_ns())) {
        exclude = chosen;
        return true;
      }
      if (ec == Error::timed_out) {
        (void)send_text(res, 504, "504 upstream timed out\n");
      } else {
        (void)send_text(res, 502,
                        "502 bad gateway: upstream " + std::string(failed_part) + ec.message() + "\n");
      }
      return false;
    };
    auto streamed = co_await client->stream(last ? std::move(creq) : http::ClientRequest(creq));
    if (!streamed) {
      if (req.cancel_token().cancelled()) co_return;  // the client went away: not the server's fault
      // The client's body failed (over max_request_body: the server answers 413; malformed; gone).
      if (body && body->error()) co_return;
      if (try_another(streamed.error(), "")) continue;
      co_return;
    }
    http::ClientStream& from = *streamed;
    // The first piece before the head goes out: a body that fails at once still gets a clean 502, and since
    // nothing reached the client yet, an idempotent request may still go to another server (an upstream
    // killed between its head and its body).
    Result<std::string_view> piece = co_await from.read();
    if (!piece) {
      if (req.cancel_token().cancelled()) co_return;
      if (try_another(piece.error(), "body ")) continue;
      co_return;
    }
    up->report_success(i);
    if (from.status() == 101) {
      if (upgrade)
        co_await tunnel(res, from, cfg, up->shared_server(i));
      else
        (void)send_text(res, 502, "502 bad gateway: upstream switched protocols unasked\n");
      co_return;
    }
    if (from.status() >= 500) server.responses_5xx.fetch_add(1, std::memory_order_relaxed);
    (void)res.set_status(from.status() < 200 ? 502 : from.status());
    (void)forward_response_headers(from.headers(), cfg.via, res);
    if (!spec.sticky_cookie.empty() && sticky.empty()) {
      (void)res.append("Set-Cookie",
                       spec.sticky_cookie + "=" + Upstream::sticky_id(server.spec) + "; Path=/; HttpOnly");
    }
    CacheRecorder recorded =
        cache ? cache->record(req, plan, from.status(), from.headers(), res) : CacheRecorder{};
    const std::string_view length = from.header("content-length");
    uint64_t declared = 0;
    if (!length.empty() &&
        std::from_chars(length.data(), length.data() + length.size(), declared).ec == std::errc{}) {
      (void)res.set_content_length(declared);
    }
    uint64_t since_drain = 0;
    while (!piece->empty()) {
      recorded.add(*piece);
      if (res.write(*piece)) co_return;  // the client went away: the stream closes the upstream connection
      since_drain += piece->size();
      // Read ahead of a slow client up to the buffer, then wait for it (backpressure).
      if (since_drain > cfg.response_buffer && res.needs_drain()) {
        if (co_await res.drain()) co_return;
        since_drain = 0;
      }
      piece = co_await from.read();
      if (!piece) {
        if (!req.cancel_token().cancelled()) {
          up->report_failure(i, Upstream::now_ns(), piece.error() == Error::timed_out);
          log::warn("proxy: upstream {} failed mid-body: {}", server.spec.addr, piece.error().message());
        }
        res.abort();
        co_return;
      }
    }
    if (trailers && !from.trailers().empty()) {
      http::HeaderMap kept;
      forward_trailers(from.trailers(), kept);
      (void)res.end_with_trailers(kept);
    } else {
      (void)res.end();
    }
    recorded.commit();
    server.observe_latency(uint64_t(Upstream::now_ns() - start) / 1000);
    co_return;
  }
}

// The upstream answered 101: the client gets the 101 head, then the two sockets are joined by a Tunnel.
Task<> ProxyLoop::tunnel(http::Response& res, http::ClientStream& from, const ProxyConfig& cfg,
                         std::shared_ptr<ServerState> server) {
  auto upstream = from.take_upgraded();
  if (!upstream) {
    (void)send_text(res, 502, "502 bad gateway: the upstream connection cannot be tunnelled\n");
    co_return;
  }
  TunnelOptions options;
  options.idle_timeout = cfg.tunnel_idle_timeout;
  const std::string head = switching_protocols_head(from.headers(), cfg.via);
  // Shared with the sink (a std::function, copyable): the upstream's connection, TLS layer included.
  auto u = std::make_shared<http::Upgraded>(std::move(*upstream));
  auto sink = [u, options, server](Result<http::Upgraded> client) mutable {
    if (!client) {
      ::close(u->fd);  // the client left before the switch
      return;
    }
    server->tunnels.fetch_add(1, std::memory_order_relaxed);
    auto closed = [server] { server->tunnels.fetch_sub(1, std::memory_order_relaxed); };
    if (std::error_code ec = start_tunnel(std::move(*client), std::move(*u), options, std::move(closed))) {
      log::warn("proxy: tunnel not started: {}", ec.message());
    }
  };
  if (std::error_code ec = http::switch_protocols(res, head, std::move(sink))) {
    ::close(u->fd);  // the sink was not kept: the upstream socket is still ours
    // The client's request cannot switch (it has a body, another request is in flight before it...).
    (void)send_text(res, 502, "502 bad gateway: this connection cannot switch protocols\n");
  }
  co_return;
}

}  // namespace waitless::proxy
