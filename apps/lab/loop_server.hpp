// The event-loop side of the lab: waitless's http::Server on ONE loop, with a coroutine handler that
// awaits the I/O part on a timer (co_await sleep: the loop serves other connections meanwhile) and then
// computes the CPU part, either inline on the loop (it then serialises on one core, as in Node) or on the
// `cpu` pool (co_await pools::cpu().run(...): the loop stays free, the work spreads over the cores).
#pragma once
#include <cstdint>
#include <string>

#include "waitless/base/result.hpp"
#include "waitless/http/server.hpp"

namespace waitless::lab {

struct LoopServerConfig {
  double io_ms = 0;
  uint64_t cpu_rounds = 0;
  bool offload_cpu = false;  // run the CPU part on pools::cpu()
};

// Listens on host:port with one loop thread; returns the bound port. The server serves until shutdown()
// or, when `handle_signals`, SIGTERM/SIGINT; then wait() returns.
Result<uint16_t> listen_loop_server(http::Server& server, const std::string& host, uint16_t port,
                                    bool handle_signals);
// A server whose handler does config's work.
std::unique_ptr<http::Server> make_loop_server(const LoopServerConfig& config);

}  // namespace waitless::lab
