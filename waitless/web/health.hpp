// Liveness and readiness endpoints for orchestrators (Kubernetes probes, load balancers):
//
//   app.get("/healthz", healthz());                 // 200 "ok" while the process answers at all
//   app.get("/readyz", readyz(app));                // 200 "ready"; 503 "shutting down" once a graceful
//                                                   // shutdown started (SIGTERM, app.shutdown())
//   app.get("/readyz", readyz(app, [] { return db_pool_ok(); }));   // plus the app's own check
//
// Readiness turns false at the moment shutdown starts, before the connections drain, so a balancer that
// probes it stops sending new clients while the requests in flight finish. Both are plain handlers (no
// coroutine), answer text/plain with `Cache-Control: no-store`, and HEAD as well as GET.
#pragma once
#include <functional>

#include "waitless/web/chain.hpp"

namespace waitless::web {

class App;

Layer healthz();
// `check` (optional) runs on the loop's thread for each probe: keep it cheap (read a flag).
Layer readyz(const App& app, std::function<bool()> check = {});

}  // namespace waitless::web
