// Authentication middleware: bearer JWT (HS256), HTTP Basic, and a hook for any other scheme. Each
// answers 401 with a `WWW-Authenticate` challenge (an HttpError, so errors() writes the problem document)
// or leaves the authenticated identity on the request for the layers after it:
//
//   app.use("/api", bearer_jwt({.secret = key, .issuer = "https://id.example", .audience = "api"}));
//   app.get("/api/me", [](Request& req, Response& res) { res.json({{"sub", identity(req)->subject}}); });
//   app.use("/admin", basic_auth({.verify = [](std::string_view u, std::string_view p) { ... }}));
//   app.use(authenticate({.challenge = "ApiKey realm=\"api\"", .verify = [](Request& req) -> ... }));
//
// bearer_jwt: `Authorization: Bearer <token>` verified by jwt.hpp (HMAC-SHA256 compared in constant time,
// `alg` exactly "HS256" — "none" and every other algorithm refused before any signature work —, exp
// required by default, nbf, iat, iss and aud, clock_skew). No token: 401 `Bearer realm="<realm>"` (RFC
// 6750 3.1: no error code for a request without credentials); a bad one: 401 `Bearer realm="<realm>",
// error="invalid_token", error_description="<why>"`. With credentials_required off, a request without an
// Authorization header goes on anonymous (identity() null); a bad token is still refused.
// basic_auth: `Authorization: Basic <base64(user:password)>` (basic_auth.hpp's strict parsing); verify
// (plain) or verify_async (a coroutine: a database lookup) decides; refused or missing: 401
// `Basic realm="<realm>", charset="UTF-8"`. Compare secrets with constant_time_equal (basic_auth.hpp).
// authenticate: `verify` returns the identity or nullopt (401 with `challenge`).
//
// The secret of bearer_jwt must be at least 32 bytes (RFC 7518 3.2): a shorter one is a configuration
// error, refused when the middleware is made (std::invalid_argument), as is a realm with a control byte.
#pragma once
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "waitless/async/task.hpp"
#include "waitless/web/basic_auth.hpp"
#include "waitless/web/chain.hpp"

namespace waitless::web {

class Request;

// Who the request is from, as the auth middleware that accepted it says.
struct Identity {
  std::string scheme;                 // "Bearer", "Basic", or the custom scheme's
  std::string subject;                // the JWT's sub, the Basic user, or what the custom verifier says
  std::string claims_json;            // the JWT's claims (a JSON object); empty for the others
  std::vector<std::string> audience;  // the JWT's aud
};

// The identity left by an auth middleware on this request, or null (anonymous).
const Identity* identity(Request& req) noexcept;
void set_identity(Request& req, Identity id);

struct JwtOptions {
  std::string secret;    // the HMAC key, at least 32 bytes
  std::string issuer;    // empty: iss not checked
  std::string audience;  // empty: aud not checked
  std::chrono::seconds clock_skew{0};  // as jsonwebtoken's clockTolerance
  bool require_exp = true;
  bool credentials_required = true;
  std::string realm = "api";
};
Layer bearer_jwt(JwtOptions options);

struct BasicAuthOptions {
  std::function<bool(std::string_view user, std::string_view password)> verify;
  std::function<Task<bool>(std::string user, std::string password)> verify_async;  // instead of verify
  std::string realm = "restricted";
};
Layer basic_auth(BasicAuthOptions options);

struct AuthScheme {
  std::string challenge;  // the WWW-Authenticate value of the 401
  std::function<std::optional<Identity>(Request&)> verify;
  std::function<Task<std::optional<Identity>>(Request&)> verify_async;  // instead of verify
};
Layer authenticate(AuthScheme scheme);

}  // namespace waitless::web
