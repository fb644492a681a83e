// http_client_bench: round trips per second of waitless's HTTP client against waitless's server, both on
// ONE loop in one thread (so each round trip pays for both sides): N sequential GETs over one kept-alive
// connection, then N GETs from C concurrent tasks over C pooled connections.
//
//   ./build/http_client_bench [N=100000] [C=64]
//
// Also reports the allocations the client makes per request after warm-up (global operator new counted,
// the server's included: compare with the server-only figure printed first).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "waitless/async/task.hpp"
#include "waitless/async/when_all.hpp"
#include "waitless/http/client.hpp"
#include "waitless/http/server.hpp"

namespace {
std::atomic<uint64_t> g_allocs{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using namespace waitless;
using Clock = std::chrono::steady_clock;

namespace {

Task<int> sequential(http::Client& client, std::string url, int n) {
  int ok = 0;
  for (int i = 0; i < n; ++i) {
    auto r = co_await client.get(url);
    ok += r.ok() && r->status == 200 && r->body.size() == 13;
  }
  co_return ok;
}

Task<int> concurrent(http::Client& client, std::string url, int n, int c) {
  std::vector<Task<int>> workers;
  for (int i = 0; i < c; ++i) workers.push_back(sequential(client, url, n / c));
  std::vector<int> done = co_await when_all(std::move(workers));
  int ok = 0;
  for (int d : done) ok += d;
  co_return ok;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 100000;
  const int c = argc > 2 ? std::atoi(argv[2]) : 64;
  Loop loop;
  http::Server server([](http::Request&, http::Response& res) {
    (void)res.set_content_type("text/plain");
    (void)res.send("Hello, World!");
  });
  auto port = server.attach(loop, net::ListenOptions{});
  if (!port) {
    std::fprintf(stderr, "listen: %s\n", port.error().message().c_str());
    return 1;
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(*port) + "/plaintext";
  {
    http::Client client(loop, {.max_connections_per_origin = static_cast<std::size_t>(c)});
    (void)run(sequential(client, url, 1000), loop);  // warm-up: connection, buffers, frame pools

    uint64_t a0 = g_allocs.load();
    auto t0 = Clock::now();
    int ok = run(sequential(client, url, n), loop);
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    uint64_t allocs = g_allocs.load() - a0;
    std::printf(
        "sequential, 1 connection: %d/%d ok in %.3f s = %.0f round trips/s, %.2f allocations/request\n", ok,
        n, s, n / s, static_cast<double>(allocs) / n);

    (void)run(concurrent(client, url, c * 10, c), loop);  // warm-up of the other connections
    a0 = g_allocs.load();
    t0 = Clock::now();
    ok = run(concurrent(client, url, n, c), loop);
    s = std::chrono::duration<double>(Clock::now() - t0).count();
    allocs = g_allocs.load() - a0;
    std::printf(
        "%d concurrent, %d connections: %d/%d ok in %.3f s = %.0f round trips/s, %.2f allocations/request\n",
        c, c, ok, n / c * c, s, (n / c * c) / s, static_cast<double>(allocs) / (n / c * c));
    auto m = client.metrics();
    std::printf("client: %llu requests, %llu connections opened, %llu reused\n",
                static_cast<unsigned long long>(m.requests),
                static_cast<unsigned long long>(m.connections_opened),
                static_cast<unsigned long long>(m.connections_reused));
  }
  server.shutdown(std::chrono::milliseconds(100));
  loop.run();
  return 0;
}
