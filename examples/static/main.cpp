// static: serves a directory with compression. sendfile for plain answers, ETag / Last-Modified with 304,
// Range, index.html; gzip or brotli as the client's Accept-Encoding prefers (bodies of 1 KB and more).
//   PORT=8080 ./static ./public    then    curl --compressed localhost:8080/
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "waitless/web/app.hpp"

using namespace waitless::web;

int main(int argc, char** argv) {
  const char* port = std::getenv("PORT");
  std::string root = argc > 1 ? argv[1] : "public";
  App app;
  app.use(compression());  // before serve_static: it wraps the body serve_static streams
  app.use(serve_static(root, {.max_age = std::chrono::hours(1)}));
  // serve_static passes on what it does not find: the App answers 404 with a problem document.
  return app.listen(port ? static_cast<uint16_t>(std::atoi(port)) : 8080);
}
