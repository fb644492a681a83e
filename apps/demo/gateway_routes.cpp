// GET /api/gateway/:userId: the API-gateway pattern. Two internal services (services.hpp) are called at
// once over the waitless HTTP client, each within the demo's service timeout; their answers are merged.
// When one fails (refused, timed out, an error status) the answer says so and carries what the other gave
// (200, "degraded": [...]); only when both fail is it a 502. Each call's time is in Server-Timing.
// POST /api/services/:name/{up,down,slow} switches a service, to watch the gateway degrade and recover.
#include <chrono>

#include "apps/demo/context.hpp"
#include "apps/demo/services.hpp"

namespace waitless::demo {
namespace {

struct Call {
  std::string service;
  Result<http::ClientResponse> response;
  std::chrono::nanoseconds took;
};

Task<Call> call(http::Client& client, std::string service, std::string url) {
  const auto t0 = std::chrono::steady_clock::now();
  auto r = co_await client.get(std::move(url));
  co_return Call{std::move(service), std::move(r), std::chrono::steady_clock::now() - t0};
}

// The service's JSON, or the reason it is missing.
Result<web::Json> answer_of(const Call& c, std::string& why) {
  if (!c.response) {
    why = c.response.error() == Error::timed_out ? "timed out" : c.response.error().message();
    return c.response.error();
  }
  if (c.response->status != 200) {
    why = "status " + std::to_string(c.response->status);
    return make_error_code(Error::protocol_error);
  }
  auto json = web::parse_json(c.response->body);
  if (!json) why = "invalid JSON";
  return json;
}

}  // namespace

void add_gateway_routes(web::App& app, DemoContext& ctx) {
  app.get("/api/gateway/:userId", [&ctx](web::Request& req, web::Response& res) -> Task<> {
    const int64_t user = req.param<int64_t>("userId");
    const std::string id = std::to_string(user);
    Services& s = *ctx.services;
    auto [profile, recs] = co_await when_all(
        call(*ctx.client, "profile", s.base_url("profile") + "/profile/" + id),
        call(*ctx.client, "recommendations", s.base_url("recommendations") + "/recommendations/" + id));
    web::json::object body{{"user_id", user}};
    web::json::array degraded;
    web::json::object sources;
    int answered = 0;
    for (Call* c : {&profile, &recs}) {
      res.server_timing(c->service, c->took, c->service + " service");
      std::string why;
      auto json = answer_of(*c, why);
      const double ms = std::chrono::duration<double, std::milli>(c->took).count();
      if (json) {
        ++answered;
        body[c->service] = std::move(*json);
        sources[c->service] = web::json::object{{"ok", true}, {"ms", ms}};
      } else {
        body[c->service] = nullptr;
        degraded.emplace_back(web::json::string(c->service));
        sources[c->service] = web::json::object{{"ok", false}, {"ms", ms}, {"error", why}};
      }
    }
    // A user the profile service does not know is a 404 for the gateway too.
    if (profile.response && profile.response->status == 404) throw web::HttpError(404, "no user " + id);
    ctx.stats->count_gateway(!degraded.empty());
    body["degraded"] = std::move(degraded);
    body["sources"] = std::move(sources);
    res.status(answered == 0 ? 502 : 200).json(web::Json(std::move(body)));
  });

  app.post("/api/services/:name/:mode", [&ctx](web::Request& req, web::Response& res) {
    const auto name = req.param("name");
    const auto m = req.param("mode");
    Services::Mode mode;
    if (m == "up") {
      mode = Services::Mode::up;
    } else if (m == "down") {
      mode = Services::Mode::down;
    } else if (m == "slow") {
      mode = Services::Mode::slow;
    } else {
      throw web::HttpError(404, "modes are up, down and slow");
    }
    if (ctx.services->port(name) == 0) throw web::HttpError(404, "services are profile and recommendations");
    if (auto ec = ctx.services->set_mode(name, mode)) throw web::HttpError(503, ec.message());
    res.json(web::json::object{{"service", name},
                               {"mode", mode_name(ctx.services->mode(name))},
                               {"port", ctx.services->port(name)}});
  });

  app.get("/api/services", [&ctx](web::Request&, web::Response& res) {
    web::json::array out;
    for (auto n : Services::names()) {
      out.emplace_back(web::json::object{
          {"service", n}, {"mode", mode_name(ctx.services->mode(n))}, {"port", ctx.services->port(n)}});
    }
    res.json(web::Json(std::move(out)));
  });
}

}  // namespace waitless::demo
