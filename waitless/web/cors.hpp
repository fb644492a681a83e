// cors(): Cross-Origin Resource Sharing (Fetch standard, "CORS protocol"), as Express's `cors` package.
//
//   app.use(cors());                                                    // any origin: "*"
//   app.use(cors({.origins = {"https://app.example"}, .credentials = true, .max_age = 600s}));
//   app.use(cors({.allow_origin = [](std::string_view o) { return o.ends_with(".example.com"); }}));
//
// A plain middleware. For a request with an Origin:
//   - the origin is allowed by `allow_origin` when set, else by the `origins` list (exact, case-sensitive
//     match of the serialized origin "scheme://host[:port]"), else (both empty) every origin is;
//   - any origin without credentials: `Access-Control-Allow-Origin: *` (no Vary needed); otherwise the
//     request's origin is echoed back when allowed, and `Vary: Origin` is added in every case (allowed or
//     not), so a cache never gives one origin's answer to another;
//   - credentials: `Access-Control-Allow-Credentials: true`; exposed_headers: Access-Control-Expose-Headers.
// A preflight (OPTIONS with Access-Control-Request-Method) is answered here with preflight_status (204)
// and an empty body: the origin headers as above, Access-Control-Allow-Methods (`methods`),
// Access-Control-Allow-Headers (`allowed_headers`, or, when empty, the request's
// Access-Control-Request-Headers echoed, with `Vary: Access-Control-Request-Headers`) and
// Access-Control-Max-Age when max_age is set; it goes on to next() only with preflight_continue. A
// preflight from an origin not allowed gets the same 204 without any Access-Control-Allow-* field: the
// browser then refuses the real request. An OPTIONS without Access-Control-Request-Method is not a
// preflight and goes on (the router answers it with Allow).
// A request without Origin (same-origin, curl) goes on untouched, except that "*" is still sent for the
// any-origin case (as Express's cors does; it lets a shared cache store one answer for everyone).
// Values are validated when the middleware is made: a method that is not a token, a header name that is
// not one, or an origin with a control character is refused (std::invalid_argument: a configuration
// error, found at startup).
#pragma once
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "waitless/web/chain.hpp"

namespace waitless::web {

struct CorsOptions {
  std::vector<std::string> origins;                           // the allow-list (empty: see allow_origin)
  std::function<bool(std::string_view origin)> allow_origin;  // decides instead of the list when set
  std::vector<std::string> methods{"GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"};
  std::vector<std::string> allowed_headers;  // empty: echo Access-Control-Request-Headers
  std::vector<std::string> exposed_headers;
  bool credentials = false;
  std::optional<std::chrono::seconds> max_age;  // Access-Control-Max-Age of a preflight
  int preflight_status = 204;
  bool preflight_continue = false;
};

Layer cors(CorsOptions options = {});

}  // namespace waitless::web
