#include "waitless/proxy/response_cache.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "waitless/async/timeout.hpp"
#include "waitless/http/header.hpp"
#include "waitless/proxy/forward.hpp"

namespace waitless::proxy {

namespace {

constexpr int64_t kNsPerSecond = 1'000'000'000;

// A delta-seconds value (RFC 9111 1.2.2): digits, saturated; -1 when malformed.
int64_t delta_seconds(std::string_view v) noexcept {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  if (v.empty()) return -1;
  int64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return -1;
    n = std::min<int64_t>(n * 10 + (c - '0'), int64_t(1) << 31);
  }
  return n;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Calls f(name) for each element of a comma-separated list field value.
template <typename F>
void for_each_element(std::string_view list, F&& f) {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    const std::string_view item = http::trim_ows(list.substr(0, comma));
    if (!item.empty()) f(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

bool heuristically_cacheable(int status) noexcept {
  switch (status) {
    case 200:
    case 203:
    case 204:
    case 300:
    case 301:
    case 308:
    case 404:
    case 405:
    case 410:
    case 414:
    case 501:
      return true;
    default:
      return false;
  }
}

// The entry format: "R <status> <stored ns> <initial age s>\n", the fields "name: value\n", "\n", the body.
// The Vary marker: "V\n" then the lower-case names, one per line.
std::string entry_head(int status, int64_t stored_ns, int64_t age, const http::HeaderMap& headers) {
  std::string out =
      "R " + std::to_string(status) + " " + std::to_string(stored_ns) + " " + std::to_string(age) + "\n";
  const std::string_view connection = headers.get("connection");
  for (http::Header h : headers) {
    // Age is recomputed on a hit; the framing and hop-by-hop fields are the proxy's to write.
    if (http::iequals(h.name, "age") || http::iequals(h.name, "content-length") ||
        is_hop_by_hop(h.name, connection))
      continue;
    out.append(h.name);
    out += ": ";
    out.append(h.value);
    out += '\n';
  }
  out += '\n';
  return out;
}

struct Entry {
  int status = 0;
  int64_t stored_ns = 0, age = 0;
  http::HeaderMap headers;
  std::string_view body;
};

bool parse_entry(std::string_view v, Entry& e) {
  if (!v.starts_with("R ")) return false;
  std::size_t eol = v.find('\n');
  if (eol == std::string_view::npos) return false;
  const std::string_view first = v.substr(2, eol - 2);
  const char* p = first.data();
  const char* end = p + first.size();
  auto r1 = std::from_chars(p, end, e.status);
  if (r1.ec != std::errc{} || r1.ptr == end) return false;
  auto r2 = std::from_chars(r1.ptr + 1, end, e.stored_ns);
  if (r2.ec != std::errc{} || r2.ptr == end) return false;
  if (std::from_chars(r2.ptr + 1, end, e.age).ec != std::errc{}) return false;
  v.remove_prefix(eol + 1);
  for (;;) {
    eol = v.find('\n');
    if (eol == std::string_view::npos) return false;
    const std::string_view line = v.substr(0, eol);
    v.remove_prefix(eol + 1);
    if (line.empty()) break;
    const std::size_t colon = line.find(": ");
    if (colon == std::string_view::npos) return false;
    e.headers.add(line.substr(0, colon), line.substr(colon + 2));
  }
  e.body = v;
  return true;
}

// The secondary key of a request for a Vary marker's names.
std::string vary_suffix(const http::Request& req, std::string_view names) {
  std::string out;
  while (!names.empty()) {
    const std::size_t nl = names.find('\n');
    const std::string_view name = names.substr(0, nl);
    out += '\n';
    out.append(name);
    out += '=';
    out.append(req.header(name));
    if (nl == std::string_view::npos) break;
    names.remove_prefix(nl + 1);
  }
  return out;
}

}  // namespace

CacheControl parse_cache_control(std::string_view value) noexcept {
  CacheControl cc;
  for_each_element(value, [&](std::string_view item) {
    const std::size_t eq = item.find('=');
    const std::string_view name = http::trim_ows(item.substr(0, eq));
    const std::string_view arg =
        eq == std::string_view::npos ? std::string_view{} : http::trim_ows(item.substr(eq + 1));
    if (http::iequals(name, "no-store")) {
      cc.no_store = true;
    } else if (http::iequals(name, "no-cache")) {
      cc.no_cache = true;
    } else if (http::iequals(name, "private")) {
      cc.is_private = true;
    } else if (http::iequals(name, "public")) {
      cc.is_public = true;
    } else if (http::iequals(name, "must-revalidate") || http::iequals(name, "proxy-revalidate")) {
      cc.must_revalidate = true;
    } else if (http::iequals(name, "max-age")) {
      const int64_t n = delta_seconds(arg);
      cc.max_age = n < 0 ? 0 : n;  // a malformed max-age means stale (RFC 9111 4.2.1)
    } else if (http::iequals(name, "s-maxage")) {
      const int64_t n = delta_seconds(arg);
      cc.s_maxage = n < 0 ? 0 : n;
    }
  });
  return cc;
}

std::vector<std::shared_ptr<CacheCounters>> make_cache_counters(
    const ProxyConfig& config, const ProxyConfig* previous_config,
    const std::vector<std::shared_ptr<CacheCounters>>* previous) {
  std::vector<std::shared_ptr<CacheCounters>> out(config.routes.size());
  for (std::size_t i = 0; i < config.routes.size(); ++i) {
    const RouteSpec& r = config.routes[i];
    if (!r.cache.enabled) continue;
    if (previous_config && previous) {
      for (std::size_t k = 0; k < previous_config->routes.size() && k < previous->size(); ++k) {
        const RouteSpec& p = previous_config->routes[k];
        if ((*previous)[k] && p.host == r.host && p.prefix == r.prefix && p.cache == r.cache)
          out[i] = (*previous)[k];
      }
    }
    if (!out[i]) out[i] = std::make_shared<CacheCounters>(r.cache);
  }
  return out;
}

// ---- CacheRecorder ----------------------------------------------------------------------------------------

void CacheRecorder::add(std::string_view piece) {
  if (!cache_) return;
  if (entry_.size() + piece.size() > limit_) {  // too large: stop recording, release what was kept
    cache_.reset();
    std::string().swap(entry_);
    return;
  }
  entry_.append(piece);
}

void CacheRecorder::commit() {
  if (!cache_) return;
  if (!vary_names_.empty()) cache_->put(base_key_, "V\n" + vary_names_, ttl_);
  cache_->put(std::move(key_), std::move(entry_), ttl_);
  cache_->counters()->stores.fetch_add(1, std::memory_order_relaxed);
  cache_.reset();
}

// ---- ResponseCache ----------------------------------------------------------------------------------------

ResponseCache::ResponseCache(Loop& loop, std::shared_ptr<CacheCounters> counters)
    : loop_(loop),
      counters_(std::move(counters)),
      cache_(loop, data::CacheOptions{.max_bytes = std::size_t(counters_->spec.max_bytes)}) {}

void ResponseCache::sync_bytes() noexcept {
  const int64_t now = int64_t(cache_.bytes());
  counters_->bytes.fetch_add(now - bytes_seen_, std::memory_order_relaxed);
  bytes_seen_ = now;
}

void ResponseCache::drop() noexcept {
  cache_.clear();
  sync_bytes();
}

void ResponseCache::put(std::string key, std::string value, Duration ttl) {
  cache_.put(std::move(key), std::move(value), ttl);
  sync_bytes();
}

CachePlan ResponseCache::plan(const http::Request& req) {
  CachePlan p;
  p.enabled = true;
  p.key = lower(req.header("host"));
  p.key += ' ';
  p.key.append(req.target());
  const http::Method m = req.method_id();
  if (m != http::Method::get && m != http::Method::head) {
    cache_.erase(p.key);  // an unsafe method invalidates what is stored for the target
    sync_bytes();
    return p;
  }
  if (req.has_header("range") || req.is_upgrade()) return p;  // partial, or a protocol switch
  const std::string_view cc_field = req.header("cache-control");
  const CacheControl cc = parse_cache_control(cc_field);
  bool no_cache = cc.no_cache;
  if (cc_field.empty()) {
    for_each_element(req.header("pragma"),
                     [&](std::string_view e) { no_cache = no_cache || http::iequals(e, "no-cache"); });
  }
  if (cc.no_store) return p;
  p.lookup = !no_cache;
  p.store = m == http::Method::get;
  return p;
}

bool ResponseCache::answer(const http::Request& req, const CachePlan& plan, std::string_view via,
                           http::Response& res) {
  std::optional<std::string> value = cache_.get(plan.key);
  if (value && value->starts_with("V\n")) {
    value = cache_.get(plan.key + vary_suffix(req, std::string_view(*value).substr(2)));
  }
  sync_bytes();  // a lookup may drop expired entries
  Entry e;
  if (!value || !parse_entry(*value, e)) return false;
  counters_->hits.fetch_add(1, std::memory_order_relaxed);
  const int64_t age = e.age + std::max<int64_t>(0, loop_.now() - e.stored_ns) / kNsPerSecond;
  (void)res.set_status(e.status);
  (void)forward_response_headers(e.headers, via, res);
  (void)res.set_header("Age", std::to_string(age));
  (void)res.set_header("X-Cache", "HIT");
  (void)res.send(e.body);
  return true;
}

Task<bool> ResponseCache::serve(const http::Request& req, CachePlan& plan, std::string_view via,
                                http::Response& res) {
  if (!plan.lookup) co_return false;
  if (answer(req, plan, via, res)) co_return true;
  if (auto it = flights_.find(plan.key); it != flights_.end()) {
    // Another request of this loop is fetching the key: wait for its end (bounded), then look again.
    counters_->coalesced.fetch_add(1, std::memory_order_relaxed);
    std::shared_ptr<Event> done = it->second;
    (void)co_await with_timeout([](std::shared_ptr<Event> e) -> Task<> { (void)co_await e->wait(); }(done),
                                kFlightWait);
    if (answer(req, plan, via, res)) co_return true;
  } else if (plan.store) {
    plan.flight = std::make_unique<CacheFlight>(shared_from_this(), plan.key);
  }
  counters_->misses.fetch_add(1, std::memory_order_relaxed);
  co_return false;
}

// ---- CacheFlight ------------------------------------------------------------------------------------------

CacheFlight::CacheFlight(std::shared_ptr<ResponseCache> cache, std::string key)
    : cache_(std::move(cache)), key_(std::move(key)) {
  cache_->flights_.emplace(key_, std::make_shared<Event>());
}

CacheFlight::~CacheFlight() {
  auto it = cache_->flights_.find(key_);
  if (it == cache_->flights_.end()) return;
  std::shared_ptr<Event> done = std::move(it->second);
  cache_->flights_.erase(it);
  done->set();
}

CacheRecorder ResponseCache::record(const http::Request& req, const CachePlan& plan, int status,
                                    const http::HeaderMap& headers, http::Response& res) {
  (void)res.set_header("X-Cache", "MISS");
  CacheRecorder r;
  if (!plan.store) return r;
  const CacheControl cc = parse_cache_control(headers.get("cache-control"));
  if (cc.no_store || cc.no_cache || cc.is_private) return r;
  if (headers.contains("set-cookie")) return r;
  if (req.has_header("authorization") && !cc.is_public && cc.s_maxage < 0 && !cc.must_revalidate) return r;
  int64_t lifetime_s = cc.s_maxage >= 0 ? cc.s_maxage : cc.max_age;
  const bool explicit_freshness = lifetime_s >= 0;
  if (!explicit_freshness) {
    if (headers.contains("expires")) return r;  // an explicit expiry this cache does not read
    if (!heuristically_cacheable(status)) return r;
    lifetime_s = -1;
  } else if (!heuristically_cacheable(status) && status != 302 && status != 307) {
    return r;
  }
  const int64_t initial_age = std::max<int64_t>(0, delta_seconds(headers.get("age")));
  int64_t ttl_ns =
      explicit_freshness
          ? (lifetime_s - initial_age) * kNsPerSecond
          : std::chrono::duration_cast<std::chrono::nanoseconds>(counters_->spec.default_ttl).count();
  if (ttl_ns <= 0) return r;
  // Vary: the named request fields join the key; "*" is never stored.
  std::string names;
  bool any = false;
  for (http::Header h : headers) {
    if (!http::iequals(h.name, "vary")) continue;
    for_each_element(h.value, [&](std::string_view n) {
      if (n == "*") any = true;
      if (!names.empty()) names += '\n';
      names += lower(n);
    });
  }
  if (any) return r;
  const std::string_view length = headers.get("content-length");
  uint64_t declared = 0;
  if (!length.empty() &&
      std::from_chars(length.data(), length.data() + length.size(), declared).ec == std::errc{} &&
      declared > counters_->spec.max_entry_bytes) {
    return r;  // streamed, never buffered
  }
  r.entry_ = entry_head(status, loop_.now(), initial_age, headers);
  r.limit_ = r.entry_.size() + counters_->spec.max_entry_bytes;
  r.base_key_ = plan.key;
  r.key_ = names.empty() ? plan.key : plan.key + vary_suffix(req, names);
  r.vary_names_ = std::move(names);
  r.ttl_ = Duration(ttl_ns);
  r.cache_ = shared_from_this();
  return r;
}

// ---- ResponseCaches ---------------------------------------------------------------------------------------

void ResponseCaches::refresh(Loop& loop, const std::vector<std::shared_ptr<CacheCounters>>& counters) {
  std::vector<std::shared_ptr<ResponseCache>> next(counters.size());
  for (std::size_t i = 0; i < counters.size(); ++i) {
    if (!counters[i]) continue;
    for (const auto& c : caches_) {
      if (c && c->counters() == counters[i]) next[i] = c;
    }
    if (!next[i]) next[i] = std::make_shared<ResponseCache>(loop, counters[i]);
  }
  // Dropped caches give their bytes back to the counters (they may outlive this while a request records).
  for (const auto& c : caches_) {
    if (c && std::find(next.begin(), next.end(), c) == next.end()) {
      c->drop();
    }
  }
  caches_ = std::move(next);
}

}  // namespace waitless::proxy
