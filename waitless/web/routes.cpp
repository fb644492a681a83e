#include "waitless/web/routes.hpp"

#include "waitless/base/log.hpp"

namespace waitless::web {

Router& Router::add(std::string_view method, std::string_view pattern, RouteChain chain) {
  auto r = method.empty() ? routes_.all(pattern, std::move(chain))
                          : routes_.add(method, pattern, std::move(chain));
  if (!r) {
    log::error("web: route {} {} refused: {}", method.empty() ? "ALL" : method, pattern, r.error().message());
    if (!error_) error_ = r.error();
  }
  return *this;
}

Router& Router::mount(std::string_view prefix, const Router& sub) {
  if (sub.error_ && !error_) error_ = sub.error_;
  if (prefix_.empty()) {
    auto r = routes_.mount(prefix, sub.routes_);
    if (!r && !error_) error_ = r.error();
    return *this;
  }
  // Our middleware goes in front of each mounted route: mount a copy whose chains start with it.
  Router copy;
  for (const RouteTree::Route& route : sub.routes_.tree().routes()) {
    RouteChain c;
    for (const Layer& l : prefix_) c.add(l);
    for (const Layer& l : sub.routes_.handler_at(route.slot).layers) c.add(l);
    copy.add(route.method, route.pattern, std::move(c));
  }
  auto r = routes_.mount(prefix, copy.routes_);
  if (!r && !error_) error_ = r.error();
  return *this;
}

}  // namespace waitless::web
