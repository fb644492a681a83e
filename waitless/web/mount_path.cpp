#include "waitless/web/mount_path.hpp"

#include <memory>
#include <stdexcept>
#include <utility>

#include "waitless/base/hex.hpp"
#include "waitless/web/request.hpp"

namespace waitless::web {
namespace {

// Whether the raw (encoded) segment decodes to exactly `want`. A bad escape never matches.
bool decoded_equals(std::string_view raw, std::string_view want) noexcept {
  std::size_t w = 0;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '%') {
      if (i + 2 >= raw.size()) return false;
      const int hi = hex_value(raw[i + 1]);
      const int lo = hex_value(raw[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (w >= want.size() || want[w] != c) return false;
    ++w;
  }
  return w == want.size();
}

// Restores the request's mount point when the scoped middleware is done with it.
class MountGuard {
 public:
  MountGuard(Request& req, std::size_t end) noexcept : st_(req.state()), saved_(st_.mount_end) {
    st_.mount_end = static_cast<uint32_t>(end);
  }
  ~MountGuard() { st_.mount_end = saved_; }
  MountGuard(const MountGuard&) = delete;
  MountGuard& operator=(const MountGuard&) = delete;

 private:
  detail::RequestState& st_;
  uint32_t saved_;
};

struct Scoped {
  std::vector<std::string> segments;
  Layer inner;
};

}  // namespace

Result<std::vector<std::string>> split_mount_prefix(std::string_view prefix) {
  std::vector<std::string> out;
  if (prefix.empty() || prefix == "/") return out;
  if (prefix.front() != '/') return make_error_code(Error::invalid_argument);
  prefix.remove_prefix(1);
  if (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);  // "/api/" is "/api"
  while (true) {
    const std::size_t slash = prefix.find('/');
    std::string_view seg = prefix.substr(0, slash);
    if (seg.empty() || seg == "." || seg == ".." || seg.find('%') != std::string_view::npos)
      return make_error_code(Error::invalid_argument);
    out.emplace_back(seg);
    if (slash == std::string_view::npos) break;
    prefix.remove_prefix(slash + 1);
  }
  return out;
}

std::optional<std::size_t> mount_matches(std::string_view raw_path,
                                         const std::vector<std::string>& segments) noexcept {
  if (raw_path.empty() || raw_path.front() != '/') return std::nullopt;
  std::size_t at = 0;  // the '/' before the next segment
  for (const std::string& want : segments) {
    if (at >= raw_path.size() || raw_path[at] != '/') return std::nullopt;
    const std::size_t begin = at + 1;
    std::size_t end = raw_path.find('/', begin);
    if (end == std::string_view::npos) end = raw_path.size();
    if (!decoded_equals(raw_path.substr(begin, end - begin), want)) return std::nullopt;
    at = end;
  }
  return at;
}

Layer scope_layer(std::vector<std::string> segments, Layer inner) {
  auto s = std::make_shared<const Scoped>(Scoped{std::move(segments), std::move(inner)});
  Layer out;
  out.body_limit = s->inner.body_limit;
  out.sync = [s](Request& req, Response& res, Next next) {
    const auto at = mount_matches(req.path(), s->segments);
    if (!at) {
      (void)next();  // not ours: the rest runs (the chain waits for it if it suspends)
      return;
    }
    // App::resolve sends a request that a coroutine-only scoped middleware matches down the async path.
    if (!s->inner.sync) throw std::logic_error("a scoped coroutine middleware reached on the plain path");
    MountGuard guard(req, *at);
    s->inner.sync(req, res, next);
  };
  if (s->inner.async) {
    out.async = [s](Request& req, Response& res, Next next) -> Task<> {
      const auto at = mount_matches(req.path(), s->segments);
      if (!at) {
        co_await next();
        co_return;
      }
      MountGuard guard(req, *at);
      co_await s->inner.async(req, res, next);
    };
  }
  return out;
}

}  // namespace waitless::web
