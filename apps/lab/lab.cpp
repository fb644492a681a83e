// `waitless lab`: sets the machine up (descriptor limit, CPU calibration), runs each section with a
// progress bar, prints the tables and writes the report.
#include "apps/lab/lab.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "apps/lab/cpu_work.hpp"
#include "apps/lab/db_lab.hpp"
#include "apps/lab/report.hpp"
#include "apps/lab/scenarios.hpp"

namespace waitless::lab {

const char* mode_name(ServerMode mode) {
  switch (mode) {
    case ServerMode::threads:
      return "threads";
    case ServerMode::loop:
      return "loop";
    case ServerMode::loop_pool:
      return "loop-pool";
  }
  return "?";
}

const char* mode_title(ServerMode mode) {
  switch (mode) {
    case ServerMode::threads:
      return "thread per connection";
    case ServerMode::loop:
      return "event loop";
    case ServerMode::loop_pool:
      return "event loop + cpu pool";
  }
  return "?";
}

bool parse_mode(const std::string& text, ServerMode& out) {
  for (ServerMode m : {ServerMode::threads, ServerMode::loop, ServerMode::loop_pool}) {
    if (text == mode_name(m)) {
      out = m;
      return true;
    }
  }
  return false;
}

namespace {

// Connections need one descriptor each, in the lab and in the server: raise the soft limit to the hard
// one, and keep some for everything else (listeners, pipes, the database, the loop's own fds).
std::size_t raise_fd_limit(std::vector<std::string>& notes) {
  constexpr rlim_t kReserve = 128;
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024 - kReserve;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  const rlim_t soft = lim.rlim_cur == RLIM_INFINITY ? 1'048'576 : lim.rlim_cur;
  if (soft <= kReserve + 1) {
    notes.push_back("the descriptor limit (" + std::to_string(soft) + ") leaves no room for connections");
    return 1;
  }
  return static_cast<std::size_t>(soft - kReserve);
}

void cap(std::vector<unsigned>& list, std::size_t max, const char* what, std::vector<std::string>& notes) {
  for (auto& v : list) {
    if (v > max) {
      notes.push_back(std::string(what) + " " + std::to_string(v) + " capped to " + std::to_string(max) +
                      ": RLIMIT_NOFILE (raise the hard limit, e.g. `ulimit -Hn`, to go further)");
      v = static_cast<unsigned>(max);
    }
  }
  std::sort(list.begin(), list.end());
  list.erase(std::unique(list.begin(), list.end()), list.end());
}

LabOptions with_defaults(LabOptions o) {
  if (o.concurrency.empty()) {
    o.concurrency =
        o.quick ? std::vector<unsigned>{1, 100, 1000} : std::vector<unsigned>{1, 10, 100, 1000, 10000};
  }
  if (o.idle_connections.empty()) {
    o.idle_connections =
        o.quick ? std::vector<unsigned>{10, 100, 1000} : std::vector<unsigned>{100, 1000, 2500, 5000, 10000};
  }
  if (!(o.seconds_per_point > 0)) o.seconds_per_point = o.quick ? 0.5 : 2.0;
  return o;
}

}  // namespace

int run_lab(const LabOptions& options) {
  LabResults results;
  results.options = with_defaults(options);
  LabOptions& o = results.options;
  results.max_connections = raise_fd_limit(results.notes);
  cap(o.concurrency, results.max_connections, "concurrency", results.notes);
  cap(o.idle_connections, results.max_connections, "idle connections", results.notes);
  results.cores = std::max(1u, std::thread::hardware_concurrency());
  results.rounds_per_ms = calibrate_rounds_per_ms();
  // The limits assume the cores are the lab's; say when they are not.
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    double load = 0;
    if (std::fscanf(f, "%lf", &load) == 1 && load > 0.5 * results.cores) {
      results.notes.push_back(
          fmt::format("load average {:.1f} on {} cores at the start: other processes compete "
                      "for the CPU, so times are longer than on an idle machine",
                      load, results.cores));
    }
    std::fclose(f);
  }

  LabContext ctx;
  ctx.options = o;
  ctx.rounds_per_ms = results.rounds_per_ms;
  ctx.cores = results.cores;
  ctx.max_connections = results.max_connections;
  ctx.loop = &Loop::current();
  std::size_t steps = 0;
  if (o.run_sweep) steps += sweep_steps(ctx);
  if (o.run_memory) steps += memory_steps(ctx);
  if (o.run_scenario) steps += scenario_steps(ctx);
  if (o.run_db) steps += db_steps(ctx);
  Progress progress(steps, isatty(STDERR_FILENO) == 1);
  ctx.progress = &progress;
  for (const auto& n : results.notes) progress.note(n);

  if (o.run_sweep) results.sweep = run_sweep(ctx);
  if (o.run_memory) results.memory = run_memory(ctx);
  if (o.run_scenario) results.scenario = run_seeds_scenario(ctx);
  if (o.run_db) results.db = run_db(ctx);
  progress.finish();

  std::fputs(render_text(results).c_str(), stdout);
  if (auto ec = write_report(results, o.out_dir)) {
    std::fprintf(stderr, "waitless lab: cannot write the report into %s: %s\n", o.out_dir.c_str(),
                 ec.message().c_str());
    return 1;
  }
  std::printf("\nreport: %s/index.html (plots: *.svg, numbers: results.json)\n", o.out_dir.c_str());
  bool failed = false;
  for (const auto& p : results.sweep) failed |= !p.error.empty();
  for (const auto& p : results.memory) failed |= p.server.rss_kib == 0;
  for (const auto& s : results.scenario) failed |= !s.error.empty();
  for (const auto& d : results.db) failed |= !d.error.empty();
  if (failed) std::fprintf(stderr, "waitless lab: some measurements failed (see the tables)\n");
  return failed ? 1 : 0;
}

}  // namespace waitless::lab
