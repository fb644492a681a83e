// What the demo's routes share: the store, the stats, the HTTP client of the gateway, the internal
// services, the token key. Everything lives on the demo's one loop; the context outlives the Apps.
#pragma once
#include <memory>
#include <string>

#include "apps/demo/stats.hpp"
#include "apps/demo/store.hpp"
#include "waitless/http/client.hpp"
#include "waitless/web/app.hpp"

namespace waitless::demo {

class Services;

struct DemoContext {
  Store* store = nullptr;
  Stats* stats = nullptr;
  http::Client* client = nullptr;
  Services* services = nullptr;
  std::string token_key;   // HS256 key of the login tokens: random per process (tokens die with it)
  std::string public_dir;  // the page's static files
  bool ready = false;      // /readyz: the store answered at start and no shutdown has begun
  bool shutting_down = false;
};

// The routes, one file each (apps/demo/*_routes.cpp).
void add_dashboard_routes(web::App& app, DemoContext& ctx);
void add_items_read_routes(web::App& app, DemoContext& ctx);  // GET
// POST, PUT, DELETE, each behind `auth`.
void add_items_write_routes(web::App& app, DemoContext& ctx, const web::Layer& auth);
void add_auth_routes(web::App& app, DemoContext& ctx);
void add_download_routes(web::App& app, DemoContext& ctx);
void add_hash_routes(web::App& app, DemoContext& ctx);
void add_gateway_routes(web::App& app, DemoContext& ctx);
void add_chat_routes(web::App& app, DemoContext& ctx);
void add_events_routes(web::App& app, DemoContext& ctx);
void add_ops_routes(web::App& app, DemoContext& ctx);   // /metrics
void add_page_routes(web::App& app, DemoContext& ctx);  // /, the page's files (serve_static)

// A signed bearer token for `user` (auth_routes.cpp).
std::string issue_token(const DemoContext& ctx, int64_t user);

// A 400 problem document whose detail starts with the offending field's name.
[[noreturn]] void bad_field(std::string_view field, std::string_view problem);

}  // namespace waitless::demo
