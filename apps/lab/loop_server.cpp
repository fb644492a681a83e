#include "apps/lab/loop_server.hpp"

#include <cinttypes>
#include <cstdio>
#include <memory>

#include "apps/lab/cpu_work.hpp"
#include "waitless/async/pool_run.hpp"
#include "waitless/async/sleep.hpp"
#include "waitless/loop/thread_pool.hpp"

namespace waitless::lab {
namespace {

// The handler is a named class, not a capturing lambda, so the coroutine's state (the config) lives in
// the std::function held by the server for its whole life.
struct WorkHandler {
  LoopServerConfig config;
  std::shared_ptr<uint64_t> served = std::make_shared<uint64_t>(0);

  Task<> operator()(http::Request&, http::Response& res) const {
    const LoopServerConfig c = config;
    const uint64_t seed = ++*served;
    if (c.io_ms > 0) {
      const auto wait = std::chrono::nanoseconds(static_cast<int64_t>(c.io_ms * 1e6));
      if (co_await sleep(wait)) co_return;  // cancelled: the client went away
    }
    uint64_t v = 0;
    if (c.offload_cpu) {
      // Arguments, not a capturing lambda, inside co_await (GCC 12; see thread_pool.hpp).
      Result<uint64_t> r = co_await pools::cpu().run(&mix_rounds, c.cpu_rounds, seed);
      if (!r) {
        (void)res.send(503, "cpu pool: " + r.error().message() + "\n", "text/plain");
        co_return;
      }
      v = *r;
    } else {
      v = mix_rounds(c.cpu_rounds, seed);
    }
    char body[32];
    const int len = std::snprintf(body, sizeof body, "%016" PRIx64 "\n", v);
    (void)res.set_content_type("text/plain");
    (void)res.send(std::string_view(body, static_cast<std::size_t>(len)));
  }
};

}  // namespace

std::unique_ptr<http::Server> make_loop_server(const LoopServerConfig& config) {
  return std::make_unique<http::Server>(http::Handler(WorkHandler{config}));
}

Result<uint16_t> listen_loop_server(http::Server& server, const std::string& host, uint16_t port,
                                    bool handle_signals) {
  http::ListenConfig lc;
  lc.host = host;
  lc.threads = 1;  // one loop: the model the seeds describe
  lc.handle_signals = handle_signals;
  lc.shutdown_deadline = std::chrono::milliseconds(2000);
  // Inline CPU parts of a few ms are the point of the inline mode, not a bug to report.
  lc.watchdog_threshold = std::chrono::milliseconds(0);
  return server.listen(port, lc);
}

}  // namespace waitless::lab
