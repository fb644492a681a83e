// GET /metrics: the Prometheus text of Stats (stats.hpp), from the counters the demo keeps; the page.
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

void add_page_routes(web::App& app, DemoContext& ctx) {
  // The page's files are at the top level of public/ ("/", "/app.js", "/chat.html"...): served by
  // serve_static (ETag, Last-Modified, 304, Range; compression() above compresses them), only on these
  // routes, so the API's requests never look at the file system. A name that is not there falls through to
  // the App's 404.
  auto page = web::serve_static(ctx.public_dir, {.cache_control = "no-cache"});
  app.get("/", page);
  app.get("/:file", page);
}

}  // namespace waitless::demo
