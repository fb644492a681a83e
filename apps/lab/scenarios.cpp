#include "apps/lab/scenarios.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "apps/lab/cpu_work.hpp"
#include "apps/lab/server_process.hpp"
#include "waitless/async/sleep.hpp"
#include "waitless/async/when_all.hpp"

namespace waitless::lab {
namespace {

constexpr ServerMode kSweepModes[] = {ServerMode::threads, ServerMode::loop, ServerMode::loop_pool};
constexpr ServerMode kMemoryModes[] = {ServerMode::threads, ServerMode::loop};

Duration from_ms(double ms) { return std::chrono::nanoseconds(static_cast<int64_t>(ms * 1e6)); }

LabServerOptions server_options(const LabContext& ctx, ServerMode mode, double io_ms, double cpu_ms) {
  LabServerOptions o;
  o.mode = mode;
  o.io_ms = io_ms;
  o.cpu_ms = cpu_ms;
  o.rounds_per_ms = ctx.rounds_per_ms;
  return o;
}

std::string describe(std::error_code ec) { return ec ? ec.message() : "no error"; }

// Opens connections up to `n` (bounded by the descriptor limit); reports a shortfall as a note.
std::size_t grow(const LabContext& ctx, LoadGenerator& gen, unsigned n) {
  const std::size_t want = std::min<std::size_t>(n, ctx.max_connections);
  const std::size_t open = run(gen.connect(want), *ctx.loop);
  if (open < want) {
    ctx.progress->note("only " + std::to_string(open) + " of " + std::to_string(want) +
                       " connections opened (" + describe(gen.last_connect_error()) + ")");
  }
  return open;
}

}  // namespace

std::size_t sweep_steps(const LabContext& ctx) {
  return std::size(kSweepModes) * ctx.options.concurrency.size();
}
std::size_t memory_steps(const LabContext& ctx) {
  return std::size(kMemoryModes) * ctx.options.idle_connections.size();
}
std::size_t scenario_steps(const LabContext&) { return 5; }

std::vector<SweepPoint> run_sweep(const LabContext& ctx) {
  const LabOptions& o = ctx.options;
  std::vector<SweepPoint> points;
  for (ServerMode mode : kSweepModes) {
    auto server = ServerProcess::start(server_options(ctx, mode, o.io_ms, o.cpu_ms));
    LoadGenerator gen(*ctx.loop, "127.0.0.1", server ? server->port() : 0);
    for (unsigned c : o.concurrency) {
      SweepPoint p;
      p.mode = mode;
      p.requested = c;
      ctx.progress->begin(std::string(mode_title(mode)) + ", " + std::to_string(c) + " connections");
      if (!server) {
        p.error = "server did not start: " + describe(server.error());
      } else {
        p.open = grow(ctx, gen, c);
        RunSpec spec;
        spec.duration = from_ms(o.seconds_per_point * 1000);
        spec.grace = std::chrono::seconds(15);
        spec.on_progress = [&](double f) { ctx.progress->update(f); };
        p.run = run(gen.run(std::move(spec)), *ctx.loop);
        p.server = server->status().value_or(ProcStatus{});
        if (p.open == 0) p.error = "no connection could be opened";
      }
      ctx.progress->end();
      points.push_back(std::move(p));
    }
    gen.close_all();
    if (server) server->stop();
  }
  return points;
}

std::vector<MemoryPoint> run_memory(const LabContext& ctx) {
  const LabOptions& o = ctx.options;
  std::vector<MemoryPoint> points;
  for (ServerMode mode : kMemoryModes) {
    // The workload is the sweep's; each connection sends one request, so every thread has run (and
    // touched its stack) and every loop connection has been served, then stays open and idle.
    auto server = ServerProcess::start(server_options(ctx, mode, o.io_ms, o.cpu_ms));
    LoadGenerator gen(*ctx.loop, "127.0.0.1", server ? server->port() : 0);
    if (server) {
      MemoryPoint base;
      base.mode = mode;
      base.server = server->status().value_or(ProcStatus{});
      points.push_back(base);
    }
    for (unsigned n : o.idle_connections) {
      MemoryPoint p;
      p.mode = mode;
      p.requested = n;
      ctx.progress->begin(std::string(mode_title(mode)) + ", " + std::to_string(n) + " idle connections");
      if (!server) {
        p.error = "server did not start: " + describe(server.error());
      } else {
        p.open = grow(ctx, gen, n);
        RunSpec spec;
        spec.requests_per_connection = 1;
        spec.grace = std::chrono::seconds(30);
        spec.on_progress = [&](double f) { ctx.progress->update(f); };
        const RunResult r = run(gen.run(std::move(spec)), *ctx.loop);
        p.open = gen.open_connections();
        if (r.errors) p.error = std::to_string(r.errors) + " requests failed";
        // Let the server settle (threads back in their recv(), freed memory returned) before reading.
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        p.server = server->status().value_or(ProcStatus{});
      }
      ctx.progress->end();
      points.push_back(std::move(p));
    }
    gen.close_all();
    if (server) server->stop();
  }
  return points;
}

namespace {

// One HTTP row of the scenario: `connections` connections, each sending `per_connection` requests.
ScenarioRow http_row(const LabContext& ctx, ServerMode mode, unsigned connections, unsigned per_connection) {
  const LabOptions& o = ctx.options;
  ScenarioRow row;
  auto server = ServerProcess::start(server_options(ctx, mode, o.scenario_io_ms, o.scenario_cpu_ms));
  if (!server) {
    row.error = "server did not start: " + describe(server.error());
    return row;
  }
  LoadGenerator gen(*ctx.loop, "127.0.0.1", server->port());
  if (grow(ctx, gen, connections) < connections) {
    row.error = "could not open " + std::to_string(connections) + " connections";
    return row;
  }
  RunSpec spec;
  spec.requests_per_connection = per_connection;
  spec.grace = std::chrono::seconds(60);
  spec.on_progress = [&](double f) { ctx.progress->update(f); };
  const auto cpu_before = read_cpu_seconds(server->pid());
  const RunResult r = run(gen.run(std::move(spec)), *ctx.loop);
  const auto cpu_after = read_cpu_seconds(server->pid());
  if (cpu_before && cpu_after) row.server_cpu_s = *cpu_after - *cpu_before;
  row.measured_s = r.seconds;
  row.completed = r.completed;
  row.errors = r.errors;
  if (r.errors || r.non_2xx) row.error = std::to_string(r.errors + r.non_2xx) + " requests failed";
  gen.close_all();
  server->stop();
  return row;
}

// The same requests as tasks on a loop of this process, no sockets (what `waitless showcase` used to show).
struct InProcessTally {
  uint64_t done = 0;
  uint64_t sink = 0;
  double work_cpu_ms = 0;  // the CPU parts as this thread's clock measured them
};

Task<> in_process_request(Duration io, uint64_t rounds, uint64_t seed, InProcessTally& tally) {
  co_await sleep(io);
  const double t0 = thread_cpu_ms();
  tally.sink += mix_rounds(rounds, seed);
  tally.work_cpu_ms += thread_cpu_ms() - t0;
  ++tally.done;
}

Task<> in_process_requests(unsigned n, Duration io, uint64_t rounds, InProcessTally& tally) {
  std::vector<Task<>> requests;
  requests.reserve(n);
  for (unsigned i = 0; i < n; ++i) requests.push_back(in_process_request(io, rounds, i, tally));
  co_await when_all(std::move(requests));  // each starts at once and runs to its first wait
}

}  // namespace

std::vector<ScenarioRow> run_seeds_scenario(const LabContext& ctx) {
  const LabOptions& o = ctx.options;
  const unsigned n = o.scenario_requests;
  const double io = o.scenario_io_ms / 1e3, cpu = o.scenario_cpu_ms / 1e3;
  const double cores = ctx.cores;
  // The waits overlap; what cannot overlap is the CPU: on one loop it serialises on one core, with threads
  // or the pool it spreads over the cores (and never finishes before one request's own io + cpu).
  const double one_core = io + n * cpu;
  const double all_cores = std::max(io + cpu, io + n * cpu / cores);
  std::vector<ScenarioRow> rows;

  auto add = [&](ScenarioRow row, std::string name, std::string how, double limit, std::string why) {
    row.name = std::move(name);
    row.how = std::move(how);
    row.limit_s = limit;
    row.limit_why = std::move(why);
    ctx.progress->end();
    rows.push_back(std::move(row));
  };
  const std::string N = std::to_string(n);

  ctx.progress->begin("seeds' scenario: sequential (" + N + " requests one after another)");
  add(http_row(ctx, ServerMode::threads, 1, n), "sequential", "1 connection, " + N + " requests in turn",
      n * (io + cpu), N + " x (io + cpu)");

  ctx.progress->begin("seeds' scenario: thread per connection");
  add(http_row(ctx, ServerMode::threads, n, 1), "thread per connection",
      N + " connections, 1 request each, " + N + " threads", all_cores,
      "io + " + N + " x cpu / " + std::to_string(ctx.cores) + " cores");

  ctx.progress->begin("seeds' scenario: event loop");
  add(http_row(ctx, ServerMode::loop, n, 1), "event loop", N + " connections, 1 loop, CPU on the loop",
      one_core, "io + " + N + " x cpu (one core)");

  ctx.progress->begin("seeds' scenario: event loop + cpu pool");
  add(http_row(ctx, ServerMode::loop_pool, n, 1), "event loop + cpu pool",
      N + " connections, 1 loop, CPU on pools::cpu()", all_cores,
      "io + " + N + " x cpu / " + std::to_string(ctx.cores) + " cores");

  ctx.progress->begin("seeds' scenario: in-process tasks (no sockets)");
  ScenarioRow tasks;
  InProcessTally tally;
  {
    const uint64_t rounds = rounds_for_ms(o.scenario_cpu_ms, ctx.rounds_per_ms);
    const auto cpu_before = read_cpu_seconds(0);
    const auto t0 = std::chrono::steady_clock::now();
    run(in_process_requests(n, from_ms(o.scenario_io_ms), rounds, tally), *ctx.loop);
    tasks.measured_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    tasks.completed = tally.done;
    const auto cpu_after = read_cpu_seconds(0);
    if (cpu_before && cpu_after) tasks.server_cpu_s = *cpu_after - *cpu_before;
    if (tally.done != n || tally.sink == 0)
      tasks.error = std::to_string(n - tally.done) + " tasks did not finish";
  }
  // Here the CPU parts run on this thread, so their cost is measured, not assumed from the calibration: a
  // core that runs faster now than when the lab calibrated (a busy neighbour gone) would otherwise make the
  // row beat a limit that was never physical. No CPU part starts before its wait ends, and they run one
  // after another on this thread, so the wall time cannot be below io + their sum.
  add(std::move(tasks), "tasks on one loop", N + " coroutines in this process, no sockets",
      io + tally.work_cpu_ms / 1e3, "io + the " + N + " CPU parts as measured (one core)");
  return rows;
}

}  // namespace waitless::lab
