// hello: the smallest waitless app. A plain route, a coroutine route with a typed parameter, an access
// log, and an onion middleware that times the rest of the chain.
//   PORT=8080 ./hello    then    curl localhost:8080/users/7
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "waitless/web/app.hpp"

using namespace waitless;
using namespace waitless::web;

int main() {
  const char* port = std::getenv("PORT");
  App app;
  app.use(logger());  // one combined-format line per request on standard output
  app.use([](Request&, Response& res, Next next) -> Task<> {  // before and after the rest of the chain
    auto t0 = std::chrono::steady_clock::now();
    co_await next();
    res.server_timing("total", std::chrono::steady_clock::now() - t0);
  });
  // A plain function: no coroutine frame, no allocation per request.
  app.get("/", [](Request&, Response& res) { res.send("Hello, world!\n"); });
  // A coroutine: may wait (here on a timer standing for a database call). "/users/x" answers 400.
  app.get("/users/:id", [](Request& req, Response& res) -> Task<> {
    auto id = req.param<int64_t>("id");
    co_await sleep(std::chrono::milliseconds(1));
    res.json(json::object{{"id", id}, {"name", "user " + std::to_string(id)}});
  });
  // One loop per core on 127.0.0.1; SIGTERM or Ctrl-C shuts down gracefully.
  return app.listen(port ? static_cast<uint16_t>(std::atoi(port)) : 8080);
}
