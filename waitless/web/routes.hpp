// Router: routes whose handlers are chains (chain.hpp): what an App holds and what App::mount takes.
//
//   Router api;
//   api.use(auth);                                    // runs before every route of this router
//   api.get("/users/:id", get_user);                  // a handler, plain or coroutine
//   api.post("/users", json_body({.limit = 64 * 1024}), create_user);  // route middleware, then the handler
//   app.mount("/api", api);                           // "/api/users/:id", ...
//
// Patterns, precedence, 404 / 405 / automatic OPTIONS and HEAD from GET are router.hpp's. A refused
// registration (bad pattern, duplicate route) changes nothing and is kept as error(): App::listen refuses
// to start while one is there, so a typo in a route cannot go unnoticed.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "waitless/web/chain.hpp"
#include "waitless/web/router.hpp"

namespace waitless::web {

// A route's layers (its router's middleware, its own middleware, its handler) and what the App decides
// from them before the request's body is read.
struct RouteChain {
  std::vector<Layer> layers;
  bool all_sync = true;     // every layer can run as a plain call
  uint64_t body_limit = 0;  // the largest body parser limit among them (0: none reads the body)
  void add(Layer layer) {
    all_sync = all_sync && static_cast<bool>(layer.sync);
    body_limit = std::max(body_limit, layer.body_limit);
    layers.push_back(std::move(layer));
  }
};

class Router {
 public:
  // Middleware for every route registered on this router afterwards (and those mounted from it).
  template <typename F>
  Router& use(F&& middleware) {
    static_assert(is_middleware_v<std::decay_t<F>> || std::is_same_v<std::decay_t<F>, Layer>,
                  "use() takes a middleware: (Request&, Response&, Next) -> void or Task<>");
    prefix_.push_back(make_layer(std::forward<F>(middleware)));
    return *this;
  }

  // route(method, pattern, middleware..., handler): the last callable is the handler.
  template <typename... Fs>
  Router& route(std::string_view method, std::string_view pattern, Fs&&... fns) {
    static_assert(sizeof...(Fs) >= 1, "a route needs a handler");
    return add(method, pattern, chain_of(std::forward<Fs>(fns)...));
  }
  template <typename... Fs>
  Router& get(std::string_view pattern, Fs&&... fns) {
    return route("GET", pattern, std::forward<Fs>(fns)...);
  }
  template <typename... Fs>
  Router& head(std::string_view pattern, Fs&&... fns) {
    return route("HEAD", pattern, std::forward<Fs>(fns)...);
  }
  template <typename... Fs>
  Router& post(std::string_view pattern, Fs&&... fns) {
    return route("POST", pattern, std::forward<Fs>(fns)...);
  }
  template <typename... Fs>
  Router& put(std::string_view pattern, Fs&&... fns) {
    return route("PUT", pattern, std::forward<Fs>(fns)...);
  }
  template <typename... Fs>
  Router& patch(std::string_view pattern, Fs&&... fns) {
    return route("PATCH", pattern, std::forward<Fs>(fns)...);
  }
  template <typename... Fs>
  Router& del(std::string_view pattern, Fs&&... fns) {
    return route("DELETE", pattern, std::forward<Fs>(fns)...);
  }
  template <typename... Fs>
  Router& options(std::string_view pattern, Fs&&... fns) {
    return route("OPTIONS", pattern, std::forward<Fs>(fns)...);
  }
  // Every method.
  template <typename... Fs>
  Router& all(std::string_view pattern, Fs&&... fns) {
    static_assert(sizeof...(Fs) >= 1, "a route needs a handler");
    return add({}, pattern, chain_of(std::forward<Fs>(fns)...));
  }

  // The routes of `sub` as they are now, under `prefix` (a pattern without a wildcard), each behind this
  // router's middleware registered so far.
  Router& mount(std::string_view prefix, const Router& sub);

  // The first refused registration (a RouteError), or none.
  std::error_code error() const noexcept { return error_; }

  Result<RouteStatus> find(std::string_view method, std::string_view path, RouteMatch& out) const {
    return routes_.find(method, path, out);
  }
  const RouteChain& chain(const RouteMatch& m) const { return routes_.handler(m); }
  const RouteTree& tree() const noexcept { return routes_.tree(); }

 private:
  template <typename... Fs>
  RouteChain chain_of(Fs&&... fns) {
    RouteChain c;
    for (const Layer& l : prefix_) c.add(l);
    (c.add(make_layer(std::forward<Fs>(fns))), ...);
    return c;
  }
  Router& add(std::string_view method, std::string_view pattern, RouteChain chain);

  BasicRouter<RouteChain> routes_;
  std::vector<Layer> prefix_;
  std::error_code error_;
};

}  // namespace waitless::web
