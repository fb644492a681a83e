// The server tests/middleware_e2e.sh drives: an App on 127.0.0.1:<port> (argv[1]) with each built-in
// middleware, files under <dir> (argv[2]): <dir>/site served at /static (gzip / brotli), <dir>/big.txt
// streamed through gzip by /stream (the seeds' example). JWT secret: argv[3]. Serves until SIGTERM.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "waitless/fs/file_stream.hpp"
#include "waitless/web/app.hpp"

using namespace waitless;
using namespace waitless::web;
using namespace std::chrono_literals;

namespace {

// What /stream has done, for /stream/progress (one loop: plain variables would do, atomics say it).
std::atomic<uint64_t> g_read{0};
std::atomic<int> g_streams_ended{0};
std::atomic<int> g_clients_gone{0};

// The seeds' streaming example: a large file through gzip to the client, one chunk in flight, the next
// read only once the connection has drained; stops when the client goes away.
Task<> stream_file(std::string path, Response& res) {
  auto in = co_await fs::ReadStream::open(path, {.high_water_mark = 64 * 1024});
  if (!in) throw HttpError::from(in.error());
  res.type("text/plain; charset=utf-8");
  bool gone = false;
  for (;;) {
    auto chunk = co_await in->read();
    if (!chunk) throw HttpError::from(chunk.error());
    if (chunk->empty()) break;
    g_read += chunk->size();
    if (res.write(*chunk)) {
      gone = true;
      break;
    }
    if (res.needs_drain() && co_await res.drain()) {
      gone = true;
      break;
    }
  }
  if (gone) {
    ++g_clients_gone;
  } else {
    (void)res.end();
  }
  ++g_streams_ended;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: middleware_test_server PORT DIR JWT_SECRET\n");
    return 2;
  }
  const auto port = static_cast<uint16_t>(std::atoi(argv[1]));
  const std::string dir = argv[2];
  const std::string secret = argv[3];
  App app;
  app.use(errors());
  app.get("/healthz", healthz());
  app.get("/readyz", readyz(app));
  app.use("/static", compression());
  app.use("/static", serve_static(dir + "/site", {.max_age = 3600s}));
  app.use("/api", cors({.origins = {"https://app.example"}, .credentials = true, .max_age = 600s}));
  app.get("/api/data", [](Request&, Response& res) { res.json(json::object{{"ok", true}}); });
  // A frozen clock: the headers' seconds do not depend on how fast the machine runs the test.
  const auto t0 = RateLimitStore::Clock::now();
  app.use("/limited", rate_limit({.limit = 3, .window = 60s, .clock = [t0] { return t0; }}));
  app.get("/limited", [](Request&, Response& res) { res.send("within the limit"); });
  app.use("/jwt", bearer_jwt({.secret = secret, .issuer = "waitless-e2e", .audience = "api"}));
  app.get("/jwt/me", [](Request& req, Response& res) { res.send(identity(req)->subject); });
  app.use("/basic", basic_auth({.verify =
                                    [](std::string_view u, std::string_view p) {
                                      return u == "admin" && constant_time_equal(p, "open sesame");
                                    },
                                .realm = "e2e"}));
  app.get("/basic/me", [](Request& req, Response& res) { res.send(identity(req)->subject); });
  app.get("/timeout", request_timeout(100ms), [](Request&, Response& res) -> Task<> {
    co_await sleep(10s);
    res.send("too late");
  });
  app.get("/stream", compression(),
          [dir](Request&, Response& res) { return stream_file(dir + "/big.txt", res); });
  app.get("/stream/progress", [](Request&, Response& res) {
    res.json(json::object{
        {"read", g_read.load()}, {"ended", g_streams_ended.load()}, {"gone", g_clients_gone.load()}});
  });
  app.post("/stream/reset", [](Request&, Response& res) {
    g_read = 0;
    g_streams_ended = 0;
    g_clients_gone = 0;
    res.status(204);
  });
  return app.listen(port, {.threads = 1});
}
