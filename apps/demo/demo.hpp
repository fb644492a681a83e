// `waitless demo`: the showcase application (apps/demo/README section in the repository's README).
#pragma once
#include <cstdint>
#include <string>

namespace waitless::demo {

struct DemoOptions {
  int port = 8080;
  std::string bind = "127.0.0.1";
  std::string db;                // empty: SQLite under var_dir; postgres://... for PostgreSQL
  std::string var_dir = "var";   // where the SQLite file lives
  std::string public_dir;        // the page's files; empty: apps/demo/public of the source tree
  int service_timeout_ms = 300;  // the gateway's per-call budget
};

// Serves until SIGINT / SIGTERM (graceful). Returns the exit status.
int run_demo(const DemoOptions& options);

}  // namespace waitless::demo
