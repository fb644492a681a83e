#include "waitless/web/router.hpp"

#include <array>
#include <unordered_map>

namespace waitless::web {
namespace {

class RouteCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "waitless.route"; }
  std::string message(int code) const override {
    switch (static_cast<RouteError>(code)) {
      case RouteError::ok:
        return "ok";
      case RouteError::invalid_method:
        return "method is not a token";
      case RouteError::invalid_pattern:
        return "invalid route pattern";
      case RouteError::duplicate_route:
        return "route already registered for this method";
      case RouteError::param_name_conflict:
        return "two parameter names at one position";
      case RouteError::too_many_methods:
        return "more than 64 method names";
      case RouteError::missing_param:
        return "no such route parameter";
      case RouteError::bad_param:
        return "route parameter does not convert";
      case RouteError::param_out_of_range:
        return "route parameter out of range";
    }
    return "unknown route error";
  }
};

constexpr uint32_t kNone = UINT32_MAX;
constexpr std::array<std::string_view, 7> kStandard = {"GET",   "HEAD",   "POST",   "PUT",
                                                       "PATCH", "DELETE", "OPTIONS"};
constexpr int kGet = 0, kHead = 1, kOptions = 6;
constexpr std::size_t kMaxMethods = 64;
// Up to this many static children are scanned; past it a hash index finds them.
constexpr std::size_t kLinearChildren = 8;

bool is_tchar(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}
bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}
bool is_param_name(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'))
      return false;
  }
  return true;
}

}  // namespace

const std::error_category& route_category() noexcept {
  static const RouteCategory category;
  return category;
}

// A node is reached by one segment from its parent. Its handlers are the routes whose pattern ends here;
// slots hold route indices (routes_[i].slot is the caller's slot).
struct RouteTree::Node {
  std::string segment;  // static: the decoded segment; parameter or wildcard: its name
  std::vector<std::unique_ptr<Node>> statics;
  std::unordered_map<std::string_view, Node*> static_index;  // keys view the children's `segment`
  std::unique_ptr<Node> param;
  std::unique_ptr<Node> wildcard;  // a leaf: a wildcard is last
  std::array<uint32_t, kStandard.size()> standard;
  std::vector<std::pair<int, uint32_t>> extra;  // (method index, route) for non-standard methods
  uint32_t all = kNone;
  MethodSet methods = 0;  // the bits of every method with a route here (not `all`)

  Node() { standard.fill(kNone); }
  bool has_routes() const noexcept { return methods != 0 || all != kNone; }
  const Node* find_static(std::string_view seg) const noexcept {
    if (!static_index.empty()) {
      auto it = static_index.find(seg);
      return it == static_index.end() ? nullptr : it->second;
    }
    for (const auto& c : statics) {
      if (c->segment == seg) return c.get();
    }
    return nullptr;
  }
  Node* add_static(std::string_view seg) {
    statics.push_back(std::make_unique<Node>());
    Node* n = statics.back().get();
    n->segment = seg;
    if (statics.size() > kLinearChildren) {
      if (static_index.empty()) {
        for (const auto& c : statics) static_index.emplace(c->segment, c.get());
      } else {
        static_index.emplace(n->segment, n);
      }
    }
    return n;
  }
  uint32_t route_for(int method) const noexcept {
    if (method < 0) return kNone;
    if (method < static_cast<int>(kStandard.size())) return standard[static_cast<std::size_t>(method)];
    for (const auto& [m, r] : extra) {
      if (m == method) return r;
    }
    return kNone;
  }
};

// A pattern split into segments, checked and decoded.
struct RouteTree::Parsed {
  enum class Kind { fixed, param, wildcard };
  struct Segment {
    Kind kind;
    std::string text;  // decoded static segment, or the name
  };
  std::vector<Segment> segments;

  static Result<Parsed> parse(std::string_view pattern) {
    Parsed p;
    if (pattern.empty() || pattern[0] != '/' || pattern.find("//") != std::string_view::npos)
      return make_error_code(RouteError::invalid_pattern);
    std::string_view rest = pattern.substr(1);
    if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);  // one trailing slash is ignored
    while (!rest.empty()) {                                          // "/" (and "") has no segments
      std::size_t slash = rest.find('/');
      std::string_view raw = rest.substr(0, slash);
      // An empty segment ("/a//b", "/a//") is refused: a path's empty segment matches only a wildcard.
      if (raw.empty() || slash == rest.size() - 1) return make_error_code(RouteError::invalid_pattern);
      rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
      if (!p.segments.empty() && p.segments.back().kind == Kind::wildcard)
        return make_error_code(RouteError::invalid_pattern);  // a wildcard is last
      Segment s;
      if (raw[0] == ':') {
        s.kind = Kind::param;
        s.text = raw.substr(1);
        if (!is_param_name(s.text)) return make_error_code(RouteError::invalid_pattern);
      } else if (raw[0] == '*') {
        s.kind = Kind::wildcard;
        s.text = raw.size() == 1 ? std::string("*") : std::string(raw.substr(1));
        if (raw.size() > 1 && !is_param_name(s.text)) return make_error_code(RouteError::invalid_pattern);
      } else {
        s.kind = Kind::fixed;
        if (percent_decode_segment(raw, s.text) != PathError::ok || s.text == "." || s.text == "..")
          return make_error_code(RouteError::invalid_pattern);
      }
      for (const Segment& o : p.segments) {  // one name once per pattern
        if (s.kind != Kind::fixed && o.kind != Kind::fixed && o.text == s.text)
          return make_error_code(RouteError::invalid_pattern);
      }
      p.segments.push_back(std::move(s));
    }
    return p;
  }
};

RouteTree::RouteTree() : root_(std::make_unique<Node>()) {}
RouteTree::~RouteTree() = default;
RouteTree::RouteTree(RouteTree&&) noexcept = default;
RouteTree& RouteTree::operator=(RouteTree&&) noexcept = default;

int RouteTree::method_index(std::string_view method) const noexcept {
  for (std::size_t i = 0; i < kStandard.size(); ++i) {
    if (kStandard[i] == method) return static_cast<int>(i);
  }
  for (std::size_t i = 0; i < extra_methods_.size(); ++i) {
    if (extra_methods_[i] == method) return static_cast<int>(kStandard.size() + i);
  }
  return -1;
}

Result<void> RouteTree::add(std::string_view method, std::string_view pattern, uint32_t slot) {
  if (!is_token(method)) return make_error_code(RouteError::invalid_method);
  return add_route(method, false, pattern, slot);
}

Result<void> RouteTree::add_all(std::string_view pattern, uint32_t slot) {
  return add_route({}, true, pattern, slot);
}

Result<void> RouteTree::add_route(std::string_view method, bool all, std::string_view pattern,
                                  uint32_t slot) {
  auto parsed = Parsed::parse(pattern);
  if (!parsed) return parsed.error();
  int index = all ? -1 : method_index(method);
  if (!all && index < 0 && kStandard.size() + extra_methods_.size() >= kMaxMethods)
    return make_error_code(RouteError::too_many_methods);

  // First pass: find conflicts without changing anything.
  const Node* n = root_.get();
  for (const auto& s : parsed->segments) {
    const Node* next = nullptr;
    if (s.kind == Parsed::Kind::fixed) {
      next = n->find_static(s.text);
    } else {
      const auto& child = s.kind == Parsed::Kind::param ? n->param : n->wildcard;
      if (child && child->segment != s.text) return make_error_code(RouteError::param_name_conflict);
      next = child.get();
    }
    if (next == nullptr) break;
    n = next;
    if (&s == &parsed->segments.back()) {
      bool taken = all ? n->all != kNone : n->route_for(index) != kNone;
      if (taken) return make_error_code(RouteError::duplicate_route);
    }
  }
  if (parsed->segments.empty()) {
    bool taken = all ? n->all != kNone : n->route_for(index) != kNone;
    if (taken) return make_error_code(RouteError::duplicate_route);
  }

  // Second pass: insert.
  if (!all && index < 0) {
    extra_methods_.emplace_back(method);
    index = static_cast<int>(kStandard.size() + extra_methods_.size() - 1);
  }
  Node* at = root_.get();
  for (const auto& s : parsed->segments) {
    if (s.kind == Parsed::Kind::fixed) {
      Node* next = const_cast<Node*>(at->find_static(s.text));
      at = next != nullptr ? next : at->add_static(s.text);
    } else {
      auto& child = s.kind == Parsed::Kind::param ? at->param : at->wildcard;
      if (!child) {
        child = std::make_unique<Node>();
        child->segment = s.text;
      }
      at = child.get();
    }
  }
  auto route = static_cast<uint32_t>(routes_.size());
  routes_.push_back(Route{all ? std::string() : std::string(method), std::string(pattern), slot});
  if (all) {
    at->all = route;
  } else if (index < static_cast<int>(kStandard.size())) {
    at->standard[static_cast<std::size_t>(index)] = route;
  } else {
    at->extra.emplace_back(index, route);
  }
  if (!all) at->methods |= MethodSet{1} << index;
  return {};
}

Result<void> RouteTree::mount(std::string_view prefix, const RouteTree& sub, uint32_t slot_offset) {
  std::string_view base = prefix;
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);  // "/api/" and "/" mount like "/api", ""
  if (!base.empty() && base[0] != '/') return make_error_code(RouteError::invalid_pattern);
  if (base.find('*') != std::string_view::npos) {
    auto parsed = Parsed::parse(base);  // a literal '*' inside a static segment is fine, a wildcard is not
    if (!parsed) return parsed.error();
    for (const auto& s : parsed->segments) {
      if (s.kind == Parsed::Kind::wildcard) return make_error_code(RouteError::invalid_pattern);
    }
  }
  std::string pattern;
  for (const Route& r : sub.routes_) {
    pattern.assign(base);
    pattern += r.pattern == "/" ? std::string_view{} : std::string_view(r.pattern);
    if (pattern.empty()) pattern = "/";
    auto added = r.method.empty() ? add_all(pattern, r.slot + slot_offset)
                                  : add(r.method, pattern, r.slot + slot_offset);
    if (!added) return added;
  }
  return {};
}

// The depth-first search of one lookup (precedence and backtracking: router.hpp).
struct RouteTree::Search {
  const RouteTree& tree;
  int method;
  std::span<const std::string_view> segments;
  RouteMatch& out;
  MethodSet allowed = 0;
  bool path_matched = false;

  // Whether `n`, where the path ends, has a route for the method (and takes it).
  bool take(const Node& n) {
    if (!n.has_routes()) return false;
    path_matched = true;
    uint32_t r = n.route_for(method);
    if (r == kNone && method == kHead) {
      r = n.standard[kGet];
      out.head_from_get_ = r != kNone;
    }
    if (r == kNone) r = n.all;
    if (r == kNone) {
      allowed |= n.methods;
      return false;
    }
    out.route_ = r;
    out.slot_ = tree.routes_[r].slot;
    out.status_ = RouteStatus::found;
    return true;
  }

  bool wildcard(const Node& n, std::size_t i) {
    const Node& w = *n.wildcard;
    out.params_.push_back({w.segment, out.path_.joined_from(i)});
    out.wildcard_ = i;
    if (take(w)) return true;
    out.params_.pop_back();
    out.wildcard_ = RouteMatch::npos;
    return false;
  }

  bool visit(const Node& n, std::size_t i) {
    if (i == segments.size()) {
      if (take(n)) return true;
      return n.wildcard && wildcard(n, i);
    }
    std::string_view seg = segments[i];
    if (const Node* s = n.find_static(seg); s != nullptr && visit(*s, i + 1)) return true;
    if (n.param && !seg.empty()) {
      out.params_.push_back({n.param->segment, seg});
      if (visit(*n.param, i + 1)) return true;
      out.params_.pop_back();
    }
    return n.wildcard && wildcard(n, i);
  }
};

Result<RouteStatus> RouteTree::find(std::string_view method, std::string_view path, RouteMatch& out) const {
  out.reset();
  if (auto decoded = decode_path(path, out.path_); !decoded) return decoded.error();
  Search s{*this, method_index(method), out.path_.segments(), out};
  if (s.visit(*root_, 0)) return RouteStatus::found;
  out.head_from_get_ = false;
  if (!s.path_matched) return RouteStatus::not_found;
  MethodSet allowed = s.allowed | (MethodSet{1} << kOptions);
  if (allowed & (MethodSet{1} << kGet)) allowed |= MethodSet{1} << kHead;
  out.allowed_ = allowed;
  out.status_ = s.method == kOptions ? RouteStatus::options : RouteStatus::method_not_allowed;
  return out.status_;
}

void RouteTree::append_allow(MethodSet set, std::string& out) const {
  bool first = true;
  auto put = [&](std::string_view name) {
    if (!first) out += ", ";
    out += name;
    first = false;
  };
  for (std::size_t i = 0; i < kStandard.size(); ++i) {
    if (set & (MethodSet{1} << i)) put(kStandard[i]);
  }
  for (std::size_t i = 0; i < extra_methods_.size(); ++i) {
    if (set & (MethodSet{1} << (kStandard.size() + i))) put(extra_methods_[i]);
  }
}

}  // namespace waitless::web
