// redis_client_bench: what pipelining buys on one RedisClient connection, against a real redis-server
// (run by hand, beside a throwaway server):
//   tests/data/start_redis.sh ./build/redis_client_bench [n]
// Three ways to run n GETs of a 100-byte value: one after the other (a round trip each), all at once with
// when_all (one write, replies matched FIFO), and in batches of 20 (the "20 queries per request" shape).
// Prints commands per second for each and `ratio redis_pipelined_over_sequential`.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "waitless/async/task.hpp"
#include "waitless/async/when_all.hpp"
#include "waitless/data/redis_client.hpp"

using namespace waitless;
using Clock = std::chrono::steady_clock;

namespace {

Task<int> bench(Loop& loop, data::RedisOptions opts, int n) {
  data::RedisClient c(loop, opts);
  if (!(co_await c.set("bench:k", std::string(100, 'v'))).ok()) {
    std::fprintf(stderr, "redis_client_bench: cannot reach redis at %s:%u\n", opts.host.c_str(), opts.port);
    co_return 1;
  }
  auto seconds = [](Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };

  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i)
    if (!(co_await c.command({"GET", "bench:k"})).ok()) co_return 1;
  const double sequential = n / seconds(t0);

  t0 = Clock::now();
  std::vector<Task<Result<data::Reply>>> all;
  for (int i = 0; i < n; ++i) all.push_back(c.exec({"GET", "bench:k"}));
  for (auto& r : co_await when_all(std::move(all)))
    if (!r.ok()) co_return 1;
  const double pipelined = n / seconds(t0);

  t0 = Clock::now();
  for (int i = 0; i < n; i += 20) {
    std::vector<Task<Result<data::Reply>>> batch;
    for (int j = 0; j < 20; ++j) batch.push_back(c.exec({"GET", "bench:k"}));
    (void)co_await when_all(std::move(batch));
  }
  const double batches = n / seconds(t0);

  std::printf(
      "GET x %d on one connection: sequential %.0f/s, when_all of all %.0f/s, when_all of 20 %.0f/s\n", n,
      sequential, pipelined, batches);
  std::printf("figure redis_get_sequential_per_s %.0f\nfigure redis_get_pipelined_per_s %.0f\n", sequential,
              pipelined);
  std::printf("figure redis_get_batch20_per_s %.0f\n", batches);
  std::printf("ratio redis_pipelined_over_sequential %.2f\nratio redis_batch20_over_sequential %.2f\n",
              pipelined / sequential, batches / sequential);
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 20000;
  data::RedisOptions opts;
  if (const char* env = std::getenv("WAITLESS_REDIS")) {
    std::string s(env);
    opts.host = s.substr(0, s.rfind(':'));
    opts.port = static_cast<uint16_t>(std::atoi(s.c_str() + s.rfind(':') + 1));
  }
  Loop loop;
  return run(bench(loop, opts, n), loop);
}
