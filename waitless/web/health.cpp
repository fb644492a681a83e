#include "waitless/web/health.hpp"

#include <memory>
#include <utility>

#include "waitless/web/app.hpp"

namespace waitless::web {

Layer healthz() {
  return make_layer(
      [](Request&, Response& res) { res.set_header("Cache-Control", "no-store").send("ok\n"); });
}

Layer readyz(const App& app, std::function<bool()> check) {
  auto fn = std::make_shared<std::function<bool()>>(std::move(check));
  return make_layer([&app, fn](Request&, Response& res) {
    res.set_header("Cache-Control", "no-store");
    if (!app.ready()) {
      res.status(503).set_header("Retry-After", "1").send("shutting down\n");
    } else if (*fn && !(*fn)()) {
      res.status(503).send("not ready\n");
    } else {
      res.send("ready\n");
    }
  });
}

}  // namespace waitless::web
