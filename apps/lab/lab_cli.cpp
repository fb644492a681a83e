// Command-line faces of `waitless lab` and of the hidden `waitless lab-server` (CLI11, as every
// subcommand: --help exits 0, an unknown option or a bad value is named on stderr and exits 2).
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "apps/commands.hpp"
#include "apps/lab/lab.hpp"

namespace waitless::apps {

Runner define_lab(CLI::App& cmd) {
  auto o = std::make_shared<lab::LabOptions>();
  auto only = std::make_shared<std::vector<std::string>>();
  cmd.add_flag("--quick", o->quick, "few points, short runs: under a minute");
  cmd.add_option("--out", o->out_dir, "folder for the report")->capture_default_str();
  cmd.add_option("--io-ms", o->io_ms, "I/O wait per request in the sweeps, ms")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 60'000.0));
  cmd.add_option("--cpu-ms", o->cpu_ms, "CPU per request in the sweeps, ms")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 10'000.0));
  cmd.add_option("--concurrency", o->concurrency,
                 "connections per sweep point, e.g. 1,10,100,1000,10000 (default; quick: 1,100,1000)")
      ->delimiter(',')
      ->check(CLI::Range(1u, 1'000'000u));
  cmd.add_option(
         "--connections", o->idle_connections,
         "open idle connections per memory point (default 100,1000,2500,5000,10000; quick: 10,100,1000)")
      ->delimiter(',')
      ->check(CLI::Range(1u, 1'000'000u));
  cmd.add_option("--seconds", o->seconds_per_point, "seconds per sweep point (default 2; quick 0.5)")
      ->check(CLI::Range(0.05, 600.0));
  cmd.add_option("--scenario-requests", o->scenario_requests, "the seeds' scenario: requests")
      ->capture_default_str()
      ->check(CLI::Range(1u, 10'000u));
  cmd.add_option("--scenario-io-ms", o->scenario_io_ms, "the seeds' scenario: I/O wait per request, ms")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 60'000.0));
  cmd.add_option("--scenario-cpu-ms", o->scenario_cpu_ms, "the seeds' scenario: CPU per request, ms")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 10'000.0));
  cmd.add_option("--only", *only, "sections to run (default: all)")
      ->delimiter(',')
      ->check(CLI::IsMember({"sweep", "memory", "scenario", "db"}));
  return [o, only] {
    if (!only->empty()) {
      auto has = [&](const char* s) { return std::find(only->begin(), only->end(), s) != only->end(); };
      o->run_sweep = has("sweep");
      o->run_memory = has("memory");
      o->run_scenario = has("scenario");
      o->run_db = has("db");
    }
    return lab::run_lab(*o);
  };
}

Runner define_lab_server(CLI::App& cmd) {
  auto o = std::make_shared<lab::LabServerOptions>();
  auto mode = std::make_shared<std::string>("loop");
  cmd.group("");  // hidden from `waitless --help`: started by the lab
  cmd.description("One of the lab's servers; prints \"port N\" once listening, serves until SIGTERM.");
  cmd.add_option("--mode", *mode, "threads | loop | loop-pool")
      ->capture_default_str()
      ->check(CLI::IsMember({"threads", "loop", "loop-pool"}));
  cmd.add_option("--host", o->host, "address to bind")->capture_default_str();
  cmd.add_option("--port", o->port, "TCP port (0: any free port)")->check(integer_in(0, 65535));
  cmd.add_option("--io-ms", o->io_ms, "I/O wait per request, ms")->check(CLI::Range(0.0, 60'000.0));
  cmd.add_option("--cpu-ms", o->cpu_ms, "CPU per request, ms")->check(CLI::Range(0.0, 10'000.0));
  cmd.add_option("--rounds-per-ms", o->rounds_per_ms, "CPU calibration (0: calibrate here)")
      ->check(CLI::Range(0.0, 1e12));
  return [o, mode] {
    if (!lab::parse_mode(*mode, o->mode)) return 2;
    return lab::run_lab_server(*o);
  };
}

}  // namespace waitless::apps
