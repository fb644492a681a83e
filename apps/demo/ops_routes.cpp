// GET /metrics: the Prometheus text of Stats (stats.hpp), from the counters the demo keeps.
#include "apps/demo/context.hpp"

namespace waitless::demo {

void add_ops_routes(web::App& app, DemoContext& ctx) {
  app.get("/metrics", [&ctx](web::Request&, web::Response& res) {
    std::string text = ctx.stats->prometheus();
    const StoreMetrics& db = ctx.store->metrics();
    text +=
        "# HELP waitless_demo_db_queries_total Database statements run, by outcome.\n"
        "# TYPE waitless_demo_db_queries_total counter\n";
    text += "waitless_demo_db_queries_total{result=\"ok\"} " + std::to_string(db.queries - db.errors) + "\n";
    text += "waitless_demo_db_queries_total{result=\"error\"} " + std::to_string(db.errors) + "\n";
    res.type("text/plain; version=0.0.4; charset=utf-8").send(text);
  });
}

}  // namespace waitless::demo
