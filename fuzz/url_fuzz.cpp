// Request-target split (Request::path() / query(), request.cpp's split_target) on a real server
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
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http_fuzz_harness.hpp"
#include "waitless/http/request.hpp"
#include "waitless/http/response.hpp"

namespace {

using namespace waitless::http;
constexpr const char* kTarget = "url_fuzz";

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
  std::string err = reader.read(h.output(), h.eof(), [&](std::size_t) { return data[0] % 4 == 1; });
  if (!err.empty()) fuzzh::fail(kTarget, "malformed response stream: " + err, fuzzh::escape(h.output()));
  std::size_t finals = 0;
  for (const auto& r : reader.responses) finals += r.status >= 200;
  if (finals < sync_seen.size() || finals > sync_seen.size() + 1) {
    fuzzh::fail(kTarget, "responses do not match the requests handled", fuzzh::escape(h.output()));
  }
  return 0;
}
