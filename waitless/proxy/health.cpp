#include "waitless/proxy/health.hpp"

#include <map>
#include <memory>
#include <set>
#include <unordered_map>
#include <utility>

#include "waitless/async/sleep.hpp"
#include "waitless/base/log.hpp"
#include "waitless/http/client.hpp"
#include "waitless/proxy/upstream_tls.hpp"

namespace waitless::proxy {

namespace {

struct CheckState {
  int64_t next_due = 0;
  bool running = false;
  unsigned successes = 0;  // in a row
  unsigned failures = 0;   // in a row
  std::weak_ptr<ServerState> server;
};

struct Shared {
  std::unordered_map<const ServerState*, CheckState> checks;
  std::size_t running = 0;
};

Task<> check_one(std::shared_ptr<Shared> shared, std::shared_ptr<http::Client> client,
                 std::shared_ptr<Upstream> up, std::size_t i) {
  ServerState& server = up->server(i);
  const ActiveHealth& h = up->spec().health;
  std::string url = scheme_of(server.spec) + server.spec.addr + h.path;
  auto r = co_await client->get(std::move(url));
  const bool ok = r && r->status >= 200 && r->status < 400;
  const bool cancelled = !r && r.error() == Error::cancelled;
  CheckState& st = shared->checks[&server];
  st.running = false;
  --shared->running;
  if (cancelled) co_return;
  const int64_t now = Upstream::now_ns();
  const bool was_up = server.active_up.load(std::memory_order_relaxed);
  if (ok) {
    st.failures = 0;
    if (++st.successes >= h.rise && !was_up) {
      up->set_up(i, true, now);
      log::info("proxy: {} ({}) is up: {} checks passed", server.spec.addr, up->spec().name, st.successes);
    }
  } else {
    st.successes = 0;
    if (++st.failures >= h.fall && was_up) {
      up->set_up(i, false, now);
      log::warn("proxy: {} ({}) is down: {}", server.spec.addr, up->spec().name,
                r ? "status " + std::to_string(r->status) : r.error().message());
    }
  }
}

}  // namespace

Task<> run_health_checks(Proxy& proxy, Loop& loop, std::chrono::milliseconds tick) {
  auto shared = std::make_shared<Shared>();
  // By check timeout (ns: total_timeout differs) and TLS context (https upstreams: upstream_tls.hpp).
  std::map<std::pair<int64_t, const net::TlsContext*>, std::shared_ptr<http::Client>> clients;
  CancelSource checks;  // the checks' own token: cancelled when this task is
  for (;;) {
    const auto snap = proxy.snapshot();
    const int64_t now = Upstream::now_ns();
    std::set<std::pair<int64_t, const net::TlsContext*>> used;
    for (const auto& up : snap->upstreams) {
      const ActiveHealth& h = up->spec().health;
      if (!h.enabled) continue;
      const int64_t timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(h.timeout).count();
      const auto key = std::make_pair(timeout, up->spec().tls.context.get());
      used.insert(key);
      auto& client = clients[key];
      if (!client) {
        http::ClientOptions o;
        o.total_timeout = h.timeout;
        o.connect_timeout = h.timeout;
        o.max_connections_per_origin = 2;
        o.idle_timeout = std::chrono::seconds(5);
        client = std::make_shared<http::Client>(loop, with_upstream_tls(o, up->spec().tls));
      }
      for (std::size_t i = 0; i < up->size(); ++i) {
        CheckState& st = shared->checks[&up->server(i)];
        if (st.running || now < st.next_due) continue;
        st.server = up->shared_server(i);
        st.next_due = now + std::chrono::duration_cast<std::chrono::nanoseconds>(h.interval).count();
        st.running = true;
        ++shared->running;
        spawn(check_one(shared, client, up, i), checks.token());
      }
    }
    // Drop the clients no upstream uses any more (a reload made new TLS contexts); checks in flight hold
    // theirs until they end.
    std::erase_if(clients, [&](const auto& kv) { return !used.contains(kv.first); });
    // Forget servers no reload keeps (their state object is gone).
    std::erase_if(shared->checks,
                  [](const auto& kv) { return !kv.second.running && kv.second.server.expired(); });
    if (co_await sleep(tick)) break;  // cancelled
  }
  checks.cancel();
  // The checks end promptly once cancelled (their requests fail with Error::cancelled): wait for them,
  // without this task's (cancelled) token.
  while (shared->running > 0) {
    co_await [](std::chrono::milliseconds d)
                 -> Task<> { co_await sleep(d); }(std::chrono::milliseconds(1)).with_token({});
  }
}

}  // namespace waitless::proxy
