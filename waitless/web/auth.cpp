#include "waitless/web/auth.hpp"

#include <memory>
#include <stdexcept>
#include <utility>

#include "waitless/http/header.hpp"
#include "waitless/web/basic_auth.hpp"
#include "waitless/web/http_error.hpp"
#include "waitless/web/jwt.hpp"
#include "waitless/web/request.hpp"
#include "waitless/web/response.hpp"

namespace waitless::web {

const Identity* identity(Request& req) noexcept {
  const Identity* id = req.raw().find_local<Identity>();
  return id && !id->scheme.empty() ? id : nullptr;
}

void set_identity(Request& req, Identity id) { req.raw().locals<Identity>() = std::move(id); }

namespace {

[[noreturn]] void unauthorized(const std::string& challenge, std::string detail) {
  throw HttpError(401, std::move(detail)).with_header("WWW-Authenticate", challenge);
}

std::string checked(Result<std::string> challenge, const char* what) {
  if (!challenge)
    throw std::invalid_argument(std::string(what) + ": the realm cannot be written in a header");
  return std::move(*challenge);
}

struct JwtConfig {
  JwtOptions options;
  std::string challenge;  // without an error code
};

}  // namespace

Layer bearer_jwt(JwtOptions options) {
  if (options.secret.size() < 32)
    throw std::invalid_argument("bearer_jwt: the secret must be at least 32 bytes");
  auto cfg = std::make_shared<JwtConfig>();
  cfg->challenge = checked(www_authenticate_bearer(options.realm), "bearer_jwt");
  cfg->options = std::move(options);
  Layer layer;
  layer.sync = [cfg](Request& req, Response&, Next next) {
    const JwtOptions& o = cfg->options;
    if (!req.has_header("Authorization")) {
      if (o.credentials_required) unauthorized(cfg->challenge, "a bearer token is required");
      next();
      return;
    }
    auto token = bearer_token(req.header("Authorization"));
    if (!token) {
      auto c = www_authenticate_bearer(o.realm, "invalid_request", "not a bearer token");
      unauthorized(c ? *c : cfg->challenge, "the Authorization header is not a bearer token");
    }
    auto jwt = verify_jwt_hs256(*token, o.secret,
                                {.issuer = o.issuer,
                                 .audience = o.audience,
                                 .clock_skew = o.clock_skew,
                                 .require_exp = o.require_exp});
    if (!jwt) {
      const std::string why = jwt.error().message();
      auto c = www_authenticate_bearer(o.realm, "invalid_token", why);
      unauthorized(c ? *c : cfg->challenge, "invalid token: " + why);
    }
    set_identity(req, Identity{"Bearer", std::move(jwt->subject), std::move(jwt->payload_json),
                               std::move(jwt->audience)});
    next();
  };
  return layer;
}

Layer basic_auth(BasicAuthOptions options) {
  if (!options.verify && !options.verify_async) throw std::invalid_argument("basic_auth: no verify function");
  struct Config {
    BasicAuthOptions options;
    std::string challenge;
  };
  auto cfg = std::make_shared<Config>();
  cfg->challenge = checked(www_authenticate_basic(options.realm), "basic_auth");
  cfg->options = std::move(options);
  Layer layer;
  if (cfg->options.verify) {
    layer.sync = [cfg](Request& req, Response&, Next next) {
      auto creds = parse_basic_auth(req.header("Authorization"));
      if (!creds) unauthorized(cfg->challenge, "credentials are required");
      if (!cfg->options.verify(creds->user, creds->password))
        unauthorized(cfg->challenge, "the credentials are not valid");
      set_identity(req, Identity{"Basic", std::move(creds->user), {}, {}});
      next();
    };
  } else {
    layer.async = [cfg](Request& req, Response&, Next next) -> Task<> {
      auto creds = parse_basic_auth(req.header("Authorization"));
      if (!creds) unauthorized(cfg->challenge, "credentials are required");
      const bool ok = co_await cfg->options.verify_async(creds->user, creds->password);
      if (!ok) unauthorized(cfg->challenge, "the credentials are not valid");
      set_identity(req, Identity{"Basic", std::move(creds->user), {}, {}});
      co_await next();
    };
  }
  return layer;
}

Layer authenticate(AuthScheme scheme) {
  if (!scheme.verify && !scheme.verify_async) throw std::invalid_argument("authenticate: no verify function");
  if (scheme.challenge.empty() || !http::is_field_value(scheme.challenge))
    throw std::invalid_argument("authenticate: the challenge is not a header value");
  auto cfg = std::make_shared<const AuthScheme>(std::move(scheme));
  Layer layer;
  if (cfg->verify) {
    layer.sync = [cfg](Request& req, Response&, Next next) {
      auto id = cfg->verify(req);
      if (!id) unauthorized(cfg->challenge, "authentication is required");
      if (id->scheme.empty()) id->scheme = cfg->challenge.substr(0, cfg->challenge.find(' '));
      set_identity(req, std::move(*id));
      next();
    };
  } else {
    layer.async = [cfg](Request& req, Response&, Next next) -> Task<> {
      auto id = co_await cfg->verify_async(req);
      if (!id) unauthorized(cfg->challenge, "authentication is required");
      if (id->scheme.empty()) id->scheme = cfg->challenge.substr(0, cfg->challenge.find(' '));
      set_identity(req, std::move(*id));
      co_await next();
    };
  }
  return layer;
}

}  // namespace waitless::web
