// The lab's output: text tables (printed, and saved as results.txt), SVG plots, results.json (for scripts
// and tests) and index.html, which shows the tables and embeds the plots. Everything goes into one folder.
#pragma once
#include <string>
#include <system_error>
#include <vector>

#include "apps/lab/db_lab.hpp"
#include "apps/lab/scenarios.hpp"

namespace waitless::lab {

struct LabResults {
  LabOptions options;
  double rounds_per_ms = 0;
  unsigned cores = 0;
  std::size_t max_connections = 0;
  std::vector<SweepPoint> sweep;
  std::vector<MemoryPoint> memory;
  std::vector<ScenarioRow> scenario;
  std::vector<DbRow> db;
  std::vector<std::string> notes;  // caps applied, failures: said in the report too
};

std::string render_text(const LabResults& results);
std::string render_json(const LabResults& results);
std::string render_html(const LabResults& results);
// The SVG files: name -> content (only for sections that ran).
std::vector<std::pair<std::string, std::string>> render_plots(const LabResults& results);
// Writes all of the above into `dir` (created if needed).
std::error_code write_report(const LabResults& results, const std::string& dir);

}  // namespace waitless::lab
