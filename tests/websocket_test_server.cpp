// Test-only WebSocket peer for tests/websocket_e2e.sh (the build's websocket_test_server target; never part
// of `waitless`).
//
// Server mode: websocket_test_server PORT THREADS [--redis HOST:PORT]
//                (prints "listening PORT" once every loop listens, and with --redis once the
//                data::RedisTopics adapter subscribed: "room" is then shared with every process on that
//                Redis)
//   /echo          echoes every message (text stays text, binary stays binary); permessage-deflate offered
//                  is accepted (server_no_context_takeover; threshold 64 bytes)
//   /close?CODE    closes with CODE and reason "bye" right after open
//   /room          subscribes to "room" and sends "welcome"; a message from any member is published to the
//   room (every loop) /idle          idle_timeout 500 ms (pinged, then closed with 1001 when nothing comes
//   back)
// Client mode: websocket_test_server --client URL [--deflate]
//   connects with the waitless client, sends text/binary messages of 0..200 000 bytes, checks each echo,
//   pings, closes with 1000; prints "client ok" (exit 0) or what went wrong (exit 1).
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "waitless/data/redis_topics.hpp"
#include "waitless/http/server.hpp"
#include "waitless/http/websocket.hpp"
#include "waitless/http/websocket_client.hpp"
#include "waitless/http/websocket_topics.hpp"
#include "waitless/loop/signal.hpp"

using namespace waitless;
using namespace std::chrono_literals;

namespace {

// The Redis adapter on a loop of its own (a thread), started before the server announces its port.
class RedisBridge {
 public:
  bool start(const std::string& address) {
    data::RedisOptions o;
    const auto colon = address.rfind(':');
    o.host = address.substr(0, colon);
    o.port = static_cast<uint16_t>(std::atoi(address.c_str() + colon + 1));
    std::promise<std::string> started;
    auto result = started.get_future();
    // The server's main thread takes SIGTERM/SIGINT (its signalfd); this thread must never take them.
    SignalBlockScope block_signals;
    thread_ = std::thread([this, o, &started] {
      Loop loop;
      data::RedisTopics topics(loop, o);
      auto body = [&]() -> Task<> {
        Result<void> r = co_await topics.start();
        if (!r) topics.stop();  // its connections would keep the loop (and this thread) alive
        remote_ = loop.remote();
        stop_ = [&topics] { topics.stop(); };
        started.set_value(r ? "" : r.error().message());
      };
      run(body(), loop);
      loop.run();  // until stop() closes the adapter's connections
    });
    const std::string error = result.get();
    if (!error.empty()) std::fprintf(stderr, "redis topics: %s\n", error.c_str());
    return error.empty();
  }
  ~RedisBridge() {
    if (!thread_.joinable()) return;
    (void)remote_.post([this] {
      if (stop_) stop_();
    });
    thread_.join();
  }

 private:
  std::thread thread_;
  LoopRemote remote_;
  std::function<void()> stop_;
};

int serve(uint16_t port, unsigned threads, const std::string& redis) {
  RedisBridge bridge;
  if (!redis.empty() && !bridge.start(redis)) return 1;
  http::WebSocketOptions options;
  options.handshake.deflate.enabled = true;
  auto echo = std::make_shared<http::WebSocketConfig>();
  echo->options = options;
  echo->handlers.message = [](http::WebSocket& ws, std::string_view m, bool binary) {
    (void)ws.send(m, binary);
  };
  auto closer = std::make_shared<http::WebSocketConfig>();
  closer->options = options;
  closer->handlers.open = [](http::WebSocket& ws) {
    ws.close(static_cast<uint16_t>(std::any_cast<int>(ws.user_data())), "bye");
  };
  auto room = std::make_shared<http::WebSocketConfig>();
  room->options = options;
  room->handlers.open = [](http::WebSocket& ws) {
    ws.subscribe("room");
    (void)ws.send("welcome");  // the client knows it is subscribed
  };
  room->handlers.message = [](http::WebSocket&, std::string_view m, bool binary) {
    (void)http::publish("room", m, binary);
  };
  auto idle = std::make_shared<http::WebSocketConfig>(*echo);
  idle->options.idle_timeout = 500ms;
  static std::atomic<long> quiet_open{0};
  auto quiet = std::make_shared<http::WebSocketConfig>();
  quiet->handlers.open = [](http::WebSocket&) { ++quiet_open; };
  quiet->handlers.close = [](http::WebSocket&, uint16_t, std::string_view) { --quiet_open; };

  http::Server server([=](http::Request& req, http::Response& res) {
    const std::string_view path = req.path();
    if (path == "/echo") {
      (void)http::accept_websocket(req, res, echo);
    } else if (path == "/close") {
      (void)http::accept_websocket(req, res, closer, std::atoi(std::string(req.query()).c_str()));
    } else if (path == "/room") {
      (void)http::accept_websocket(req, res, room);
    } else if (path == "/idle") {
      (void)http::accept_websocket(req, res, idle);
    } else if (path == "/quiet") {
      (void)http::accept_websocket(req, res, quiet);
    } else if (path == "/stats") {
      struct mallinfo2 mi = mallinfo2();
      long pages = 0, resident = 0;
      if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        std::fclose(f);
      }
      char out[128];
      std::snprintf(out, sizeof out, "heap=%zu rss=%ld open=%ld\n", mi.uordblks,
                    resident * sysconf(_SC_PAGESIZE), quiet_open.load());
      (void)res.send(out);
    } else {
      (void)res.send(404, "Not Found\n", "text/plain");
    }
  });
  auto bound = server.listen(port, {.threads = threads});
  if (!bound) {
    std::fprintf(stderr, "listen: %s\n", bound.error().message().c_str());
    return 1;
  }
  std::printf("listening %u\n", static_cast<unsigned>(bound.value()));
  std::fflush(stdout);
  return server.wait();
}

int client(std::string url, bool deflate) {
  Loop loop;
  std::vector<std::pair<std::string, bool>> sent;
  for (std::size_t n : {0u, 1u, 125u, 126u, 1000u, 65535u, 65536u, 200000u}) {
    std::string m;
    for (std::size_t i = 0; i < n; ++i) m.push_back(static_cast<char>('a' + (i * 7 + i / 100) % 26));
    sent.emplace_back(m, false);
    sent.emplace_back(m, true);
  }
  std::size_t got = 0;
  std::string problem;
  bool compressed = false, ponged = false;
  uint16_t close_code = 0;
  auto config = std::make_shared<http::WebSocketConfig>();
  config->options.handshake.deflate.enabled = deflate;
  config->handlers.open = [&](http::WebSocket& ws) {
    compressed = ws.compression();
    (void)ws.ping("are you there");  // its pong comes before the last echo, while the connection is open
    for (auto& [m, binary] : sent) (void)ws.send(m, binary);
  };
  config->handlers.pong = [&](http::WebSocket&, std::string_view p) { ponged = p == "are you there"; };
  config->handlers.message = [&](http::WebSocket& ws, std::string_view m, bool binary) {
    if (got >= sent.size() || m != sent[got].first || binary != sent[got].second) {
      if (problem.empty()) problem = "echo " + std::to_string(got) + " differs";
    }
    if (++got == sent.size()) ws.close(1000, "done");
  };
  config->handlers.close = [&](http::WebSocket&, uint16_t code, std::string_view) { close_code = code; };
  auto task = [&]() -> Task<> {
    auto ws = co_await http::connect_websocket(loop, url, config);
    if (!ws) problem = "connect: " + ws.error().message();
  };
  run(task(), loop);
  loop.run();
  if (problem.empty() && got != sent.size()) problem = "got " + std::to_string(got) + " echoes";
  if (problem.empty() && !ponged) problem = "no pong";
  if (problem.empty() && close_code != 1000) problem = "close code " + std::to_string(close_code);
  if (problem.empty() && compressed != deflate) problem = "permessage-deflate not negotiated as asked";
  if (!problem.empty()) {
    std::printf("client failed: %s\n", problem.c_str());
    return 1;
  }
  std::printf("client ok (%zu messages%s)\n", got, compressed ? ", permessage-deflate" : "");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::string(argv[1]) == "--client") {
    return client(argv[2], argc >= 4 && std::string(argv[3]) == "--deflate");
  }
  if (argc < 2) {
    std::fprintf(
        stderr,
        "usage: websocket_test_server PORT [THREADS [--redis HOST:PORT]] | --client URL [--deflate]\n");
    return 2;
  }
  std::string redis;
  if (argc >= 5 && std::string(argv[3]) == "--redis") redis = argv[4];
  return serve(static_cast<uint16_t>(std::atoi(argv[1])),
               argc >= 3 ? static_cast<unsigned>(std::atoi(argv[2])) : 2, redis);
}
