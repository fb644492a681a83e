// run_demo: one event loop on the main thread serves the demo's App and its two internal services; the
// database runs on its own threads (SQLite) or sockets (PostgreSQL), CPU work on the `cpu` pool.
// One loop keeps every counter of the page in one place and shows what a single event loop sustains.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "apps/demo/context.hpp"
#include "apps/demo/demo.hpp"
#include "apps/demo/pbkdf2.hpp"
#include "apps/demo/seed.hpp"
#include "apps/demo/services.hpp"
#include "waitless/base/log.hpp"
#include "waitless/loop/signal.hpp"
#include "waitless/web/app.hpp"

namespace waitless::demo {
namespace {

Task<Result<std::unique_ptr<Store>>> open_store(const DemoOptions& o, bool& seeded) {
  Result<std::unique_ptr<Store>> store =
      o.db.empty() ? co_await open_sqlite_store(o.var_dir + "/demo.db") : co_await open_postgres_store(o.db);
  if (!store) co_return store.error();
  auto s = co_await ensure_seeded(**store);
  if (!s) co_return s.error();
  seeded = *s;
  co_return store;
}

std::string default_public_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto candidate = exe.parent_path().parent_path() / "apps/demo/public";
    if (std::filesystem::is_directory(candidate, ec)) return candidate.string();
  }
  return "apps/demo/public";
}

void print_banner(const DemoOptions& o, uint16_t port, const Store& store, bool seeded,
                  const Services& services) {
  const std::string host = o.bind == "0.0.0.0" || o.bind == "::" ? "127.0.0.1" : o.bind;
  const std::string url = "http://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                          std::to_string(port);
  std::printf(
      "waitless demo listening on %s  (%s: %s%s; services on ports %u and %u)\n"
      "  open %s/ for the live dashboard, %s/chat.html for the chat\n"
      "  try:\n"
      "    curl -i %s/api/dashboard/1\n"
      "    curl '%s/api/items?page=1&per_page=5'\n"
      "    TOKEN=$(curl -s -H 'Content-Type: application/json' -d '{\"email\":\"%s\",\"password\":\"%s\"}' "
      "%s/api/login | sed 's/.*\"token\":\"\\([^\"]*\\)\".*/\\1/')\n"
      "    curl -i -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' "
      "-d '{\"name\":\"Tea pot\",\"category\":\"kitchen\",\"price_cents\":2500,\"stock\":3}' %s/api/items\n"
      "    curl -s -o /dev/null -w '%%{size_download} bytes\\n' '%s/download/report.csv?mb=64'\n"
      "    curl -X POST -H 'Content-Type: application/json' -d '{\"password\":\"hunter2\"}' %s/api/hash\n"
      "    curl %s/api/gateway/1   (then: curl -X POST %s/api/services/recommendations/down)\n"
      "    curl -N %s/events\n"
      "    curl %s/metrics\n"
      "  Ctrl-C stops it gracefully.\n",
      url.c_str(), std::string(store.backend()).c_str(), store.location().c_str(),
      seeded ? ", created and seeded" : "", unsigned(services.port("profile")),
      unsigned(services.port("recommendations")), url.c_str(), url.c_str(), url.c_str(), url.c_str(),
      kDemoEmail, kDemoPassword, url.c_str(), url.c_str(), url.c_str(), url.c_str(), url.c_str(), url.c_str(),
      url.c_str(), url.c_str());
  std::fflush(stdout);
}

}  // namespace

int run_demo(const DemoOptions& options) {
  Loop loop;
  Loop::Scope scope(loop);
  // Signals first: threads created later (pools, the database's) inherit the blocked mask, so Ctrl-C and
  // SIGTERM reach the loop's signalfd whichever thread the kernel picks.
  std::function<void()> begin_shutdown;
  auto on_stop = [&](int signo) {
    log::info("demo: {} received, shutting down", signo == SIGINT ? "SIGINT" : "SIGTERM");
    if (begin_shutdown) begin_shutdown();
  };
  auto sigint = on_signal(loop, SIGINT, on_stop);
  auto sigterm = on_signal(loop, SIGTERM, on_stop);
  if (!sigint || !sigterm) {
    std::fprintf(stderr, "waitless demo: cannot watch signals\n");
    return 1;
  }

  bool seeded = false;
  auto store = run(open_store(options, seeded), loop);
  if (!store) {
    std::fprintf(stderr, "waitless demo: cannot open the database (%s): %s\n",
                 options.db.empty() ? (options.var_dir + "/demo.db").c_str() : "postgres",
                 store.error().message().c_str());
    return 1;
  }

  Stats stats(loop);
  http::Client client(loop, {.connect_timeout = std::chrono::milliseconds(options.service_timeout_ms),
                             .total_timeout = std::chrono::milliseconds(options.service_timeout_ms)});
  Services services(loop, **store);
  DemoContext ctx{.store = store->get(),
                  .stats = &stats,
                  .client = &client,
                  .services = &services,
                  .token_key = random_hex(32)};
  ctx.public_dir = options.public_dir.empty() ? default_public_dir() : options.public_dir;
  if (auto ec = services.start_all(); ec) {
    std::fprintf(stderr, "waitless demo: cannot start the internal services: %s\n", ec.message().c_str());
    return 1;
  }

  web::App app;
  app.use(stats.layer());  // outermost: times everything, sees the final status
  app.use(web::errors());
  app.use(web::compression());  // gzip / brotli when the client accepts it (not the SSE feed)
  add_ops_routes(app, ctx);
  app.get("/healthz", web::healthz());
  app.get("/readyz", web::readyz(app, [&ctx] { return ctx.ready; }));
  add_page_routes(app, ctx);
  add_dashboard_routes(app, ctx);
  add_items_read_routes(app, ctx);
  add_items_write_routes(app, ctx, web::bearer_jwt({.secret = ctx.token_key, .issuer = "waitless-demo"}));
  add_auth_routes(app, ctx);
  add_download_routes(app, ctx);
  add_hash_routes(app, ctx);
  add_gateway_routes(app, ctx);
  add_chat_routes(app, ctx);
  add_events_routes(app, ctx);
  auto port = app.attach(loop, {.host = options.bind, .port = static_cast<uint16_t>(options.port)});
  if (!port) {
    std::fprintf(stderr, "waitless demo: cannot listen on %s:%d: %s\n", options.bind.c_str(), options.port,
                 port.error().message().c_str());
    services.stop_all();
    return 1;
  }
  ctx.ready = true;
  stats.start({.connections = [&app] { return app.connection_count(); },
               .db_in_flight = [&ctx] { return ctx.store->metrics().in_flight; }},
              {});
  begin_shutdown = [&] {
    if (ctx.shutting_down) return;
    ctx.shutting_down = true;
    ctx.ready = false;
    stats.stop();
    app.shutdown(std::chrono::seconds(5));
    services.stop_all();
    // A second Ctrl-C then ends the process at once (the default action).
    (void)(*sigint)->stop();
    (void)(*sigterm)->stop();
  };
  print_banner(options, *port, **store, seeded, services);
  loop.run();
  app.close();
  std::printf("waitless demo: stopped\n");
  return 0;
}

}  // namespace waitless::demo
