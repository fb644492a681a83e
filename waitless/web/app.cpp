#include "waitless/web/app.hpp"

#include <span>
#include <string>

#include "waitless/base/log.hpp"

namespace waitless::web {

namespace detail {

// One request's framework state, pooled per thread (a loop's requests reuse a few of these: no allocation
// per request once warm). choose() routes into one and leaves it as the thread's hand-off for the handler
// the server calls next for that request.
struct AppScope {
  RequestState rq;
  ResponseState rs;
  std::span<const Layer> inner;  // the route's layers, or a terminal (405, OPTIONS, bad path)
  bool all_sync = true;
  bool route_found = false;
  uint64_t body_limit = 0;
  const App* app = nullptr;  // hand-off key: the App and the request it was routed for
  const http::Request* raw = nullptr;

  void reset() noexcept {
    rq.reset();
    rs.reset();
    inner = {};
    all_sync = true;
    route_found = false;
    body_limit = 0;
    app = nullptr;
    raw = nullptr;
  }
};

namespace {
struct ScopePool {
  static constexpr std::size_t kMaxFree = 256;
  std::vector<std::unique_ptr<AppScope>> free;
  std::unique_ptr<AppScope> handoff;

  static ScopePool& local() noexcept {
    thread_local ScopePool pool;
    return pool;
  }
  std::unique_ptr<AppScope> acquire() {
    if (free.empty()) return std::make_unique<AppScope>();
    auto s = std::move(free.back());
    free.pop_back();
    return s;
  }
  void release(std::unique_ptr<AppScope> s) noexcept {
    if (!s) return;
    s->reset();
    if (free.size() < kMaxFree) {
      try {
        free.push_back(std::move(s));
      } catch (...) {
      }
    }
  }
};

// Gives the scope back to the pool when the request's handler ends (also when its frame is destroyed).
struct ScopeHolder {
  std::unique_ptr<AppScope> scope;
  ~ScopeHolder() { ScopePool::local().release(std::move(scope)); }
};
}  // namespace
}  // namespace detail

App::App(AppOptions options) : options_(std::move(options)) {
  not_allowed_.sync = [this](Request& req, Response&, Next) {
    std::string allow;
    router_.tree().append_allow(req.state().match.allowed(), allow);
    throw HttpError(405, "no " + std::string(req.method()) + " route for this path")
        .with_header("Allow", allow);
  };
  auto_options_.sync = [this](Request& req, Response& res, Next) {
    std::string allow;
    router_.tree().append_allow(req.state().match.allowed(), allow);
    res.set_header("Allow", allow).status(204);
  };
  bad_path_.sync = [](Request& req, Response&, Next) {
    throw HttpError(400, "the path: " + req.state().route_error.message(), req.state().route_error);
  };
}

App::~App() {
  if (server_) server_->shutdown(std::chrono::milliseconds(0));
}

App& App::refuse() noexcept {
  log::error("web: the App cannot change once it serves");
  if (!error_) error_ = Error::already_closing;
  return *this;
}

App& App::use_scoped(std::string_view prefix, Layer layer) {
  auto segments = split_mount_prefix(prefix);
  if (!segments) {
    log::error("web: use(\"{}\"): not a path prefix", prefix);
    if (!error_) error_ = segments.error();
    return *this;
  }
  const bool async_only = !layer.sync;
  if (async_only) scoped_async_.push_back(*segments);
  body_limit_ = std::max(body_limit_, layer.body_limit);
  layers_.push_back(scope_layer(std::move(*segments), std::move(layer)));
  return *this;
}

App& App::mount(std::string_view prefix, const Router& router) {
  if (frozen()) return refuse();
  router_.mount(prefix, router);
  return *this;
}

void App::resolve(http::Request& raw, detail::AppScope& s) const noexcept {
  s.app = this;
  s.raw = &raw;
  bool app_sync = all_sync_;
  for (const auto& segments : scoped_async_) {
    if (!app_sync) break;
    if (mount_matches(raw.path(), segments)) app_sync = false;
  }
  s.all_sync = app_sync;
  s.body_limit = body_limit_;
  Result<RouteStatus> r = RouteStatus::not_found;
  try {
    r = router_.find(raw.method(), raw.path(), s.rq.match);
  } catch (...) {  // the match's buffers could not grow
    r = make_error_code(Error::limit_exceeded);
  }
  if (!r) {
    s.rq.route_error = r.error();
    s.inner = std::span<const Layer>(&bad_path_, 1);
    return;
  }
  switch (*r) {
    case RouteStatus::found: {
      const RouteChain& c = router_.chain(s.rq.match);
      s.inner = c.layers;
      s.all_sync = app_sync && c.all_sync;
      s.body_limit = std::max(body_limit_, c.body_limit);
      s.route_found = true;
      return;
    }
    case RouteStatus::not_found:
      return;
    case RouteStatus::method_not_allowed:
      s.inner = std::span<const Layer>(&not_allowed_, 1);
      return;
    case RouteStatus::options:
      s.inner = std::span<const Layer>(&auto_options_, 1);
      return;
  }
}

bool App::choose(http::Request& raw) noexcept {
  auto& pool = detail::ScopePool::local();
  pool.release(std::move(pool.handoff));  // routed for a request whose handler never came (or came late)
  try {
    pool.handoff = pool.acquire();
  } catch (...) {
    return true;  // the async handler routes again
  }
  resolve(raw, *pool.handoff);
  if (pool.handoff->body_limit != 0) raw.set_body_limit(pool.handoff->body_limit);
  return !pool.handoff->all_sync;
}

void App::finish(Request& req, Response& res, bool route_found) {
  if (!res.answered()) {
    if (route_found) {
      answer_problem(req, res, 404, "the handler answered nothing");
    } else {
      answer_problem(req, res, 404,
                     "no route for " + std::string(req.method()) + " " + std::string(req.path()));
    }
  }
  if (!req.state().id.empty() && !res.headers_sent()) res.set_header("X-Request-Id", req.state().id);
  if (auto ec = res.commit())
    log::debug("web: {} {}: the response was not sent: {}", req.method(), req.path(), ec.message());
}

namespace {
std::unique_ptr<detail::AppScope> scope_for(const App* app, http::Request& raw) {
  auto& pool = detail::ScopePool::local();
  if (pool.handoff && pool.handoff->app == app && pool.handoff->raw == &raw) return std::move(pool.handoff);
  return nullptr;
}
}  // namespace

void App::serve_sync(http::Request& raw, http::Response& raw_res) {
  detail::ScopeHolder holder{scope_for(this, raw)};
  if (!holder.scope) {
    holder.scope = detail::ScopePool::local().acquire();
    resolve(raw, *holder.scope);
  }
  detail::AppScope& s = *holder.scope;
  Request req(raw, s.rq, options_.trust_proxy);
  Response res(raw_res, s.rs);
  {
    detail::Chain chain(layers_, s.inner, req, res, {}, true);
    try {
      NextCall rest = chain.start();
      (void)rest;  // plain calls only: nothing is left running
    } catch (...) {
      if (!answer_error(req, res, std::current_exception(), options_.errors)) throw;
    }
  }
  finish(req, res, s.route_found);
}

Task<> App::serve_async(http::Request& raw, http::Response& raw_res) {
  detail::ScopeHolder holder{scope_for(this, raw)};
  if (!holder.scope) {
    holder.scope = detail::ScopePool::local().acquire();
    resolve(raw, *holder.scope);
  }
  detail::AppScope& s = *holder.scope;
  Request req(raw, s.rq, options_.trust_proxy);
  Response res(raw_res, s.rs);
  std::exception_ptr err;
  {
    detail::Chain chain(layers_, s.inner, req, res, raw.cancel_token(), false);
    try {
      NextCall rest = chain.start();
      co_await rest;
      while (chain.has_deferred()) {
        NextCall more = chain.take_deferred();
        co_await more;
      }
    } catch (...) {
      err = std::current_exception();
    }
  }
  if (err && !answer_error(req, res, err, options_.errors)) std::rethrow_exception(err);
  finish(req, res, s.route_found);
}

Result<void> App::prepare() {
  if (server_) return make_error_code(Error::already_closing);
  if (auto ec = error()) return ec;
  auto server = std::make_unique<http::Server>(options_.server);
  (void)server->on_request_sync([this](http::Request& q, http::Response& s) { serve_sync(q, s); });
  (void)server->on_request([this](http::Request& q, http::Response& s) { return serve_async(q, s); });
  (void)server->choose_handler([this](http::Request& q) { return choose(q); });
  server_ = std::move(server);
  frozen_ = true;
  return {};
}

Result<uint16_t> App::start(uint16_t port, http::ListenConfig config) {
  if (auto r = prepare(); !r) return r.error();
  return server_->listen(port, std::move(config));
}

Result<uint16_t> App::attach(Loop& loop, const net::ListenOptions& options) {
  if (!server_) {
    if (auto r = prepare(); !r) return r.error();
  }
  return server_->attach(loop, options);
}

int App::listen(uint16_t port, http::ListenConfig config) {
  const std::string host = config.host;
  auto bound = start(port, std::move(config));
  if (!bound) {
    log::error("web: cannot listen on {}:{}: {}", host, port, bound.error().message());
    return 1;
  }
  log::info("web: listening on {}:{}", host, *bound);
  return wait();
}

void App::shutdown(std::chrono::milliseconds deadline) {
  if (server_) server_->shutdown(deadline);
}

int App::wait() { return server_ ? server_->wait() : 0; }

}  // namespace waitless::web
