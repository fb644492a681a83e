// `waitless lab-server`: one of the lab's servers in a process of its own, so that its RSS and thread
// count are its own. Started by the lab; dies with it (PR_SET_PDEATHSIG).
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "apps/lab/cpu_work.hpp"
#include "apps/lab/lab.hpp"
#include "apps/lab/loop_server.hpp"
#include "apps/lab/thread_server.hpp"
#include "waitless/base/log.hpp"

namespace waitless::lab {
namespace {

void announce(uint16_t port) {
  std::printf("port %u\n", static_cast<unsigned>(port));
  std::fflush(stdout);
}

int serve_threads(const LabServerOptions& o, uint64_t rounds) {
  // SIGTERM/SIGINT are taken by one thread that stops the server; every other thread blocks them (they
  // inherit this mask), so a signal never lands in the middle of a connection's recv().
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ThreadServer server({.io_ms = o.io_ms, .cpu_rounds = rounds});
  auto port = server.listen(o.host, o.port);
  if (!port) {
    std::fprintf(stderr, "lab-server: cannot listen: %s\n", port.error().message().c_str());
    return 1;
  }
  std::thread signals([&server, set] {
    int sig = 0;
    sigwait(&set, &sig);
    server.stop();
  });
  announce(*port);
  server.serve();
  if (server.refused() > 0) {
    std::fprintf(stderr, "lab-server (threads): %llu connections refused (no thread could be created)\n",
                 static_cast<unsigned long long>(server.refused()));
  }
  // serve() also returns when the listening socket fails: wake the signal thread so it can be joined.
  pthread_kill(signals.native_handle(), SIGTERM);
  signals.join();
  return 0;
}

int serve_loop(const LabServerOptions& o, uint64_t rounds, bool offload) {
  auto server = make_loop_server({.io_ms = o.io_ms, .cpu_rounds = rounds, .offload_cpu = offload});
  auto port = listen_loop_server(*server, o.host, o.port, /*handle_signals=*/true);
  if (!port) {
    std::fprintf(stderr, "lab-server: cannot listen: %s\n", port.error().message().c_str());
    return 1;
  }
  announce(*port);
  return server->wait();
}

}  // namespace

int run_lab_server(const LabServerOptions& o) {
  // The lab may be killed without stopping its children: take them down with it.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() == 1) return 1;
  // The server's routine lines (a graceful shutdown at every stop) would only interleave with the lab's
  // progress; warnings and errors still show.
  log::set_level(log::Level::warn);
  const double rate = o.rounds_per_ms > 0 ? o.rounds_per_ms : calibrate_rounds_per_ms();
  const uint64_t rounds = rounds_for_ms(o.cpu_ms, rate);
  switch (o.mode) {
    case ServerMode::threads:
      return serve_threads(o, rounds);
    case ServerMode::loop:
      return serve_loop(o, rounds, false);
    case ServerMode::loop_pool:
      return serve_loop(o, rounds, true);
  }
  return 2;
}

}  // namespace waitless::lab
