// The lab's database section, on SQLite (the embedded default: nothing to install or start): what a
// connection pool saves (open a handle per request vs borrow a cached one with its prepared statements)
// and what batching saves (N+1 queries vs one join). SQLite runs inside the process, so a query costs no
// network round trip here: the N+1 row shows the per-query overhead only, the floor of what it costs
// against a database across a network, where each query adds a round trip.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "apps/lab/histogram.hpp"
#include "apps/lab/scenarios.hpp"

namespace waitless::lab {

struct DbRow {
  std::string name;
  std::string how;
  uint64_t requests = 0;
  uint64_t queries = 0;
  double seconds = 0;
  LatencyHistogram latency;  // per request, ns
  std::string error;
};

std::vector<DbRow> run_db(const LabContext& ctx);
std::size_t db_steps(const LabContext& ctx);

}  // namespace waitless::lab
