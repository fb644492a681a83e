// framework_app_bench: the waitless side of bench/web_framework_bench.sh (issue 9's framework benchmark),
// a server wrk drives. The same app as bench/peers/express_app.js and bench/peers/fastify_app.js: 50 GET
// routes (GET /json the 26th, in the middle), an access log (combined format) written to a file, CORS
// with an origin allow-list, and GET /json answering {"message":"Hello, World!"} built as a Json value per
// request. One loop, as `waitless hello --threads 1` it is compared with.
//   ./build/framework_app_bench PORT LOGFILE
// On SIGTERM it stops gracefully and prints the access log's written and dropped line counts to stderr.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "waitless/web/app.hpp"
#include "waitless/web/log_sink.hpp"

using namespace waitless::web;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: framework_app_bench PORT LOGFILE\n");
    return 2;
  }
  std::remove(argv[2]);  // a fresh log per run: the pipelined runs write hundreds of MB
  auto sink = LogSink::open_file(argv[2]);
  if (!sink) {
    std::fprintf(stderr, "framework_app_bench: %s: %s\n", argv[2], sink.error().message().c_str());
    return 1;
  }
  App app;
  app.use(logger({.format = LogFormat::combined, .sink = *sink}));
  app.use(cors({.origins = {"https://app.example.com"}}));
  for (int i = 0; i < 50; ++i) {
    if (i == 25) {
      app.get("/json", [](Request&, Response& res) { res.json(json::object{{"message", "Hello, World!"}}); });
    } else if (i % 2 == 0) {
      app.get("/api/v1/resource" + std::to_string(i) + "/:id", [i](Request& req, Response& res) {
        res.json(json::object{{"resource", i}, {"id", req.param<int64_t>("id")}});
      });
    } else {
      app.get("/api/v1/resource" + std::to_string(i), [i](Request&, Response& res) {
        res.json(json::object{{"resource", i}});
      });
    }
  }
  int rc = app.listen(static_cast<uint16_t>(std::atoi(argv[1])), {.threads = 1});
  (*sink)->flush();
  std::fprintf(stderr, "framework_app_bench: access log lines written %llu, dropped %llu\n",
               static_cast<unsigned long long>((*sink)->written_lines()),
               static_cast<unsigned long long>((*sink)->dropped()));
  return rc;
}
