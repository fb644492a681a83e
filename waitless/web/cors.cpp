#include "waitless/web/cors.hpp"

#include <memory>
#include <stdexcept>
#include <utility>

#include "waitless/http/header.hpp"
#include "waitless/web/request.hpp"
#include "waitless/web/response.hpp"
#include "waitless/web/vary.hpp"

namespace waitless::web {
namespace {

struct CorsConfig {
  CorsOptions options;
  std::string methods;  // joined with ", "
  std::string allowed_headers;
  std::string exposed_headers;
  std::string max_age;
  bool any_origin = false;
};

std::string join_tokens(const std::vector<std::string>& items, const char* what) {
  std::string out;
  for (const std::string& item : items) {
    if (!http::is_token(item)) throw std::invalid_argument(std::string("cors: not a ") + what + ": " + item);
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

// The origin headers for `origin` (non-empty); false when the origin is not allowed.
bool set_origin(const CorsConfig& cfg, Response& res, std::string_view origin) {
  const CorsOptions& o = cfg.options;
  if (cfg.any_origin && !o.credentials) {
    res.set_header("Access-Control-Allow-Origin", "*");
  } else {
    add_vary(res.raw(), "Origin");
    bool allowed = cfg.any_origin;
    if (!allowed && o.allow_origin) {
      allowed = o.allow_origin(origin);
    } else if (!allowed) {
      for (const std::string& a : o.origins) {
        if (a == origin) {
          allowed = true;
          break;
        }
      }
    }
    if (!allowed) return false;
    res.set_header("Access-Control-Allow-Origin", origin);
  }
  if (o.credentials) res.set_header("Access-Control-Allow-Credentials", "true");
  return true;
}

}  // namespace

Layer cors(CorsOptions options) {
  auto cfg = std::make_shared<CorsConfig>();
  cfg->methods = join_tokens(options.methods, "method");
  cfg->allowed_headers = join_tokens(options.allowed_headers, "header name");
  cfg->exposed_headers = join_tokens(options.exposed_headers, "header name");
  for (const std::string& origin : options.origins) {
    if (!http::is_field_value(origin) || origin.empty())
      throw std::invalid_argument("cors: not an origin: " + origin);
  }
  if (options.max_age) cfg->max_age = std::to_string(options.max_age->count());
  if (options.preflight_status < 200 || options.preflight_status > 299)
    throw std::invalid_argument("cors: preflight_status must be 2xx");
  cfg->any_origin = options.origins.empty() && !options.allow_origin;
  cfg->options = std::move(options);

  Layer layer;
  layer.sync = [cfg](Request& req, Response& res, Next next) {
    const CorsOptions& o = cfg->options;
    const http::Header* origin_field = req.raw().find_header("Origin");  // one look-up for both
    const bool has_origin = origin_field != nullptr;
    const std::string_view origin = has_origin ? origin_field->value : std::string_view{};
    const bool preflight =
        req.method_id() == http::Method::options && req.has_header("Access-Control-Request-Method");
    if (!preflight) {
      if (has_origin) {
        if (set_origin(*cfg, res, origin) && !cfg->exposed_headers.empty())
          res.set_header("Access-Control-Expose-Headers", cfg->exposed_headers);
      } else if (cfg->any_origin && !o.credentials) {
        res.set_header("Access-Control-Allow-Origin", "*");
      }
      next();
      return;
    }
    if (has_origin && set_origin(*cfg, res, origin)) {
      res.set_header("Access-Control-Allow-Methods", cfg->methods);
      if (!cfg->allowed_headers.empty()) {
        res.set_header("Access-Control-Allow-Headers", cfg->allowed_headers);
      } else {
        add_vary(res.raw(), "Access-Control-Request-Headers");
        const std::string_view asked = req.header("Access-Control-Request-Headers");
        if (!asked.empty()) res.set_header("Access-Control-Allow-Headers", asked);
      }
      if (!cfg->max_age.empty()) res.set_header("Access-Control-Max-Age", cfg->max_age);
    }
    if (o.preflight_continue) {
      next();
      return;
    }
    res.status(o.preflight_status).send("");
  };
  return layer;
}

}  // namespace waitless::web
