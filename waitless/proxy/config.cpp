#include "waitless/proxy/config.hpp"

#include <cctype>
#include <charconv>
#include <fstream>
#include <initializer_list>
#include <sstream>

#include "waitless/base/error.hpp"
#include "waitless/web/json.hpp"

namespace waitless::proxy {

namespace {

namespace json = web::json;

// Thrown inside this file only (never crosses the loop: parse_config turns it into a value).
struct ConfigError {
  std::string message;
};

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw ConfigError{where + ": " + what};
}

const json::object& object_at(const json::value& v, const std::string& where) {
  if (!v.is_object()) fail(where, "expected an object");
  return v.get_object();
}

// Every key of `o` must be one of `known`.
void only_keys(const json::object& o, const std::string& where,
               std::initializer_list<std::string_view> known) {
  for (const auto& kv : o) {
    bool ok = false;
    for (std::string_view k : known) ok = ok || kv.key() == k;
    if (!ok) fail(where.empty() ? std::string(kv.key()) : where + "." + std::string(kv.key()), "unknown key");
  }
}

std::string join(const std::string& where, std::string_view key) {
  return where.empty() ? std::string(key) : where + "." + std::string(key);
}

std::string string_of(const json::value& v, const std::string& where) {
  if (!v.is_string()) fail(where, "expected a string");
  return std::string(v.get_string());
}

int64_t integer_of(const json::value& v, const std::string& where, int64_t lo, int64_t hi) {
  int64_t n = 0;
  if (v.is_int64()) {
    n = v.get_int64();
  } else if (v.is_uint64() && v.get_uint64() <= uint64_t(INT64_MAX)) {
    n = int64_t(v.get_uint64());
  } else {
    fail(where, "expected a whole number");
  }
  if (n < lo || n > hi)
    fail(where,
         std::to_string(n) + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return n;
}

bool bool_of(const json::value& v, const std::string& where) {
  if (!v.is_bool()) fail(where, "expected true or false");
  return v.get_bool();
}

Millis millis_of(const json::value& v, const std::string& where, int64_t lo = 1) {
  return Millis(integer_of(v, where, lo, 3'600'000));
}

ServerSpec server_of(const json::value& v, const std::string& where) {
  ServerSpec s;
  std::string addr_where = where;
  if (v.is_string()) {
    s.addr = std::string(v.get_string());
  } else if (v.is_object()) {
    const json::object& o = v.get_object();
    only_keys(o, where, {"addr", "weight"});
    const json::value* a = o.if_contains("addr");
    if (!a) fail(join(where, "addr"), "missing");
    addr_where = join(where, "addr");
    s.addr = string_of(*a, addr_where);
    if (const json::value* w = o.if_contains("weight"))
      s.weight = unsigned(integer_of(*w, join(where, "weight"), 1, 1000));
  } else {
    fail(where, "expected \"host:port\" or {\"addr\": \"host:port\", \"weight\": n}");
  }
  if (s.addr.starts_with("https://")) {
    s.addr.erase(0, 8);
    s.tls = true;
  }
  if (!split_host_port(s.addr, s.host, s.port))
    fail(addr_where, "'" + s.addr + "' is not host:port (or https://host:port)");
  return s;
}

void upstream_tls_of(const json::value& v, const std::string& where, UpstreamTls& t) {
  const json::object& o = object_at(v, where);
  only_keys(o, where, {"ca", "verify", "sni"});
  if (const auto* p = o.if_contains("ca")) t.ca = string_of(*p, join(where, "ca"));
  if (const auto* p = o.if_contains("verify")) t.verify = bool_of(*p, join(where, "verify"));
  if (const auto* p = o.if_contains("sni")) {
    t.sni = string_of(*p, join(where, "sni"));
    if (t.sni.empty() || t.sni.find_first_of(" \t\r\n/:") != std::string::npos)
      fail(join(where, "sni"), "expected a host name");
  }
}

// The shared client context of an upstream with https servers (the CA file is read now).
void make_upstream_tls(UpstreamTls& t, const std::string& where) {
  auto ctx = net::TlsContext::client({.ca_file = t.ca, .insecure = !t.verify});
  if (!ctx) {
    fail(join(where, t.ca.empty() ? "tls" : "tls.ca"),
         (t.ca.empty() ? std::string("the system's CA store") : "'" + t.ca + "'") + " cannot be used (" +
             ctx.error().message() + ")");
  }
  t.context = std::move(ctx.value());
}

void rate_limit_of(const json::value& v, const std::string& where, RateLimitSpec& r) {
  const json::object& o = object_at(v, where);
  only_keys(o, where, {"rate", "burst", "key", "max_keys"});
  const auto* rate = o.if_contains("rate");
  if (!rate) fail(join(where, "rate"), "missing");
  if (!rate->is_number()) fail(join(where, "rate"), "expected a number (requests per second)");
  r.rate = rate->to_number<double>();
  if (!(r.rate >= 0.001 && r.rate <= 1e6)) fail(join(where, "rate"), "expected 0.001 to 1000000");
  r.enabled = true;
  r.burst = r.rate < 1 ? 1u : uint32_t(r.rate);
  if (const auto* b = o.if_contains("burst"))
    r.burst = uint32_t(integer_of(*b, join(where, "burst"), 1, 10'000'000));
  if (const auto* k = o.if_contains("key")) {
    const std::string key = string_of(*k, join(where, "key"));
    if (key.starts_with("header:") && key.size() > 7) {
      r.header = key.substr(7);
    } else if (key != "client_ip") {
      fail(join(where, "key"), "'" + key + "': expected \"client_ip\" or \"header:Name\"");
    }
  }
  if (const auto* m = o.if_contains("max_keys"))
    r.max_keys = std::size_t(integer_of(*m, join(where, "max_keys"), 16, 100'000'000));
}

void cache_of(const json::value& v, const std::string& where, CacheSpec& c) {
  const json::object& o = object_at(v, where);
  only_keys(o, where, {"max_bytes", "max_entry_bytes", "default_ttl_ms"});
  c.enabled = true;
  if (const auto* m = o.if_contains("max_bytes"))
    c.max_bytes = uint64_t(integer_of(*m, join(where, "max_bytes"), 4096, int64_t(1) << 40));
  if (const auto* m = o.if_contains("max_entry_bytes"))
    c.max_entry_bytes = uint64_t(integer_of(*m, join(where, "max_entry_bytes"), 1, int64_t(1) << 32));
  if (c.max_entry_bytes > c.max_bytes) fail(join(where, "max_entry_bytes"), "larger than max_bytes");
  if (const auto* t = o.if_contains("default_ttl_ms"))
    c.default_ttl = Millis(integer_of(*t, join(where, "default_ttl_ms"), 0, 365LL * 86'400'000));
}

void health_of(const json::value& v, const std::string& where, ActiveHealth& h) {
  const json::object& o = object_at(v, where);
  only_keys(o, where, {"path", "interval_ms", "timeout_ms", "rise", "fall"});
  h.enabled = true;
  if (const auto* p = o.if_contains("path")) {
    h.path = string_of(*p, join(where, "path"));
    if (h.path.empty() || h.path.front() != '/') fail(join(where, "path"), "must start with /");
  }
  if (const auto* p = o.if_contains("interval_ms"))
    h.interval = millis_of(*p, join(where, "interval_ms"), 10);
  if (const auto* p = o.if_contains("timeout_ms")) h.timeout = millis_of(*p, join(where, "timeout_ms"));
  if (const auto* p = o.if_contains("rise")) h.rise = unsigned(integer_of(*p, join(where, "rise"), 1, 100));
  if (const auto* p = o.if_contains("fall")) h.fall = unsigned(integer_of(*p, join(where, "fall"), 1, 100));
}

void passive_of(const json::value& v, const std::string& where, PassiveHealth& h) {
  const json::object& o = object_at(v, where);
  only_keys(o, where, {"max_fails", "eject_ms"});
  if (const auto* p = o.if_contains("max_fails"))
    h.max_fails = unsigned(integer_of(*p, join(where, "max_fails"), 0, 1000));
  if (const auto* p = o.if_contains("eject_ms")) h.eject = millis_of(*p, join(where, "eject_ms"));
}

HashKey hash_key_of(const std::string& text, const std::string& where) {
  HashKey k;
  if (text == "client_ip") return k;
  auto colon = text.find(':');
  std::string kind = text.substr(0, colon == std::string::npos ? text.size() : colon);
  std::string name = colon == std::string::npos ? std::string() : text.substr(colon + 1);
  if ((kind != "header" && kind != "cookie") || name.empty()) {
    fail(where, "'" + text + "': expected \"header:Name\", \"cookie:name\" or \"client_ip\"");
  }
  k.kind = kind == "header" ? HashKey::Kind::header : HashKey::Kind::cookie;
  k.name = std::move(name);
  return k;
}

UpstreamSpec upstream_of(std::string_view name, const json::value& v, const std::string& where) {
  const json::object& o = object_at(v, where);
  only_keys(o, where,
            {"servers", "balance", "hash_key", "hash_load_factor", "health", "passive", "slow_start_ms",
             "rewrite_host", "max_connections", "sticky_cookie", "tls"});
  UpstreamSpec u;
  u.name = std::string(name);
  const json::value* servers = o.if_contains("servers");
  if (!servers) fail(join(where, "servers"), "missing");
  if (!servers->is_array() || servers->get_array().empty())
    fail(join(where, "servers"), "expected a non-empty array");
  std::size_t i = 0;
  for (const json::value& s : servers->get_array()) {
    u.servers.push_back(server_of(s, join(where, "servers") + "[" + std::to_string(i++) + "]"));
  }
  if (const auto* b = o.if_contains("balance")) {
    std::string name_b = string_of(*b, join(where, "balance"));
    if (name_b == "round_robin") {
      u.balance = Balance::round_robin;
    } else if (name_b == "least_conn") {
      u.balance = Balance::least_conn;
    } else if (name_b == "hash") {
      u.balance = Balance::hash;
    } else {
      fail(join(where, "balance"), "'" + name_b + "': expected round_robin, least_conn or hash");
    }
  }
  if (const auto* k = o.if_contains("hash_key")) {
    if (u.balance != Balance::hash) fail(join(where, "hash_key"), "only with \"balance\": \"hash\"");
    u.hash_key = hash_key_of(string_of(*k, join(where, "hash_key")), join(where, "hash_key"));
  }
  if (const auto* f = o.if_contains("hash_load_factor")) {
    if (!f->is_number()) fail(join(where, "hash_load_factor"), "expected a number");
    u.hash_load_factor = f->to_number<double>();
    if (!(u.hash_load_factor >= 1.0 && u.hash_load_factor <= 100.0))
      fail(join(where, "hash_load_factor"), "expected 1.0 to 100");
  }
  if (const auto* h = o.if_contains("health")) health_of(*h, join(where, "health"), u.health);
  if (const auto* p = o.if_contains("passive")) passive_of(*p, join(where, "passive"), u.passive);
  if (const auto* s = o.if_contains("slow_start_ms"))
    u.slow_start = millis_of(*s, join(where, "slow_start_ms"), 0);
  if (const auto* c = o.if_contains("sticky_cookie")) {
    u.sticky_cookie = string_of(*c, join(where, "sticky_cookie"));
    bool token = !u.sticky_cookie.empty();
    for (char ch : u.sticky_cookie)
      token = token && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-');
    if (!token) fail(join(where, "sticky_cookie"), "expected a cookie name (letters, digits, _ and -)");
  }
  if (const auto* r = o.if_contains("rewrite_host"))
    u.rewrite_host = bool_of(*r, join(where, "rewrite_host"));
  if (const auto* m = o.if_contains("max_connections"))
    u.max_connections = unsigned(integer_of(*m, join(where, "max_connections"), 1, 100'000));
  if (const auto* t = o.if_contains("tls")) {
    upstream_tls_of(*t, join(where, "tls"), u.tls);
    for (ServerSpec& s : u.servers) s.tls = true;
  }
  bool any_tls = false;
  for (const ServerSpec& s : u.servers) any_tls = any_tls || s.tls;
  if (any_tls) make_upstream_tls(u.tls, where);
  return u;
}

void listen_of(const json::value& v, ProxyConfig& c) {
  std::string addr;
  if (v.is_string()) {
    addr = std::string(v.get_string());
    if (!split_host_port(addr, c.listen_host, c.listen_port))
      fail("listen", "'" + addr + "' is not host:port");
    return;
  }
  const json::object& o = object_at(v, "listen");
  only_keys(o, "listen", {"addr", "tls"});
  const auto* a = o.if_contains("addr");
  if (!a) fail("listen.addr", "missing");
  addr = string_of(*a, "listen.addr");
  if (!split_host_port(addr, c.listen_host, c.listen_port))
    fail("listen.addr", "'" + addr + "' is not host:port");
  if (const auto* t = o.if_contains("tls")) {
    const json::object& to = object_at(*t, "listen.tls");
    only_keys(to, "listen.tls", {"cert", "key"});
    const auto* cert = to.if_contains("cert");
    const auto* key = to.if_contains("key");
    if (!cert) fail("listen.tls.cert", "missing");
    if (!key) fail("listen.tls.key", "missing");
    c.tls_cert = string_of(*cert, "listen.tls.cert");
    c.tls_key = string_of(*key, "listen.tls.key");
  }
}

ProxyConfig config_of(const json::value& root) {
  const json::object& o = object_at(root, "(top level)");
  only_keys(o, "",
            {"listen", "threads", "upstreams", "routes", "timeouts", "metrics_path", "retry_budget_percent",
             "max_request_body", "response_buffer", "via"});
  ProxyConfig c;
  const auto* listen = o.if_contains("listen");
  if (!listen) fail("listen", "missing");
  listen_of(*listen, c);
  if (const auto* t = o.if_contains("threads")) c.threads = unsigned(integer_of(*t, "threads", 0, 256));
  if (const auto* t = o.if_contains("timeouts")) {
    const json::object& to = object_at(*t, "timeouts");
    only_keys(to, "timeouts", {"connect_ms", "first_byte_ms", "idle_ms", "keepalive_ms", "tunnel_idle_ms"});
    if (const auto* p = to.if_contains("connect_ms"))
      c.connect_timeout = millis_of(*p, "timeouts.connect_ms");
    if (const auto* p = to.if_contains("first_byte_ms"))
      c.first_byte_timeout = millis_of(*p, "timeouts.first_byte_ms");
    if (const auto* p = to.if_contains("idle_ms")) c.idle_timeout = millis_of(*p, "timeouts.idle_ms");
    if (const auto* p = to.if_contains("keepalive_ms"))
      c.keepalive_timeout = millis_of(*p, "timeouts.keepalive_ms");
    if (const auto* p = to.if_contains("tunnel_idle_ms"))
      c.tunnel_idle_timeout = millis_of(*p, "timeouts.tunnel_idle_ms");
  }
  if (const auto* m = o.if_contains("metrics_path")) {
    c.metrics_path = string_of(*m, "metrics_path");
    if (c.metrics_path.empty() || c.metrics_path.front() != '/') fail("metrics_path", "must start with /");
  }
  if (const auto* r = o.if_contains("retry_budget_percent"))
    c.retry_budget_percent = unsigned(integer_of(*r, "retry_budget_percent", 0, 100));
  if (const auto* m = o.if_contains("max_request_body"))
    c.max_request_body = uint64_t(integer_of(*m, "max_request_body", 0, int64_t(1) << 40));
  if (const auto* b = o.if_contains("response_buffer"))
    c.response_buffer = uint64_t(integer_of(*b, "response_buffer", 0, int64_t(1) << 32));
  if (const auto* v = o.if_contains("via")) {
    c.via = string_of(*v, "via");
    if (c.via.empty() || c.via.find_first_of(" \t\r\n,") != std::string::npos)
      fail("via", "expected one token");
  }

  const auto* ups = o.if_contains("upstreams");
  if (!ups) fail("upstreams", "missing");
  const json::object& uo = object_at(*ups, "upstreams");
  if (uo.empty()) fail("upstreams", "no upstream defined");
  for (const auto& kv : uo)
    c.upstreams.push_back(upstream_of(kv.key(), kv.value(), "upstreams." + std::string(kv.key())));

  const auto* routes = o.if_contains("routes");
  if (!routes) fail("routes", "missing");
  if (!routes->is_array() || routes->get_array().empty()) fail("routes", "expected a non-empty array");
  std::size_t i = 0;
  for (const json::value& rv : routes->get_array()) {
    const std::string where = "routes[" + std::to_string(i++) + "]";
    const json::object& ro = object_at(rv, where);
    only_keys(ro, where, {"prefix", "host", "upstream", "rate_limit", "cache"});
    RouteSpec r;
    if (const auto* p = ro.if_contains("prefix")) {
      r.prefix = string_of(*p, join(where, "prefix"));
      if (r.prefix.empty() || r.prefix.front() != '/') fail(join(where, "prefix"), "must start with /");
    }
    if (const auto* h = ro.if_contains("host")) r.host = string_of(*h, join(where, "host"));
    const auto* u = ro.if_contains("upstream");
    if (!u) fail(join(where, "upstream"), "missing");
    r.upstream = string_of(*u, join(where, "upstream"));
    bool found = false;
    for (std::size_t k = 0; k < c.upstreams.size(); ++k) {
      if (c.upstreams[k].name == r.upstream) {
        r.upstream_index = k;
        found = true;
      }
    }
    if (!found) fail(join(where, "upstream"), "no upstream named '" + r.upstream + "'");
    if (const auto* l = ro.if_contains("rate_limit"))
      rate_limit_of(*l, join(where, "rate_limit"), r.rate_limit);
    if (const auto* k = ro.if_contains("cache")) cache_of(*k, join(where, "cache"), r.cache);
    c.routes.push_back(std::move(r));
  }
  return c;
}

}  // namespace

bool split_host_port(std::string_view text, std::string& host, uint16_t& port) {
  std::string_view h, p;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return false;
    h = text.substr(1, close - 1);
    p = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) return false;
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
  }
  if (h.empty() || p.empty()) return false;
  for (char ch : h) {
    if (ch <= ' ' || ch == '/' || ch == '?' || ch == '#' || ch == '@' ||
        static_cast<unsigned char>(ch) >= 0x7f)
      return false;
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (ec != std::errc{} || end != p.data() + p.size() || value == 0 || value > 65535) return false;
  host = std::string(h);
  port = static_cast<uint16_t>(value);
  return true;
}

Result<ProxyConfig> parse_config(std::string_view text, std::string* message) {
  web::JsonError where;
  auto root = web::parse_json(text, &where);
  if (!root) {
    if (message) *message = where.message();
    return Error::invalid_argument;
  }
  try {
    return config_of(*root);
  } catch (const ConfigError& e) {
    if (message) *message = e.message;
    return Error::invalid_argument;
  }
}

Result<ProxyConfig> load_config(const std::string& path, std::string* message) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (message) *message = path + ": cannot be read";
    return Error::invalid_argument;
  }
  std::ostringstream all;
  all << in.rdbuf();
  std::string inner;
  auto c = parse_config(all.str(), &inner);
  if (!c && message) *message = path + ": " + inner;
  return c;
}

}  // namespace waitless::proxy
