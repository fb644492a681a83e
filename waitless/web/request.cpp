#include "waitless/web/request.hpp"

#include <atomic>
#include <cstring>
#include <random>
#include <stdexcept>

#include "waitless/web/cookie.hpp"
#include "waitless/web/header_params.hpp"

namespace waitless::web {

namespace detail {
void RequestState::reset() noexcept {
  route_error = {};
  query_parsed = false;
  query_error = {};
  ip.clear();
  id.clear();
  ip_known = false;
  json.reset();
  form_parsed = false;
  body = {};
  body_read = false;
  parser_ran = false;
  multipart.reset();
  mount_end = 0;
}
}  // namespace detail

namespace {

bool valid_request_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// 16 hex digits of a per-process random prefix, then a per-process counter: unique in the process, and
// unlikely to repeat across restarts. Formatted by hand (no printf on the per-request path).
void generate_request_id(std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  struct Prefix {
    char hex[17];  // 16 hex digits and '-'
  };
  static const Prefix prefix = [] {
    std::random_device rd;
    const uint64_t r = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    Prefix p{};
    for (int i = 0; i < 16; ++i) p.hex[i] = kHex[(r >> (60 - 4 * i)) & 15];
    p.hex[16] = '-';
    return p;
  }();
  static std::atomic<uint64_t> counter{0};
  const uint64_t n = counter.fetch_add(1, std::memory_order_relaxed);
  char buf[40];
  std::memcpy(buf, prefix.hex, sizeof prefix.hex);
  char* p = buf + 17;
  int shift = 60;
  while (shift > 0 && ((n >> shift) & 15) == 0) shift -= 4;  // "%llx": no leading zeros, "0" for 0
  for (; shift >= 0; shift -= 4) *p++ = kHex[(n >> shift) & 15];
  out.assign(buf, static_cast<std::size_t>(p - buf));
}

// One address of a forwarding header entry: quotes, IPv6 brackets and a port removed.
std::string_view strip_node(std::string_view v) noexcept {
  v = trim_ows(v);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  if (!v.empty() && v.front() == '[') {
    std::size_t close = v.find(']');
    return close == std::string_view::npos ? v.substr(1) : v.substr(1, close - 1);
  }
  // "1.2.3.4:80": one colon is a port; more than one is a bare IPv6 address.
  std::size_t colon = v.find(':');
  if (colon != std::string_view::npos && v.find(':', colon + 1) == std::string_view::npos)
    v = v.substr(0, colon);
  return v;
}

// The addresses the forwarding headers list, client first: Forwarded's for= values when a Forwarded
// header is present, else X-Forwarded-For's entries (every field of each name, in order).
void forwarded_chain(const http::Request& raw, std::vector<std::string_view>& out) {
  bool have_forwarded = false;
  for (const http::Header& h : raw.headers()) {
    if (!http::iequals(h.name, "forwarded")) continue;
    have_forwarded = true;
    std::string_view rest = h.value;
    while (!rest.empty()) {
      std::size_t comma = rest.find(',');
      std::string_view element = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      std::string_view node;
      while (!element.empty()) {
        std::size_t semi = element.find(';');
        std::string_view pair = trim_ows(element.substr(0, semi));
        element = semi == std::string_view::npos ? std::string_view{} : element.substr(semi + 1);
        if (pair.size() > 4 && http::iequals(pair.substr(0, 4), "for=")) node = strip_node(pair.substr(4));
      }
      out.push_back(node);  // an element without for= is an unknown hop
    }
  }
  if (have_forwarded) return;
  for (const http::Header& h : raw.headers()) {
    if (!http::iequals(h.name, "x-forwarded-for")) continue;
    std::string_view rest = h.value;
    while (!rest.empty()) {
      std::size_t comma = rest.find(',');
      out.push_back(strip_node(rest.substr(0, comma)));
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
  }
}

}  // namespace

std::string client_ip(const http::Request& raw, std::string_view peer, const TrustProxy& trust) {
  if (trust.hops == 0) return std::string(peer);
  std::vector<std::string_view> chain;
  forwarded_chain(raw, chain);
  chain.push_back(peer);
  // chain = [client?, proxy..., peer]: the last `hops` are trusted, the one before them is the client.
  std::size_t index = trust.hops >= chain.size() ? 0 : chain.size() - 1 - trust.hops;
  return std::string(chain[index]);
}

const FormFields& Request::query_fields() {
  if (!st_.query_parsed) {
    st_.query_parsed = true;
    st_.query_error = st_.query.parse(raw_.query());
  }
  if (st_.query_error)
    throw HttpError(400, "the query string: " + st_.query_error.message(), st_.query_error);
  return st_.query;
}

std::optional<std::string_view> Request::cookie(std::string_view name) const noexcept {
  for (const http::Header& h : raw_.headers()) {
    if (!http::iequals(h.name, "cookie")) continue;
    if (auto v = find_cookie(h.value, name)) return v;
  }
  return std::nullopt;
}

std::string_view Request::ip() {
  if (!st_.ip_known) {
    st_.ip_known = true;
    auto peer = raw_.peer_address();
    std::string peer_host = peer ? peer->host() : std::string();
    st_.ip = client_ip(raw_, peer_host, trust_);
  }
  return st_.ip;
}

std::string_view Request::id() {
  if (st_.id.empty()) {
    std::string_view incoming = raw_.header("x-request-id");
    if (valid_request_id(incoming)) {
      st_.id.assign(incoming);
    } else {
      generate_request_id(st_.id);
    }
  }
  return st_.id;
}

namespace {
[[noreturn]] void no_body(const http::Request& raw, bool parser_ran, const char* what) {
  if (!parser_ran)
    throw std::logic_error(std::string("req.") + what + "() without its body parser on the route");
  if (raw.has_body())
    throw HttpError(
        415, std::string("expected a ") + what + " body, got " + std::string(raw.header("content-type")));
  throw HttpError(400, std::string("a ") + what + " body is required");
}
}  // namespace

const Json& Request::json() const {
  if (!st_.json) no_body(raw_, st_.parser_ran, "json");
  return *st_.json;
}

const FormFields& Request::form() const {
  if (!st_.form_parsed) no_body(raw_, st_.parser_ran, "form");
  return st_.form;
}

std::string_view Request::body() const {
  if (!st_.body_read) no_body(raw_, st_.parser_ran, "body");
  return st_.body;
}

std::string Request::bad_param_detail(std::string_view name, std::error_code ec) {
  std::string d = "route parameter '";
  d.append(name);
  d += "': ";
  d += ec.message();
  return d;
}

}  // namespace waitless::web
