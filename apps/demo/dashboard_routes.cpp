// GET /api/dashboard/:userId: the seeds' example. The user's profile, recent orders and recommendations
// are three independent queries: they run at once (when_all), so the answer takes as long as the slowest,
// not the sum. Server-Timing names each query's time and the total (visible in a browser's devtools).
#include <chrono>

#include "apps/demo/context.hpp"

namespace waitless::demo {
namespace {

using Kind = Column::Kind;
constexpr Column kProfile[] = {{"id", Kind::integer},
                               {"name", Kind::text},
                               {"email", Kind::text},
                               {"city", Kind::text},
                               {"joined_at", Kind::text}};
constexpr Column kOrders[] = {{"id", Kind::integer},
                              {"created_at", Kind::text},
                              {"status", Kind::text},
                              {"total_cents", Kind::integer},
                              {"lines", Kind::integer}};
constexpr Column kRecommendations[] = {{"id", Kind::integer},    {"name", Kind::text},
                                       {"category", Kind::text}, {"price_cents", Kind::integer},
                                       {"score", Kind::real},    {"reason", Kind::text}};

struct Timed {
  Result<web::Json> rows;
  std::chrono::nanoseconds took;
};

Task<Timed> timed(Task<Result<web::Json>> query) {
  const auto t0 = std::chrono::steady_clock::now();
  auto rows = co_await std::move(query);
  co_return Timed{std::move(rows), std::chrono::steady_clock::now() - t0};
}

web::Json take(Timed& t) {
  if (!t.rows) throw web::HttpError::from(t.rows.error());
  return std::move(*t.rows);
}

}  // namespace

void add_dashboard_routes(web::App& app, DemoContext& ctx) {
  app.get("/api/dashboard/:userId", [&ctx](web::Request& req, web::Response& res) -> Task<> {
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t user = req.param<int64_t>("userId");
    Store& db = *ctx.store;
    auto [profile, orders, recs] = co_await when_all(
        timed(db.rows("SELECT id, name, email, city, joined_at FROM users WHERE id = $1", {user}, kProfile)),
        timed(
            db.rows("SELECT o.id, o.created_at, o.status, o.total_cents, COUNT(l.item_id) AS lines "
                    "FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.user_id = $1 "
                    "GROUP BY o.id, o.created_at, o.status, o.total_cents ORDER BY o.created_at DESC LIMIT 5",
                    {user}, kOrders)),
        timed(db.rows("SELECT i.id, i.name, i.category, i.price_cents, r.score, r.reason "
                      "FROM recommendations r JOIN items i ON i.id = r.item_id WHERE r.user_id = $1 "
                      "ORDER BY r.score DESC LIMIT 5",
                      {user}, kRecommendations)));
    res.server_timing("profile", profile.took, "users query")
        .server_timing("orders", orders.took, "recent orders query")
        .server_timing("recommendations", recs.took, "recommendations query");
    web::Json p = take(profile);
    const web::Json* row = first_row(p);
    if (row == nullptr) throw web::HttpError(404, "no user " + std::to_string(user));
    web::json::object body{{"user", *row}, {"orders", take(orders)}, {"recommendations", take(recs)}};
    res.server_timing("total", std::chrono::steady_clock::now() - t0, "whole handler");
    res.json(web::Json(std::move(body)));
  });
}

}  // namespace waitless::demo
