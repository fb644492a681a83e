// App: the web framework's entry point. One include gives the whole framework:
//
//   #include "waitless/web/app.hpp"
//   using namespace waitless; using namespace waitless::web;
//
//   App app;
//   app.use(logger());                                        // access log (access_log.hpp)
//   app.use([](Request& req, Response& res, Next next) -> Task<> {   // onion: before and after the rest
//     auto t0 = std::chrono::steady_clock::now();
//     co_await next();
//     res.server_timing("total", std::chrono::steady_clock::now() - t0);
//   });
//   app.get("/users/:id", [](Request& req, Response& res) -> Task<> {
//     auto id = req.param<int64_t>("id");                     // 400 on a bad conversion
//     auto user = co_await load_user(id);
//     res.status(200).json(user);
//   });
//   app.post("/items", json_body(), [](Request& req, Response& res) { res.status(201).json(req.json()); });
//   app.listen(8080);                                         // one loop per core, graceful on SIGTERM
//
// Requests: the App's middleware (use(), in order) run first for every request, then the matched route's
// layers (routes.hpp: router middleware, route middleware, handler). No route: the chain is the App's
// middleware alone and, when nothing answered, a 404 problem document. A path without the method: 405 with
// Allow; OPTIONS without a route: 204 with Allow; a path with a bad encoding: 400 (router.hpp).
//
// Plain or coroutine (chain.hpp), per layer: a request whose whole chain is plain functions runs as plain
// calls, with its body (if any) collected first, and never allocates a coroutine frame; a request whose
// chain has a coroutine runs as one task, started at the end of the head, that pulls the body itself.
// The choice is made per request, from the route it matches.
//
// Writing middleware (what cors, rate limiting, auth, compression, static files and timeouts are):
//   - A function (Request&, Response&, Next) -> void or Task<>; or a factory returning one (or a Layer)
//     that captures its options: `Layer cors(CorsOptions o) { return make_layer([o](...) {...}); }`.
//   - Before the rest: read req, set headers on res. To end the request there (a 401, a 429, a 304, a
//     preflight), answer on res and return without calling next(); or throw HttpError(status) to let the
//     errors middleware write the problem document (with_header() adds WWW-Authenticate, Retry-After...).
//   - After the rest: `co_await next();` then look at res.status(), res.body_text(), res.content_type()
//     and change them (the body is committed only when the whole chain has returned), or wrap a stream.
//     A plain middleware's code after next() runs after a plain rest; use a coroutine to act after an
//     async one (chain.hpp).
//   - Both forms in one Layer (set layer.sync and layer.async) when a middleware should cost no coroutine
//     on plain routes yet work around async ones (errors() and the body parsers do this).
//   - Cancellation: req.cancel_token() fires when the client goes away; library awaits end then with
//     Error::cancelled.
// Errors: an exception (or HttpError) anywhere in the chain is answered as a problem document by the
// errors middleware (errors.hpp) or, when none caught it, by the App (AppOptions::errors).
//
// The App is configured before it serves: use/get/post/mount after start() are refused (error()).
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "waitless/async/sleep.hpp"
#include "waitless/async/task.hpp"
#include "waitless/async/when_all.hpp"
#include "waitless/base/result.hpp"
#include "waitless/http/server.hpp"
#include "waitless/http/websocket_topics.hpp"
#include "waitless/web/access_log.hpp"
#include "waitless/web/auth.hpp"
#include "waitless/web/body_parser.hpp"
#include "waitless/web/chain.hpp"
#include "waitless/web/compress.hpp"
#include "waitless/web/cors.hpp"
#include "waitless/web/errors.hpp"
#include "waitless/web/health.hpp"
#include "waitless/web/http_error.hpp"
#include "waitless/web/json.hpp"
#include "waitless/web/mount_path.hpp"
#include "waitless/web/multipart_body.hpp"
#include "waitless/web/multipart_reader.hpp"
#include "waitless/web/rate_limit.hpp"
#include "waitless/web/request.hpp"
#include "waitless/web/response.hpp"
#include "waitless/web/routes.hpp"
#include "waitless/web/static_files.hpp"
#include "waitless/web/timeout.hpp"
#include "waitless/web/websocket.hpp"

namespace waitless::web {

struct AppOptions {
  // The HTTP server's options. limits.max_body_size is the body limit of a request whose chain has no
  // body parser (body parsers set their own, body_parser.hpp).
  http::ServerOptions server;
  TrustProxy trust_proxy;
  // How the App answers a failure no errors middleware caught.
  ErrorsOptions errors;
};

namespace detail {
struct AppScope;
}

class App {
 public:
  explicit App(AppOptions options = {});
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // Middleware for every request (in registration order, before any route's layers).
  template <typename F>
  App& use(F&& middleware) {
    static_assert(is_middleware_v<std::decay_t<F>> || std::is_same_v<std::decay_t<F>, Layer>,
                  "use() takes a middleware: (Request&, Response&, Next) -> void or Task<>");
    if (frozen()) return refuse();
    Layer l = make_layer(std::forward<F>(middleware));
    all_sync_ = all_sync_ && static_cast<bool>(l.sync);
    body_limit_ = std::max(body_limit_, l.body_limit);
    layers_.push_back(std::move(l));
    return *this;
  }

  // Middleware for the requests under `prefix` only ("/static": "/static" and "/static/..."; decoded
  // segments, mount_path.hpp), as Express's app.use(path, fn). A bad prefix is refused (error()).
  template <typename F>
  App& use(std::string_view prefix, F&& middleware) {
    static_assert(is_middleware_v<std::decay_t<F>> || std::is_same_v<std::decay_t<F>, Layer>,
                  "use() takes a middleware: (Request&, Response&, Next) -> void or Task<>");
    if (frozen()) return refuse();
    return use_scoped(prefix, make_layer(std::forward<F>(middleware)));
  }

  // Routes: pattern, then middleware..., then the handler (routes.hpp).
  template <typename... Fs>
  App& route(std::string_view method, std::string_view pattern, Fs&&... fns) {
    if (frozen()) return refuse();
    router_.route(method, pattern, std::forward<Fs>(fns)...);
    return *this;
  }
  template <typename... Fs>
  App& get(std::string_view pattern, Fs&&... fns) {
    return route("GET", pattern, std::forward<Fs>(fns)...);
  }
  template <typename... Fs>
  App& post(std::string_view pattern, Fs&&... fns) {
    return route("POST", pattern, std::forward<Fs>(fns)...);
  }
  template <typename... Fs>
  App& put(std::string_view pattern, Fs&&... fns) {
    return route("PUT", pattern, std::forward<Fs>(fns)...);
  }
  template <typename... Fs>
  App& patch(std::string_view pattern, Fs&&... fns) {
    return route("PATCH", pattern, std::forward<Fs>(fns)...);
  }
  template <typename... Fs>
  App& del(std::string_view pattern, Fs&&... fns) {
    return route("DELETE", pattern, std::forward<Fs>(fns)...);
  }
  template <typename... Fs>
  App& options(std::string_view pattern, Fs&&... fns) {
    return route("OPTIONS", pattern, std::forward<Fs>(fns)...);
  }
  template <typename... Fs>
  App& all(std::string_view pattern, Fs&&... fns) {
    if (frozen()) return refuse();
    router_.all(pattern, std::forward<Fs>(fns)...);
    return *this;
  }
  App& mount(std::string_view prefix, const Router& router);

  // A WebSocket route (websocket.hpp): GET `pattern`, the middleware given (auth...), then the upgrade.
  //   app.ws("/chat", chat_config, require_user());
  template <typename... Fs>
  App& ws(std::string_view pattern, std::shared_ptr<const http::WebSocketConfig> config, Fs&&... middleware) {
    return get(pattern, std::forward<Fs>(middleware)..., websocket(std::move(config)));
  }
  // To every subscriber of `topic` on every loop of the process (http/websocket_topics.hpp).
  static std::size_t publish(std::string_view topic, std::string_view message, bool binary = false) {
    return http::publish(topic, message, binary);
  }

  // The first refused registration (a RouteError, or Error::already_closing after start), or none.
  std::error_code error() const noexcept { return error_ ? error_ : router_.error(); }

  // Serves on `port` until a graceful shutdown ends (SIGTERM / SIGINT unless config.handle_signals is
  // off, or shutdown()): one loop per core unless config.threads says otherwise. Returns 0, or 1 after
  // logging why it could not start (a refused route, the port in use...).
  int listen(uint16_t port, http::ListenConfig config = {});
  // Starts serving and returns the bound port at once (port 0: any free port); shutdown() + wait() end it.
  Result<uint16_t> start(uint16_t port, http::ListenConfig config = {});
  // Serves on a loop the caller runs (tests). Returns the port.
  Result<uint16_t> attach(Loop& loop, const net::ListenOptions& options);
  // HTTP connections open now on the loop given to attach() (upgraded ones have left HTTP and are not
  // counted); read on that loop's thread. 0 before attach() and for start()'s loops.
  std::size_t connection_count() const { return server_ ? server_->connection_count() : 0; }
  // Graceful shutdown (http::Server::shutdown); any thread.
  void shutdown(std::chrono::milliseconds deadline = std::chrono::milliseconds(25'000));
  // Blocks until the loops of start() have stopped.
  int wait();
  // Serving and not shutting down: what readyz() answers (health.hpp). False before start and from the
  // moment a graceful shutdown starts (shutdown(), SIGTERM, SIGINT). Any thread.
  bool ready() const noexcept { return server_ && !server_->shutting_down(); }
  // Releases the server once it has stopped (after wait(), or after the loop given to attach() ran out):
  // its watchers leave that loop. The destructor does it too.
  void close() noexcept { server_.reset(); }

 private:
  friend struct detail::AppScope;
  bool frozen() const noexcept { return frozen_; }
  App& refuse() noexcept;
  App& use_scoped(std::string_view prefix, Layer layer);
  Result<void> prepare();
  // The server's three hooks.
  bool choose(http::Request& raw) noexcept;
  void serve_sync(http::Request& raw, http::Response& raw_res);
  Task<> serve_async(http::Request& raw, http::Response& raw_res);
  // Routes `raw` into `scope` (which layers, plain or not).
  void resolve(http::Request& raw, detail::AppScope& scope) const noexcept;
  void finish(Request& req, Response& res, bool route_found);

  AppOptions options_;
  std::vector<Layer> layers_;
  // The prefixes of the scoped coroutine-only middleware: a request under one takes the coroutine path.
  std::vector<std::vector<std::string>> scoped_async_;
  bool all_sync_ = true;
  uint64_t body_limit_ = 0;
  Router router_;
  Layer not_allowed_, auto_options_, bad_path_;
  std::error_code error_;
  bool frozen_ = false;  // served once: routes and middleware are fixed (the server's loops read them)
  std::unique_ptr<http::Server> server_;
};

}  // namespace waitless::web
