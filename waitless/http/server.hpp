// Server: the HTTP/1.1 server. One loop per core, each on its own thread with its own SO_REUSEPORT
// listener (the kernel spreads connections); nothing is shared between loops on the request path.
//
//   http::Server server([](http::Request& req, http::Response& res) {            // sync fast path
//     res.set_content_type("text/plain");
//     res.send("Hello, World!");
//   });
//   if (auto port = server.listen(8080, {.threads = 4}); !port) return 1;
//   return server.wait();   // until SIGTERM / SIGINT (graceful) or shutdown()
//
// An async handler is a coroutine: [](Request& req, Response& res) -> Task<> { ... co_await ...; }. It is
// started at the end of the request head, runs on the connection's loop, and its token fires when the
// client disconnects. A handler that throws (or fails) gets a 500 and a log line; the server goes on.
// See request.hpp and response.hpp for bodies and streaming, limits.hpp for every bound and timeout.
//
// Graceful shutdown (shutdown(), SIGTERM, SIGINT): stop accepting; requests in flight finish and their
// last response says Connection: close; idle keep-alive connections are still read for
// ServerOptions::shutdown_idle_grace (1 s, at most the deadline), so a request their client sent in that
// instant is answered (with Connection: close), then closed; at the deadline the rest are closed and their
// handlers cancelled. A second signal shuts down at once.
#pragma once
#include <atomic>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "waitless/base/result.hpp"
#include "waitless/http/server_options.hpp"
#include "waitless/loop/loop.hpp"
#include "waitless/net/tcp_listener.hpp"
#include "waitless/net/tls_context.hpp"

namespace waitless::http {

namespace detail {
class ServerLoop;
struct ServerConfig;
}  // namespace detail

struct ListenConfig {
  std::string host = "127.0.0.1";  // "0.0.0.0" or "::" for every interface
  unsigned threads = 0;            // loops, each on its own thread; 0: one per core
  int backlog = 4096;
  bool handle_signals = true;  // SIGTERM / SIGINT shut the server down gracefully (wait() watches them)
  std::chrono::milliseconds shutdown_deadline{25'000};
  // Each loop gets a watchdog that logs the callback holding it longer than this (0: none).
  std::chrono::milliseconds watchdog_threshold{100};
  // TLS on every connection (a server context: net/tls_context.hpp); null: plaintext. Its reload() takes
  // effect for the handshakes after it, on every loop; with handle_signals, SIGHUP calls it.
  std::shared_ptr<net::TlsContext> tls;
};

class Server {
 public:
  explicit Server(ServerOptions options = {});
  // A handler returning Task<> is the async handler; one returning void is the sync fast path.
  template <typename F>
  requires std::is_invocable_v<F&, Request&, Response&>
  explicit Server(F&& handler, ServerOptions options = {}) : Server(std::move(options)) {
    using R = std::invoke_result_t<F&, Request&, Response&>;
    if constexpr (std::is_same_v<R, Task<>>) {
      on_request(Handler(std::forward<F>(handler)));
    } else {
      on_request_sync(SyncHandler(std::forward<F>(handler)));
    }
  }
  // Shuts down at once (handlers cancelled) and joins the loops' threads.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Set before listen()/attach(); later calls return Error::invalid_argument.
  std::error_code on_request(Handler handler);
  std::error_code on_request_sync(SyncHandler handler);
  // With both handlers: which one takes each request (server_options.hpp).
  std::error_code choose_handler(HandlerChooser chooser);
  const ServerOptions& options() const noexcept { return options_; }

  // Starts config.threads loops listening on host:port and returns the bound port (useful with port 0)
  // once all of them listen. Errors: the first listener's (EADDRINUSE...), Error::invalid_argument (no
  // handler, bad option), Error::already_closing (already listening or shut down).
  Result<uint16_t> listen(uint16_t port, ListenConfig config = {});
  // Serves on a loop the caller runs (tests, or a loop that also does other work). Returns the port.
  // Call on that loop's thread; the loop must outlive the server's use of it (run it until shutdown ends).
  Result<uint16_t> attach(Loop& loop, const net::ListenOptions& options,
                          std::shared_ptr<net::TlsContext> tls = nullptr);
  // Graceful shutdown of every loop (see the file comment). Any thread; returns at once.
  void shutdown(std::chrono::milliseconds deadline = std::chrono::milliseconds(25'000));
  // Blocks until the loops started by listen() have stopped (watching SIGTERM / SIGINT meanwhile when
  // config.handle_signals). Call on the thread that called listen(). Returns 0.
  int wait();
  // Whether a graceful shutdown has started (shutdown(), SIGTERM, SIGINT). Any thread.
  bool shutting_down() const noexcept { return draining_.load(std::memory_order_acquire); }

  // Connections open now on the loops given to attach() (read on their thread).
  std::size_t connection_count() const;

 private:
  struct Worker;
  struct Control;
  Result<std::shared_ptr<const detail::ServerConfig>> freeze();
  void run_worker(Worker* w, ListenConfig config, uint16_t port, void* ready);

  ServerOptions options_;
  Handler handler_;
  SyncHandler sync_handler_;
  HandlerChooser chooser_;
  std::shared_ptr<const detail::ServerConfig> config_;
  mutable std::mutex mutex_;
  bool listening_ = false;
  bool shutdown_requested_ = false;
  std::atomic<bool> draining_{false};  // shutdown_requested_, readable without the mutex
  std::chrono::milliseconds shutdown_deadline_{0};
  std::vector<std::unique_ptr<Worker>> workers_;
  // Shared only so that a shutdown posted to an attached loop holds a weak reference: it runs on that
  // loop's thread, where ~Server also destroys them, so it finds its server alive or finds nothing.
  std::vector<std::shared_ptr<detail::ServerLoop>> attached_;
  std::unique_ptr<Control> control_;
};

}  // namespace waitless::http
