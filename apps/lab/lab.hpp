// `waitless lab`: the seeds' claims about blocking threads and event loops, measured on this machine.
// The same I/O-bound workload runs on two servers built into waitless (thread-per-connection with blocking
// sockets, and the event loop, with and without the CPU part on the cpu pool), each in a child process of
// the lab (`waitless lab-server`, hidden) so its memory is its own; the lab drives the load itself from a
// waitless loop and writes a table, SVG plots and an HTML report.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace waitless::lab {

enum class ServerMode { threads, loop, loop_pool };
const char* mode_name(ServerMode mode);   // "threads", "loop", "loop-pool" (the --mode values)
const char* mode_title(ServerMode mode);  // for tables and legends
bool parse_mode(const std::string& text, ServerMode& out);

struct LabOptions {
  std::string out_dir = "lab-results";
  bool quick = false;
  double io_ms = 20;                       // I/O wait per request in the sweeps
  double cpu_ms = 0.1;                     // CPU per request in the sweeps
  std::vector<unsigned> concurrency;       // empty: the default list (quick or full)
  std::vector<unsigned> idle_connections;  // memory sweep; empty: the default list
  double seconds_per_point = 0;            // 0: default (quick 0.5 s, full 2 s)
  // The seeds' scenario: requests x (io + cpu).
  unsigned scenario_requests = 100;
  double scenario_io_ms = 95;
  double scenario_cpu_ms = 5;
  // Sections to run (all by default).
  bool run_sweep = true, run_memory = true, run_scenario = true, run_db = true;
};

struct LabServerOptions {
  ServerMode mode = ServerMode::loop;
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  double io_ms = 0;
  double cpu_ms = 0;
  double rounds_per_ms = 0;  // 0: calibrate here
};

// The lab; returns the process exit status (0: every section ran and wrote its results).
int run_lab(const LabOptions& options);
// The hidden child: serves the workload, prints "port N" on stdout once listening, runs until SIGTERM.
int run_lab_server(const LabServerOptions& options);

}  // namespace waitless::lab
