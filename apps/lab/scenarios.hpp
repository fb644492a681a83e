// The lab's measurements, each against servers in child processes (apps/lab/server_process) driven by the
// lab's load generator on the lab's own loop:
//   - sweep: throughput and latency vs concurrency, per server mode;
//   - memory: server RSS and threads vs open idle keep-alive connections;
//   - seeds' scenario: N requests x (I/O + CPU), sequential / threads / loop / loop + cpu pool / in-process
//     tasks, each beside the physical limit computed from its parameters.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "apps/lab/lab.hpp"
#include "apps/lab/load_generator.hpp"
#include "apps/lab/proc_status.hpp"
#include "apps/lab/progress.hpp"

namespace waitless::lab {

// What every section needs.
struct LabContext {
  LabOptions options;  // with defaults filled in
  double rounds_per_ms = 0;
  unsigned cores = 1;
  std::size_t max_connections = 0;  // from RLIMIT_NOFILE
  Loop* loop = nullptr;
  Progress* progress = nullptr;
};

struct SweepPoint {
  ServerMode mode;
  unsigned requested = 0;  // connections asked for
  std::size_t open = 0;    // connections that were open for the run
  RunResult run;
  ProcStatus server;  // right after the run
  std::string error;  // non-empty: this point could not be measured
};

struct MemoryPoint {
  ServerMode mode;
  unsigned requested = 0;
  std::size_t open = 0;
  ProcStatus server;
  std::string error;
};

struct ScenarioRow {
  std::string name;
  std::string how;  // what ran, in a few words
  double measured_s = 0;
  double limit_s = 0;
  std::string limit_why;  // how the limit is computed
  uint64_t completed = 0;
  uint64_t errors = 0;
  // CPU the server used during the run (the lab process for in-process tasks): next to the wall time,
  // it tells a slow server from one that could not get a core on a busy machine.
  double server_cpu_s = 0;
  std::string error;
};

std::vector<SweepPoint> run_sweep(const LabContext& ctx);
std::vector<MemoryPoint> run_memory(const LabContext& ctx);
std::vector<ScenarioRow> run_seeds_scenario(const LabContext& ctx);

// Steps each section reports to the progress bar (for its total).
std::size_t sweep_steps(const LabContext& ctx);
std::size_t memory_steps(const LabContext& ctx);
std::size_t scenario_steps(const LabContext& ctx);

}  // namespace waitless::lab
