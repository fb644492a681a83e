// URLs. Part 1: parse_url (url.hpp, the client's absolute http URLs) on every target line and on the whole
// input, against a model written from url.hpp's contract: accepted exactly when the contract says, and
// then every part a view at its place in the text (scheme "://" authority target ["#" fragment]), the port
// the digits written (80 when none, 443 for https), host without brackets, path + "?" + query == target.
// Part 2: the request-target split (Request::path() / query(), request.cpp's split_target) on a real server
// connection. There is no percent-decoding or query-parameter API yet; when one lands, its checks belong
// here. Each target the parser accepts is seen twice: by a sync handler (views into the receive buffer)
// that leaves the response untouched, then by the async handler (views into the request's own copy).
//
// Invariants, both times and identically:
//   - path and query are views into target() (or path is "/" for an absolute-form target without one);
//   - path is non-empty and holds no '?'; the query is everything after the first '?' of the path part
//     (origin-form: target == path ["?" query]); asterisk-form: path "*", no query;
//   - absolute-form "scheme://authority[/path][?query]": path starts with '/' and the authority (no '/'
//     or '?') is dropped;
//   - the handler's target() is the request-target as sent.
//
// Input: byte 0 selects the method (bits 0-1: GET, HEAD, OPTIONS, DELETE). The rest is split at '\n' into
// up to 16 targets (those holding SP or CR are dropped: they could not be one target), sent pipelined.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http_fuzz_harness.hpp"
#include "waitless/http/request.hpp"
#include "waitless/http/response.hpp"
#include "waitless/http/url.hpp"

namespace {

using namespace waitless::http;
constexpr const char* kTarget = "url_fuzz";

// url.hpp's contract, written independently: nullopt when it says the text is refused.
struct ModelUrl {
  std::string_view scheme, host, authority, path, query, target;
  uint16_t port = 80;
  bool ipv6 = false;
};
std::optional<ModelUrl> model_url(std::string_view text) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); };
  auto reg = [](char c) {
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
           std::string_view("-._~%!$&'()*+,;=").find(c) != std::string_view::npos;
  };
  ModelUrl m;
  std::size_t sep = text.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  m.scheme = text.substr(0, sep);
  const bool https = iequals(m.scheme, "https");
  if (!https && !iequals(m.scheme, "http")) return std::nullopt;
  if (https) m.port = 443;  // the default when no digits are written
  std::string_view rest = text.substr(sep + 3);
  std::size_t end = std::min(rest.find_first_of("/?#"), rest.size());
  m.authority = rest.substr(0, end);
  std::string_view after = rest.substr(end);
  for (char c : after) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) return std::nullopt;
  }
  std::string_view port;
  bool has_port = false;
  if (!m.authority.empty() && m.authority[0] == '[') {
    std::size_t close = m.authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    m.host = m.authority.substr(1, close - 1);
    m.ipv6 = true;
    if (m.host.find(':') == std::string_view::npos) return std::nullopt;
    for (char c : m.host) {
      if (!hex(c) && c != ':' && c != '.') return std::nullopt;
    }
    std::string_view tail = m.authority.substr(close + 1);
    if (!tail.empty() && tail[0] != ':') return std::nullopt;
    has_port = !tail.empty();
    if (has_port) port = tail.substr(1);
  } else {
    std::size_t colon = m.authority.find(':');
    m.host = m.authority.substr(0, colon);
    if (m.host.empty()) return std::nullopt;
    for (char c : m.host) {
      if (!reg(c)) return std::nullopt;
    }
    has_port = colon != std::string_view::npos;
    if (has_port) port = m.authority.substr(colon + 1);
  }
  if (has_port && !port.empty()) {
    uint32_t p = 0;
    if (port.size() > 5) return std::nullopt;
    for (char c : port) {
      if (c < '0' || c > '9') return std::nullopt;
      p = p * 10 + static_cast<uint32_t>(c - '0');
    }
    if (p == 0 || p > 65535) return std::nullopt;
    m.port = static_cast<uint16_t>(p);
  }
  m.target = after.substr(0, after.find('#'));
  std::size_t q = m.target.find('?');
  m.path = m.target.substr(0, q);
  if (q != std::string_view::npos) m.query = m.target.substr(q + 1);
  return m;
}

void check_parse_url(std::string_view text) {
  auto got = parse_url(text);
  auto want = model_url(text);
  if (got.ok() != want.has_value()) {
    fuzzh::fail(kTarget,
                got.ok() ? "parse_url accepted a URL its contract refuses"
                         : "parse_url refused a URL its contract accepts",
                fuzzh::escape(text));
  }
  if (!got.ok()) return;
  const Url& u = *got;
  const ModelUrl& m = *want;
  // Same text, same place: views compared by position, not only by value.
  auto same = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && (a.empty() || a.data() == b.data());
  };
  bool ok = same(u.scheme, m.scheme) && same(u.authority, m.authority) && same(u.target, m.target) &&
            u.host == m.host && u.path == m.path && u.query == m.query && u.port == m.port &&
            u.ipv6 == m.ipv6;
  if (!ok) fuzzh::fail(kTarget, "parse_url parts differ from the contract", fuzzh::escape(text));
}

struct Seen {
  std::string target, path, query;
};

void check_split(const Request& req, Seen& out) {
  std::string_view t = req.target(), p = req.path(), q = req.query();
  std::string detail =
      "target " + fuzzh::escape(t) + " path " + fuzzh::escape(p) + " query " + fuzzh::escape(q);
  auto inside = [&](std::string_view v) {
    return v.empty() || (v.data() >= t.data() && v.data() + v.size() <= t.data() + t.size());
  };
  if (!inside(q)) fuzzh::fail(kTarget, "query is not a view into the target", detail);
  if (!inside(p) && p != "/") fuzzh::fail(kTarget, "path is not a view into the target", detail);
  if (p.empty()) fuzzh::fail(kTarget, "empty path", detail);
  if (p.find('?') != std::string_view::npos) fuzzh::fail(kTarget, "'?' in the path", detail);
  if (t == "*") {
    if (p != "*" || !q.empty()) fuzzh::fail(kTarget, "asterisk-form split", detail);
  } else if (t.front() == '/') {
    std::size_t mark = t.find('?');
    std::string_view want_p = t.substr(0, mark);
    std::string_view want_q = mark == std::string_view::npos ? std::string_view() : t.substr(mark + 1);
    if (p != want_p || q != want_q) fuzzh::fail(kTarget, "origin-form split", detail);
  } else if (std::size_t scheme = t.find("://"); scheme != std::string_view::npos) {
    std::size_t end = t.find_first_of("/?", scheme + 3);
    std::string_view rest = end == std::string_view::npos ? std::string_view() : t.substr(end);
    std::size_t mark = rest.find('?');
    std::string_view want_p = rest.substr(0, mark);
    std::string_view want_q = mark == std::string_view::npos ? std::string_view() : rest.substr(mark + 1);
    if (want_p.empty()) want_p = "/";
    if (p != want_p || q != want_q) fuzzh::fail(kTarget, "absolute-form split", detail);
  }
  out = {std::string(t), std::string(p), std::string(q)};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static constexpr const char* kMethods[] = {"GET", "HEAD", "OPTIONS", "DELETE"};
  const char* method = kMethods[data[0] & 3];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<std::string> targets;
  while (!rest.empty() && targets.size() < 16) {
    std::size_t nl = rest.find('\n');
    std::string_view t = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (!t.empty() && t.find_first_of(" \r") == std::string_view::npos) targets.emplace_back(t);
  }
  check_parse_url(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  for (const std::string& t : targets) check_parse_url(t);
  if (targets.empty()) return 0;
  std::string stream;
  for (const std::string& t : targets)
    stream += std::string(method) + " " + t + " HTTP/1.1\r\nHost: h\r\n\r\n";

  std::vector<Seen> sync_seen, async_seen;
  SyncHandler sync = [&](Request& req, Response&) { check_split(req, sync_seen.emplace_back()); };
  Handler async = [&](Request& req, Response& res) -> waitless::Task<> {
    check_split(req, async_seen.emplace_back());
    (void)res.send(req.path());
    co_return;
  };
  ServerOptions options;
  fuzzh::ServerHarness h(fuzzh::make_config(async, sync, options));
  std::size_t pos = 0;
  for (int i = 0; i < 2000 && !h.eof(); ++i) {
    pos += h.write_some(std::string_view(stream).substr(pos));
    h.step();
    bool got = h.read_some();
    if (pos == stream.size() && !got && async_seen.size() == sync_seen.size() && i > 8) break;
  }
  if (sync_seen.size() != async_seen.size()) {
    fuzzh::fail(kTarget, "sync handler left the response untouched but the async one did not run");
  }
  for (std::size_t i = 0; i < sync_seen.size(); ++i) {
    const Seen &a = sync_seen[i], &b = async_seen[i];
    if (a.target != b.target || a.path != b.path || a.query != b.query) {
      fuzzh::fail(kTarget, "split differs between the receive buffer and the persisted copy",
                  fuzzh::escape(a.target) + " | " + fuzzh::escape(a.path) + " / " + fuzzh::escape(b.path));
    }
    if (i < targets.size() && a.target != targets[i]) {
      fuzzh::fail(kTarget, "target() differs from the request-target sent",
                  fuzzh::escape(targets[i]) + " -> " + fuzzh::escape(a.target));
    }
  }
  if (std::getenv("WAITLESS_FUZZ_VERBOSE")) {
    for (const Seen& s : sync_seen) {
      std::fprintf(stderr, "%s -> path %s query %s\n", fuzzh::escape(s.target).c_str(),
                   fuzzh::escape(s.path).c_str(), fuzzh::escape(s.query).c_str());
    }
    std::fprintf(stderr, "%zu of %zu targets handled\n", sync_seen.size(), targets.size());
  }
  // Every response is well formed, one per request the handler saw (and one error at most).
  fuzzh::ResponseReader reader;
  std::string err = reader.read(h.output(), h.eof(),
                                [&](std::size_t i) { return data[0] % 4 == 1 && i < sync_seen.size(); });
  if (!err.empty()) fuzzh::fail(kTarget, "malformed response stream: " + err, fuzzh::escape(h.output()));
  std::size_t finals = 0;
  for (const auto& r : reader.responses) finals += r.status >= 200;
  if (finals < sync_seen.size() || finals > sync_seen.size() + 1) {
    fuzzh::fail(kTarget, "responses do not match the requests handled", fuzzh::escape(h.output()));
  }
  return 0;
}
