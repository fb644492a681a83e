// RouteTree: which route answers a method and a path. A radix tree whose edges are decoded path segments
// (path.hpp's policy: decoded once, %2F stays inside its segment, bad encodings refused, one trailing
// slash ignored), with per-method handler slots at its nodes.
//
//   RouteTree t;
//   t.add("GET", "/users/:id", 0);           // errors by value: duplicate route, param name conflict...
//   t.add("GET", "/static/*path", 1);
//   RouteMatch m;                            // reused across requests: no allocation once warmed up
//   auto s = t.find("GET", "/users/42", m);  // s.error(): a PathError (400); *s: found, not_found (404),
//   m.slot() == 0; m.param<int64_t>("id")    //   method_not_allowed (405 + Allow), options (automatic)
//
// Patterns: '/'-separated segments, each one of
//   - static: matched byte for byte after percent-decoding both sides ("%3Aid" is a literal ":id");
//   - ":name": a parameter, one whole non-empty segment (name: letters, digits, '_');
//   - "*name" or "*": a wildcard, last in the pattern, the rest of the path: zero or more segments, its
//     value those segments joined with '/' (RouteMatch::wildcard_segment() gives the segment boundaries,
//     since a '/' in the value may also come from a %2F).
// A pattern's trailing slash is ignored like a path's; an empty segment inside a pattern is refused.
//
// Precedence: among the routes whose pattern matches the path, segment by segment from the left, a static
// segment beats a parameter, which beats a wildcard; the first such route that accepts the method wins.
// The search is depth-first in that order and backtracks: "/users/new/profile" with routes
// "/users/new/edit" and "/users/:id/profile" tries "new" first, finds no "profile" below it, then takes
// ":id". A route accepts a method when it has that method, or `all`; HEAD also takes GET's route (after
// HEAD, before `all`); OPTIONS with no OPTIONS or `all` route is answered automatically (status options).
// When routes match the path but none accepts the method, allowed() is the union of their methods, plus
// HEAD when GET is there and OPTIONS always (the Allow header of a 405 or of an automatic OPTIONS).
// Each node is visited at most once per lookup, and a static child is found through a hash index once a
// node has more than a few, so the cost follows the path's length, not the number of routes.
// Method names are case-sensitive tokens (RFC 9110 9.1); up to 64 distinct ones per tree.
#pragma once
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include "waitless/base/result.hpp"
#include "waitless/web/path.hpp"

namespace waitless::web {

enum class RouteError {
  ok = 0,
  invalid_method = 1,       // registration: the method is not a token
  invalid_pattern = 2,      // registration: no leading '/', empty segment, bad name or encoding, '*' not last
  duplicate_route = 3,      // registration: this pattern (up to parameter names) and method already exist
  param_name_conflict = 4,  // registration: two parameter (or wildcard) names at one position
  too_many_methods = 5,     // registration: more than 64 distinct method names
  missing_param = 6,        // access: no parameter with that name in the match
  bad_param = 7,            // access: the value does not convert to the asked type (the App answers 400)
  param_out_of_range = 8,   // access: a number outside the asked type's range (400 too)
};

const std::error_category& route_category() noexcept;
inline std::error_code make_error_code(RouteError e) noexcept {
  return {static_cast<int>(e), route_category()};
}

// One bit per method name of a tree (RouteTree::append_allow spells them).
using MethodSet = uint64_t;

enum class RouteStatus { found, not_found, method_not_allowed, options };

struct RouteParam {
  std::string_view name;   // the pattern's name (view into the tree)
  std::string_view value;  // the decoded value (view into the RouteMatch)
};

// Converts a parameter's text: integers and floating point (whole text, no sign '+', no spaces; floating
// values must be finite), bool ("true", "false", "1", "0"), std::string_view and std::string as they are.
template <typename T>
Result<T> parse_param(std::string_view text) {
  if constexpr (std::is_same_v<T, std::string_view> || std::is_same_v<T, std::string>) {
    return T(text);
  } else if constexpr (std::is_same_v<T, bool>) {
    if (text == "true" || text == "1") return true;
    if (text == "false" || text == "0") return false;
    return make_error_code(RouteError::bad_param);
  } else {
    static_assert(std::is_arithmetic_v<T>, "parse_param: integers, floating point, bool or strings");
    T value{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc::result_out_of_range) return make_error_code(RouteError::param_out_of_range);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty())
      return make_error_code(RouteError::bad_param);
    if constexpr (std::is_floating_point_v<T>) {
      if (!std::isfinite(value)) return make_error_code(RouteError::bad_param);
    }
    return value;
  }
}

// What a lookup found. The caller keeps one per connection (or request) and reuses it: its buffers grow
// to the longest path seen and are then kept, so find() does not allocate.
class RouteMatch {
 public:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  RouteStatus status() const noexcept { return status_; }
  // found: the slot registered with the route, and the route's index in RouteTree::routes().
  uint32_t slot() const noexcept { return slot_; }
  uint32_t route_index() const noexcept { return route_; }
  // found for HEAD through the route's GET handler.
  bool head_from_get() const noexcept { return head_from_get_; }
  // method_not_allowed and options: the Allow set (RouteTree::append_allow spells it).
  MethodSet allowed() const noexcept { return allowed_; }
  // Parameters in pattern order (a wildcard last).
  std::span<const RouteParam> params() const noexcept { return params_; }
  std::optional<std::string_view> find_param(std::string_view name) const noexcept {
    for (const RouteParam& p : params_) {
      if (p.name == name) return p.value;
    }
    return std::nullopt;
  }
  template <typename T>
  Result<T> param(std::string_view name) const {
    auto v = find_param(name);
    if (!v) return make_error_code(RouteError::missing_param);
    return parse_param<T>(*v);
  }
  // The decoded path, and the index of the first segment the wildcard covered (npos without one).
  const DecodedPath& path() const noexcept { return path_; }
  std::size_t wildcard_segment() const noexcept { return wildcard_; }

 private:
  friend class RouteTree;
  void reset() noexcept {
    status_ = RouteStatus::not_found;
    slot_ = route_ = UINT32_MAX;
    head_from_get_ = false;
    allowed_ = 0;
    params_.clear();
    wildcard_ = npos;
  }
  RouteStatus status_ = RouteStatus::not_found;
  uint32_t slot_ = UINT32_MAX;
  uint32_t route_ = UINT32_MAX;
  bool head_from_get_ = false;
  MethodSet allowed_ = 0;
  std::size_t wildcard_ = npos;
  DecodedPath path_;
  std::vector<RouteParam> params_;
};

class RouteTree {
 public:
  struct Route {
    std::string method;  // empty for `all`
    std::string pattern;
    uint32_t slot;
  };

  RouteTree();
  ~RouteTree();
  RouteTree(RouteTree&&) noexcept;
  RouteTree& operator=(RouteTree&&) noexcept;

  // Registers `slot` for method + pattern (add_all: every method). Errors are RouteErrors; a refused
  // registration changes nothing.
  Result<void> add(std::string_view method, std::string_view pattern, uint32_t slot);
  Result<void> add_all(std::string_view pattern, uint32_t slot);
  // Registers every route of `sub` (as it is now: later changes to `sub` are not seen) under `prefix`, a
  // pattern without a wildcard ("/api", "/users/:uid"), with slot + slot_offset. Stops at the first
  // refused route (those before it stay registered) and returns its error.
  Result<void> mount(std::string_view prefix, const RouteTree& sub, uint32_t slot_offset = 0);

  // Looks `path` (no query) up for `method`. Fills `out` (views into `out` and this tree, valid until the
  // next find with `out` or a change to the tree). A PathError when the path's encoding is refused.
  Result<RouteStatus> find(std::string_view method, std::string_view path, RouteMatch& out) const;

  // Appends the Allow header value for `set` ("GET, HEAD, OPTIONS"): standard methods in a fixed order,
  // then others in registration order.
  void append_allow(MethodSet set, std::string& out) const;

  std::span<const Route> routes() const noexcept { return routes_; }

 private:
  struct Node;
  struct Search;
  struct Parsed;
  int method_index(std::string_view method) const noexcept;
  Result<void> add_route(std::string_view method, bool all, std::string_view pattern, uint32_t slot);
  std::unique_ptr<Node> root_;
  std::vector<std::string> extra_methods_;  // method names past the standard seven, bit 7 + i
  std::vector<Route> routes_;
};

// A RouteTree that stores the handlers too: what an App or a sub-router holds. Handler must be copyable
// for mount().
template <typename Handler>
class BasicRouter {
 public:
  Result<void> add(std::string_view method, std::string_view pattern, Handler h) {
    auto r = tree_.add(method, pattern, static_cast<uint32_t>(handlers_.size()));
    if (r) handlers_.push_back(std::move(h));
    return r;
  }
  Result<void> all(std::string_view pattern, Handler h) {
    auto r = tree_.add_all(pattern, static_cast<uint32_t>(handlers_.size()));
    if (r) handlers_.push_back(std::move(h));
    return r;
  }
  Result<void> get(std::string_view pattern, Handler h) { return add("GET", pattern, std::move(h)); }
  Result<void> head(std::string_view pattern, Handler h) { return add("HEAD", pattern, std::move(h)); }
  Result<void> post(std::string_view pattern, Handler h) { return add("POST", pattern, std::move(h)); }
  Result<void> put(std::string_view pattern, Handler h) { return add("PUT", pattern, std::move(h)); }
  Result<void> patch(std::string_view pattern, Handler h) { return add("PATCH", pattern, std::move(h)); }
  Result<void> del(std::string_view pattern, Handler h) { return add("DELETE", pattern, std::move(h)); }
  Result<void> options(std::string_view pattern, Handler h) { return add("OPTIONS", pattern, std::move(h)); }
  Result<void> mount(std::string_view prefix, const BasicRouter& sub) {
    auto offset = static_cast<uint32_t>(handlers_.size());
    handlers_.insert(handlers_.end(), sub.handlers_.begin(), sub.handlers_.end());
    return tree_.mount(prefix, sub.tree_, offset);
  }
  Result<RouteStatus> find(std::string_view method, std::string_view path, RouteMatch& out) const {
    return tree_.find(method, path, out);
  }
  // The matched route's handler (status() == found).
  const Handler& handler(const RouteMatch& m) const { return handlers_.at(m.slot()); }
  const Handler& handler_at(uint32_t slot) const { return handlers_.at(slot); }
  const RouteTree& tree() const noexcept { return tree_; }

 private:
  RouteTree tree_;
  std::vector<Handler> handlers_;
};

}  // namespace waitless::web

template <>
struct std::is_error_code_enum<waitless::web::RouteError> : std::true_type {};
