// GET /events: Server-Sent Events, one "stats" event per second carrying the last Sample (stats.hpp) as
// JSON. The page's charts read it; `curl -N .../events` shows it too. A graceful shutdown ends the stream.
#include "apps/demo/context.hpp"
#include "waitless/http/sse.hpp"

namespace waitless::demo {

void add_events_routes(web::App& app, DemoContext& ctx) {
  app.get("/events", [&ctx](web::Request& req, web::Response& res) -> Task<> {
    http::SseStream sse(req.raw(), res.raw(), {.retry = std::chrono::seconds(2)});
    ctx.stats->sse_opened();
    struct Closed {
      Stats* s;
      ~Closed() { s->sse_closed(); }
    } closed{ctx.stats};
    int64_t sent = 0;
    std::string data;
    while (!sse.closing() && !req.cancel_token().cancelled()) {
      const Sample& s = ctx.stats->last();
      if (s.unix_ms != sent) {
        sent = s.unix_ms;
        data.clear();
        web::append_json(s.to_json(), data);
        const std::string id = std::to_string(sent);
        if (sse.send({.data = data, .event = "stats", .id = id})) co_return;
        if (sse.needs_drain()) co_await sse.drain();
      }
      // Samples come once a second: look again a little after the next one is due.
      co_await sse.wait(std::chrono::milliseconds(200));
    }
  });
}

}  // namespace waitless::demo
