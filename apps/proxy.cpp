// `waitless proxy --config proxy.json`: the reverse proxy and load balancer (waitless/proxy/, docs/proxy.md).
// One loop per thread ("threads" in the config), each with its own server (SO_REUSEPORT when several) and
// its own upstream pools; the main thread runs the control loop: signals and the active health checks.
//   SIGTERM / SIGINT: graceful shutdown (a second one: at once).
//   SIGHUP: the config file is read again; new requests take the new config, requests in flight finish on
//   theirs, no connection is dropped; a bad file is logged and the config in force kept. The listen
//   address and threads need a restart; the TLS certificate and key are read again.
// A config that cannot be read or parsed: the message (naming the field) on stderr, exit status 2.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "apps/commands.hpp"
#include "waitless/base/log.hpp"
#include "waitless/http/server.hpp"
#include "waitless/loop/signal.hpp"
#include "waitless/proxy/config.hpp"
#include "waitless/proxy/health.hpp"
#include "waitless/proxy/proxy.hpp"

namespace waitless::apps {
namespace {

struct ProxyOptions {
  std::string config_path;
  bool check_only = false;
};

// The worker loops' servers, for the control thread to shut them down.
struct Workers {
  std::mutex mutex;
  std::vector<http::Server*> servers;
  bool stopping = false;
  std::chrono::milliseconds deadline{25'000};

  void shutdown(std::chrono::milliseconds d) {
    std::lock_guard lock(mutex);
    stopping = true;
    deadline = std::min(deadline, d);
    for (http::Server* s : servers) s->shutdown(d);
  }
};

void run_worker(proxy::Proxy& proxy, Workers& workers, net::ListenOptions lo,
                std::shared_ptr<net::TlsContext> tls, std::promise<Result<uint16_t>>& ready) {
  // `ready` is owned by the caller's shared_ptr in this thread's closure: set_value may still touch it
  // after the waiting thread woke.
  Loop loop;
  proxy::ProxyLoop pl(proxy, loop);
  http::Server server(proxy.handler());
  auto port = server.attach(loop, lo, std::move(tls));
  {
    std::lock_guard lock(workers.mutex);
    if (port) {
      workers.servers.push_back(&server);
      if (workers.stopping) server.shutdown(workers.deadline);
    }
  }
  ready.set_value(port);
  if (!port) return;
  loop.run();
  std::lock_guard lock(workers.mutex);
  std::erase(workers.servers, &server);
}

int serve(const ProxyOptions& options) {
  std::string message;
  auto config = proxy::load_config(options.config_path, &message);
  if (!config) {
    std::fprintf(stderr, "waitless proxy: %s\n", message.c_str());
    return 2;
  }
  if (options.check_only) {
    std::printf("waitless proxy: %s is valid\n", options.config_path.c_str());
    return 0;
  }
  std::shared_ptr<net::TlsContext> tls;
  if (!config->tls_cert.empty()) {
    auto t = net::TlsContext::server({.certificate = {config->tls_cert, config->tls_key}});
    if (!t) {
      std::fprintf(stderr, "waitless proxy: TLS: %s (%s, %s)\n", t.error().message().c_str(),
                   config->tls_cert.c_str(), config->tls_key.c_str());
      return 1;
    }
    tls = std::move(t.value());
  }
  unsigned threads =
      config->threads == 0 ? std::max(1u, std::thread::hardware_concurrency()) : config->threads;
  net::ListenOptions lo;
  lo.host = config->listen_host;
  lo.port = config->listen_port;
  lo.reuse_port = threads > 1;
  const bool https = tls != nullptr;

  proxy::Proxy proxy(std::move(*config));
  Workers workers;
  Loop control;
  // Signals are watched before the worker threads exist, so that they inherit the blocked mask.
  CancelSource health_stop;
  int signals = 0;
  Signal sigterm(control), sigint(control), sighup(control);
  // The first signal starts a graceful shutdown, a second one makes it immediate. The signal handles stop
  // holding the control loop, which ends once every worker loop has ended and the checks have stopped.
  auto on_stop = [&](int) {
    ++signals;
    workers.shutdown(signals > 1 ? std::chrono::milliseconds(0) : std::chrono::milliseconds(25'000));
    health_stop.cancel();
    sigterm.unref();
    sigint.unref();
    sighup.unref();
  };
  (void)sigterm.start(SIGTERM, on_stop);
  (void)sigint.start(SIGINT, on_stop);
  (void)sighup.start(SIGHUP, [&](int) {
    std::string why;
    auto next = proxy::load_config(options.config_path, &why);
    if (!next) {
      log::error("proxy: reload refused, the config in force is kept: {}", why);
      return;
    }
    proxy.reload(std::move(*next));
    if (tls) {
      if (auto ec = tls->reload()) log::error("proxy: TLS reload failed: {}", ec.message());
    }
    log::info("proxy: configuration reloaded from {}", options.config_path);
  });

  std::vector<std::thread> pool;
  for (unsigned i = 0; i < threads; ++i) {
    auto ready = std::make_shared<std::promise<Result<uint16_t>>>();
    auto result = ready->get_future();
    control.add_pending_request();  // the control loop lives until this worker's loop has ended
    pool.emplace_back([&, lo, ready] {
      run_worker(proxy, workers, lo, tls, *ready);
      (void)control.post([&control] { control.remove_pending_request(); });
    });
    auto port = result.get();
    if (!port) {
      std::fprintf(stderr, "waitless proxy: cannot listen on %s:%u: %s\n", lo.host.c_str(), unsigned(lo.port),
                   port.error().message().c_str());
      workers.shutdown(std::chrono::milliseconds(0));
      for (auto& t : pool) t.join();
      return 1;
    }
    lo.port = port.value();  // the next loops share it (port 0: the one the first was given)
  }
  std::printf("waitless proxy listening on %s://%s:%u (%u thread%s)\n", https ? "https" : "http",
              lo.host.c_str(), unsigned(lo.port), threads, threads == 1 ? "" : "s");
  std::fflush(stdout);

  {
    Loop::Scope on(control);  // the checks run on the control loop
    spawn(proxy::run_health_checks(proxy, control), health_stop.token());
  }
  control.run();
  for (auto& t : pool) t.join();
  return 0;
}

}  // namespace

Runner define_proxy(CLI::App& cmd) {
  auto options = std::make_shared<ProxyOptions>();
  // Required, but checked here rather than by CLI11: CLI11 reports a missing required option before an
  // unknown one, and `waitless proxy --typo` must name the typo.
  cmd.add_option("--config", options->config_path, "the JSON configuration (docs/proxy.md), required");
  cmd.add_flag("--check", options->check_only, "only check the configuration: exit 0 if valid, 2 if not");
  return [options] {
    if (options->config_path.empty()) {
      std::fprintf(stderr, "--config is required\nRun with --help for more information.\n");
      return 2;
    }
    return serve(*options);
  };
}

}  // namespace waitless::apps
