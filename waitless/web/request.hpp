// web::Request: what a middleware or handler reads of a request. A view over the server's http::Request
// (raw()) plus what the framework works out for it: route parameters, the decoded query, cookies, the
// client's address, a request id, and the body once a body parser (body_parser.hpp) has read it.
//
//   auto id = req.param<int64_t>("id");          // a value that does not convert: HttpError 400
//   auto page = req.query("page");               // decoded first value (nullopt when absent)
//   auto tags = req.query_all("tag");            // every value, in order
//   auto sid = req.cookie("sid");
//   log::info("{} {}", req.ip(), req.id());
//
// Views returned are valid until the request ends. Nothing is computed before it is asked for, and what
// is computed is kept for the rest of the request (the query is decoded once, the address looked up once).
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "waitless/base/cancel.hpp"
#include "waitless/http/request.hpp"
#include "waitless/web/http_error.hpp"
#include "waitless/web/json.hpp"
#include "waitless/web/router.hpp"
#include "waitless/web/urlencoded.hpp"

namespace waitless::web {

// Which proxies in front of the server are believed about the client's address (X-Forwarded-For, or
// Forwarded's for= when present). hops = 0: none, the socket's peer is the client. hops = N: the last N
// addresses (the peer and the N-1 nearest entries of the header) are trusted proxies, so the client is
// the entry before them. hops = kAll: every proxy is trusted, the client is the header's first entry.
struct TrustProxy {
  static constexpr unsigned kAll = ~0u;
  unsigned hops = 0;
};

namespace detail {
// What a request accumulates; pooled per thread by the App (reset between requests, memory kept).
struct RequestState {
  RouteMatch match;
  std::error_code route_error;  // the path's encoding was refused (a PathError: 400)
  FormFields query;
  bool query_parsed = false;
  std::error_code query_error;
  std::string ip;
  std::string id;
  bool ip_known = false;
  // Body parsers' results.
  std::optional<Json> json;
  FormFields form;
  bool form_parsed = false;
  std::string_view body;  // text or raw: the body as received (the server's buffer)
  bool body_read = false;
  bool parser_ran = false;          // a body parser looked at this request (and maybe skipped its type)
  std::shared_ptr<void> multipart;  // multipart_body's MultipartForm (multipart_body.hpp)
  uint32_t mount_end = 0;           // a path-scoped middleware's prefix length in path() (mount_path.hpp)
  void reset() noexcept;
};
}  // namespace detail

class Request {
 public:
  Request(http::Request& raw, detail::RequestState& state, const TrustProxy& trust) noexcept
      : raw_(raw), st_(state), trust_(trust) {}
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;

  http::Request& raw() noexcept { return raw_; }
  const http::Request& raw() const noexcept { return raw_; }
  std::string_view method() const noexcept { return raw_.method(); }
  http::Method method_id() const noexcept { return raw_.method_id(); }
  std::string_view target() const noexcept { return raw_.target(); }
  // The path as sent (still percent-encoded) and the query string without '?'.
  std::string_view path() const noexcept { return raw_.path(); }
  std::string_view query_string() const noexcept { return raw_.query(); }
  // Inside a path-scoped middleware (app.use("/static", mw), mount_path.hpp): the prefix as sent, and the
  // rest of the path ("/" for the prefix itself). Elsewhere "" and path().
  std::string_view mount_path() const noexcept { return path().substr(0, st_.mount_end); }
  std::string_view relative_path() const noexcept {
    std::string_view rest = path().substr(std::min<std::size_t>(st_.mount_end, path().size()));
    return rest.empty() ? std::string_view("/") : rest;
  }

  // Route parameters, decoded (router.hpp's policy), in pattern order.
  std::span<const RouteParam> params() const noexcept { return st_.match.params(); }
  std::optional<std::string_view> param_view(std::string_view name) const noexcept {
    return st_.match.find_param(name);
  }
  // The parameter as a T (router.hpp's parse_param: integers, floating point, bool, strings). A missing
  // parameter or a value that does not convert throws HttpError(400), which the chain turns into a 400.
  template <typename T = std::string_view>
  T param(std::string_view name) const {
    auto v = st_.match.param<T>(name);
    if (!v) throw HttpError(400, bad_param_detail(name, v.error()), v.error());
    return std::move(v.value());
  }

  // The query string's decoded fields (urlencoded.hpp: '+' is a space, repeated keys kept). A query that
  // is not well encoded throws HttpError(400) from any of these.
  std::optional<std::string_view> query(std::string_view key) { return query_fields().get(key); }
  std::vector<std::string_view> query_all(std::string_view key) { return query_fields().all(key); }
  const FormFields& query_fields();

  // Header fields (names case-insensitive): the first value, empty when absent.
  std::string_view header(std::string_view name) const noexcept { return raw_.header(name); }
  bool has_header(std::string_view name) const noexcept { return raw_.has_header(name); }
  const std::vector<http::Header>& headers() const noexcept { return raw_.headers(); }
  // The first cookie with this name in the Cookie header (cookie.hpp's lenient reading).
  std::optional<std::string_view> cookie(std::string_view name) const noexcept;

  // The client's IP address as text ("203.0.113.7", "::1"), per the App's TrustProxy; empty when unknown
  // (the connection is gone).
  std::string_view ip();
  // The request id: the client's X-Request-Id when it is 1-128 characters of [A-Za-z0-9._:-], otherwise
  // one generated here (unique per process). The App sends it back as X-Request-Id.
  std::string_view id();
  // Fires when the client disconnects while a coroutine handler waits. Never fires on the plain path.
  CancelToken cancel_token() const noexcept { return raw_.cancel_token(); }

  // The body as read by a body parser (body_parser.hpp). When the parsers on the route skipped this request
  // (another Content-Type, or no body) these throw HttpError 415 (a body of another type) or 400 (none);
  // calling one with no body parser on the route at all is a programming error (std::logic_error, 500).
  const Json& json() const;
  // The JSON body as a T (json.hpp's conversion); a shape that does not fit throws HttpError(400).
  template <typename T>
  T json_as() const {
    auto r = from_json<T>(json());
    if (!r) throw HttpError(400, "the JSON body does not fit: " + r.error().message(), r.error());
    return std::move(r.value());
  }
  const FormFields& form() const;
  std::string_view body() const;  // text() or raw(): the bytes as received
  bool has_body_read() const noexcept { return st_.body_read; }

  detail::RequestState& state() noexcept { return st_; }

 private:
  static std::string bad_param_detail(std::string_view name, std::error_code ec);
  http::Request& raw_;
  detail::RequestState& st_;
  const TrustProxy& trust_;
};

// The client address from a peer address and the forwarding headers of `raw` per `trust` (Request::ip;
// exposed for tests).
std::string client_ip(const http::Request& raw, std::string_view peer, const TrustProxy& trust);

}  // namespace waitless::web
