#include "apps/lab/report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>

#include "apps/lab/svg_plot.hpp"

namespace waitless::lab {
namespace {

constexpr ServerMode kModes[] = {ServerMode::threads, ServerMode::loop, ServerMode::loop_pool};

double ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }
double mib(uint64_t kib) { return static_cast<double>(kib) / 1024.0; }

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// A finite number for JSON (which has no NaN).
std::string json_number(double v) { return std::isfinite(v) ? fmt::format("{:.6g}", v) : "null"; }

// The baseline (no connection) RSS of each memory-sweep server.
std::map<ServerMode, uint64_t> memory_baselines(const LabResults& r) {
  std::map<ServerMode, uint64_t> base;
  for (const auto& p : r.memory) {
    if (p.requested == 0 && p.error.empty() && !base.count(p.mode)) base[p.mode] = p.server.rss_kib;
  }
  return base;
}

std::string per_connection_kib(const LabResults& r, const MemoryPoint& p) {
  auto base = memory_baselines(r);
  if (!base.count(p.mode) || p.open == 0 || p.server.rss_kib < base[p.mode]) return "-";
  return fmt::format("{:.1f}",
                     static_cast<double>(p.server.rss_kib - base[p.mode]) / static_cast<double>(p.open));
}

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;

  std::string text() const {
    std::vector<std::size_t> w(header.size(), 0);
    for (std::size_t i = 0; i < header.size(); ++i) w[i] = header[i].size();
    for (const auto& row : rows)
      for (std::size_t i = 0; i < row.size() && i < w.size(); ++i) w[i] = std::max(w[i], row[i].size());
    auto line = [&](const std::vector<std::string>& cells) {
      std::string out;
      for (std::size_t i = 0; i < cells.size() && i < w.size(); ++i) {
        // The first column (a name) is left-aligned, numbers right-aligned.
        out += i == 0 ? fmt::format("{:<{}}", cells[i], w[i]) : fmt::format("  {:>{}}", cells[i], w[i]);
      }
      while (!out.empty() && out.back() == ' ') out.pop_back();
      return out + "\n";
    };
    std::string out = line(header);
    for (const auto& row : rows) out += line(row);
    return out;
  }

  std::string html() const {
    std::string out = "<table>\n<tr>";
    for (const auto& h : header) out += "<th>" + xml_escape(h) + "</th>";
    out += "</tr>\n";
    for (const auto& row : rows) {
      out += "<tr>";
      for (const auto& c : row) out += "<td>" + xml_escape(c) + "</td>";
      out += "</tr>\n";
    }
    return out + "</table>\n";
  }
};

std::string sweep_caption(const LabResults& r) {
  return fmt::format(
      "Throughput and latency vs concurrency: each request waits {} ms (I/O) and computes {} ms "
      "(CPU); keep-alive, one request at a time per connection; {} s measured per point, after every "
      "connection has had one answer; limit = min(connections / (io + cpu), cores / cpu), one core for "
      "the event loop alone",
      short_number(r.options.io_ms), short_number(r.options.cpu_ms),
      short_number(r.options.seconds_per_point));
}

// What `connections` connections allow a server: one request per (io + cpu) each while the waits overlap,
// and at most cores / cpu requests a second (1 / cpu for one loop that computes inline).
double throughput_limit(const LabResults& r, ServerMode mode, std::size_t connections) {
  const double per_request_s = (r.options.io_ms + r.options.cpu_ms) / 1e3;
  double limit = per_request_s > 0 ? static_cast<double>(connections) / per_request_s
                                   : std::numeric_limits<double>::infinity();
  if (r.options.cpu_ms > 0) {
    const double cores = mode == ServerMode::loop ? 1.0 : static_cast<double>(r.cores);
    limit = std::min(limit, cores * 1e3 / r.options.cpu_ms);
  }
  return limit;
}

Table sweep_table(const LabResults& r) {
  Table t{{"server", "connections", "req/s", "limit req/s", "p50 ms", "p99 ms", "max ms", "errors",
           "server threads", "server RSS MiB"},
          {}};
  for (const auto& p : r.sweep) {
    if (!p.error.empty()) {
      t.rows.push_back({mode_title(p.mode), std::to_string(p.requested), "failed: " + p.error});
      continue;
    }
    t.rows.push_back({mode_title(p.mode), std::to_string(p.open), fmt::format("{:.0f}", p.run.throughput()),
                      short_number(throughput_limit(r, p.mode, p.open)),
                      fmt::format("{:.2f}", ms(p.run.latency.percentile(50))),
                      fmt::format("{:.2f}", ms(p.run.latency.percentile(99))),
                      fmt::format("{:.2f}", ms(p.run.latency.max())),
                      std::to_string(p.run.errors + p.run.non_2xx), std::to_string(p.server.threads),
                      fmt::format("{:.1f}", mib(p.server.rss_kib))});
  }
  return t;
}

Table memory_table(const LabResults& r) {
  Table t{{"server", "open connections", "RSS MiB", "threads", "KiB per connection"}, {}};
  for (const auto& p : r.memory) {
    if (!p.error.empty() && p.server.rss_kib == 0) {
      t.rows.push_back({mode_title(p.mode), std::to_string(p.requested), "failed: " + p.error});
      continue;
    }
    t.rows.push_back({mode_title(p.mode), std::to_string(p.open),
                      fmt::format("{:.1f}", mib(p.server.rss_kib)), std::to_string(p.server.threads),
                      per_connection_kib(r, p)});
  }
  return t;
}

std::string scenario_caption(const LabResults& r) {
  return fmt::format("The seeds' scenario: {} requests x ({} ms I/O + {} ms CPU), {} cores",
                     r.options.scenario_requests, short_number(r.options.scenario_io_ms),
                     short_number(r.options.scenario_cpu_ms), r.cores);
}

Table scenario_table(const LabResults& r) {
  Table t{{"how", "measured s", "limit s", "measured / limit", "server CPU s", "limit =", "what ran"}, {}};
  for (const auto& s : r.scenario) {
    if (!s.error.empty() && s.completed == 0) {
      t.rows.push_back(
          {s.name, "failed: " + s.error, fmt::format("{:.3f}", s.limit_s), "", "", s.limit_why, s.how});
      continue;
    }
    t.rows.push_back({s.name, fmt::format("{:.3f}", s.measured_s), fmt::format("{:.3f}", s.limit_s),
                      s.limit_s > 0 ? fmt::format("{:.2f}", s.measured_s / s.limit_s) : "-",
                      fmt::format("{:.2f}", s.server_cpu_s), s.limit_why,
                      s.how + (s.error.empty() ? "" : " (" + s.error + ")")});
  }
  return t;
}

const char* kDbCaption =
    "Database access on SQLite (in-process: no network round trip, so N+1 shows per-query overhead only)";

Table db_table(const LabResults& r) {
  Table t{{"access", "requests", "queries", "req/s", "mean us", "p99 us", "what a request does"}, {}};
  for (const auto& d : r.db) {
    if (!d.error.empty() && d.requests == 0) {
      t.rows.push_back({d.name, "failed: " + d.error});
      continue;
    }
    t.rows.push_back({d.name, std::to_string(d.requests), std::to_string(d.queries),
                      fmt::format("{:.0f}", d.seconds > 0 ? static_cast<double>(d.requests) / d.seconds : 0),
                      fmt::format("{:.1f}", d.latency.mean() / 1e3),
                      fmt::format("{:.1f}", static_cast<double>(d.latency.percentile(99)) / 1e3), d.how});
  }
  return t;
}

}  // namespace

std::string render_text(const LabResults& r) {
  std::string out =
      fmt::format("waitless lab: {} cores, CPU work calibrated at {:.0f} rounds/ms, up to {} connections\n",
                  r.cores, r.rounds_per_ms, r.max_connections);
  for (const auto& n : r.notes) out += "note: " + n + "\n";
  if (!r.sweep.empty()) out += "\n" + sweep_caption(r) + "\n" + sweep_table(r).text();
  if (!r.memory.empty())
    out += "\nMemory vs open idle keep-alive connections (server process RSS)\n" + memory_table(r).text();
  if (!r.scenario.empty()) out += "\n" + scenario_caption(r) + "\n" + scenario_table(r).text();
  if (!r.db.empty()) out += "\n" + std::string(kDbCaption) + "\n" + db_table(r).text();
  return out;
}

std::string render_json(const LabResults& r) {
  std::string out = "{\n";
  out += fmt::format("  \"cores\": {},\n  \"rounds_per_ms\": {},\n  \"max_connections\": {},\n", r.cores,
                     json_number(r.rounds_per_ms), r.max_connections);
  out += "  \"notes\": [";
  for (std::size_t i = 0; i < r.notes.size(); ++i) out += (i ? ", " : "") + json_string(r.notes[i]);
  out += "],\n  \"sweep\": [\n";
  for (std::size_t i = 0; i < r.sweep.size(); ++i) {
    const auto& p = r.sweep[i];
    out += fmt::format(
        "    {{\"mode\": {}, \"connections\": {}, \"open\": {}, \"throughput\": {}, \"p50_ms\": {}, "
        "\"p99_ms\": {}, "
        "\"completed\": {}, \"errors\": {}, \"server_threads\": {}, \"server_rss_kib\": {}, \"error\": "
        "{}}}{}\n",
        json_string(mode_name(p.mode)), p.requested, p.open, json_number(p.run.throughput()),
        json_number(ms(p.run.latency.percentile(50))), json_number(ms(p.run.latency.percentile(99))),
        p.run.completed, p.run.errors + p.run.non_2xx, p.server.threads, p.server.rss_kib,
        json_string(p.error), i + 1 < r.sweep.size() ? "," : "");
  }
  out += "  ],\n  \"memory\": [\n";
  for (std::size_t i = 0; i < r.memory.size(); ++i) {
    const auto& p = r.memory[i];
    out += fmt::format(
        "    {{\"mode\": {}, \"connections\": {}, \"open\": {}, \"rss_kib\": {}, \"threads\": {}, \"error\": "
        "{}}}{}\n",
        json_string(mode_name(p.mode)), p.requested, p.open, p.server.rss_kib, p.server.threads,
        json_string(p.error), i + 1 < r.memory.size() ? "," : "");
  }
  out += "  ],\n  \"scenario\": [\n";
  for (std::size_t i = 0; i < r.scenario.size(); ++i) {
    const auto& s = r.scenario[i];
    out += fmt::format(
        "    {{\"name\": {}, \"measured_s\": {}, \"limit_s\": {}, \"server_cpu_s\": {}, \"completed\": {}, "
        "\"errors\": {}, \"error\": {}}}{}\n",
        json_string(s.name), json_number(s.measured_s), json_number(s.limit_s), json_number(s.server_cpu_s),
        s.completed, s.errors, json_string(s.error), i + 1 < r.scenario.size() ? "," : "");
  }
  out += "  ],\n  \"db\": [\n";
  for (std::size_t i = 0; i < r.db.size(); ++i) {
    const auto& d = r.db[i];
    out += fmt::format(
        "    {{\"name\": {}, \"requests\": {}, \"queries\": {}, \"seconds\": {}, \"mean_us\": {}, "
        "\"p99_us\": {}, "
        "\"error\": {}}}{}\n",
        json_string(d.name), d.requests, d.queries, json_number(d.seconds),
        json_number(d.latency.mean() / 1e3), json_number(static_cast<double>(d.latency.percentile(99)) / 1e3),
        json_string(d.error), i + 1 < r.db.size() ? "," : "");
  }
  out += "  ]\n}\n";
  return out;
}

std::vector<std::pair<std::string, std::string>> render_plots(const LabResults& r) {
  std::vector<std::pair<std::string, std::string>> plots;
  if (!r.sweep.empty()) {
    // Log scales on both axes: from one connection to thousands, throughput spans decades.
    LinePlot tput{"Throughput vs concurrency",
                  "connections (log scale)",
                  "requests per second (log scale)",
                  true,
                  true,
                  {}};
    LinePlot p99{"p99 latency vs concurrency",
                 "connections (log scale)",
                 "p99 latency, ms (log scale)",
                 true,
                 true,
                 {}};
    for (ServerMode m : kModes) {
      PlotSeries a{mode_title(m), {}}, b{mode_title(m), {}};
      for (const auto& p : r.sweep) {
        if (p.mode != m || !p.error.empty() || p.run.completed == 0) continue;
        a.points.emplace_back(static_cast<double>(p.open), p.run.throughput());
        b.points.emplace_back(static_cast<double>(p.open), ms(p.run.latency.percentile(99)));
      }
      if (!a.points.empty()) {
        tput.series.push_back(std::move(a));
        p99.series.push_back(std::move(b));
      }
    }
    // The limit: each connection completes one request per (io + cpu) while the waits overlap, and no
    // server computes more than cores / cpu requests a second (one loop alone: 1 / cpu).
    const double per_request_s = (r.options.io_ms + r.options.cpu_ms) / 1e3;
    if (per_request_s > 0) {
      const double cpu_cap =
          r.options.cpu_ms > 0 ? r.cores * 1e3 / r.options.cpu_ms : std::numeric_limits<double>::infinity();
      PlotSeries limit{"limit (all cores)", {}, true};
      for (unsigned c : r.options.concurrency)
        limit.points.emplace_back(c, std::min(c / per_request_s, cpu_cap));
      tput.series.push_back(std::move(limit));
    }
    plots.emplace_back("throughput.svg", render_svg(tput));
    plots.emplace_back("latency_p99.svg", render_svg(p99));
  }
  if (!r.memory.empty()) {
    LinePlot mem{"Server memory vs open idle connections",
                 "open keep-alive connections",
                 "server RSS, MiB",
                 false,
                 false,
                 {}};
    LinePlot threads{"Server threads vs open idle connections",
                     "open keep-alive connections",
                     "threads",
                     false,
                     false,
                     {}};
    for (ServerMode m : kModes) {
      PlotSeries a{mode_title(m), {}}, b{mode_title(m), {}};
      for (const auto& p : r.memory) {
        if (p.mode != m || p.server.rss_kib == 0) continue;
        a.points.emplace_back(static_cast<double>(p.open), mib(p.server.rss_kib));
        b.points.emplace_back(static_cast<double>(p.open), static_cast<double>(p.server.threads));
      }
      if (!a.points.empty()) {
        mem.series.push_back(std::move(a));
        threads.series.push_back(std::move(b));
      }
    }
    plots.emplace_back("memory.svg", render_svg(mem));
    plots.emplace_back("threads.svg", render_svg(threads));
  }
  if (!r.scenario.empty()) {
    BarChart c;
    c.title = fmt::format("{} requests x ({} ms I/O + {} ms CPU): measured vs physical limit",
                          r.options.scenario_requests, short_number(r.options.scenario_io_ms),
                          short_number(r.options.scenario_cpu_ms));
    c.y_label = "seconds (log scale)";
    c.log_y = true;
    c.series_names = {"measured", "physical limit"};
    c.series_colors = {"", "#9e9e9e"};
    for (const auto& s : r.scenario) {
      c.groups.push_back({s.name, {s.completed ? s.measured_s : NAN, s.limit_s}});
    }
    plots.emplace_back("scenario.svg", render_svg(c));
  }
  if (!r.db.empty()) {
    BarChart c;
    c.title = "SQLite: time per request";
    c.y_label = "microseconds (log scale)";
    c.log_y = true;
    c.series_names = {"mean", "p99"};
    for (const auto& d : r.db) {
      c.groups.push_back({d.name,
                          {d.requests ? d.latency.mean() / 1e3 : NAN,
                           d.requests ? static_cast<double>(d.latency.percentile(99)) / 1e3 : NAN}});
    }
    plots.emplace_back("database.svg", render_svg(c));
  }
  return plots;
}

std::string render_html(const LabResults& r) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>waitless "
      "lab</title>\n<style>\n"
      "body{font-family:sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}\n"
      "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px "
      "8px;text-align:right}\n"
      "td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}img{max-width:100%;display:block}"
      "\n"
      ".note{color:#a40}\n</style>\n</head>\n<body>\n<h1>waitless lab</h1>\n";
  out += fmt::format("<p>{} cores; CPU work calibrated at {:.0f} rounds/ms; up to {} connections.</p>\n",
                     r.cores, r.rounds_per_ms, r.max_connections);
  for (const auto& n : r.notes) out += "<p class=\"note\">" + xml_escape(n) + "</p>\n";
  if (!r.sweep.empty()) {
    out += "<h2>Throughput and latency vs concurrency</h2>\n<p>" + xml_escape(sweep_caption(r)) + ".</p>\n";
    out += "<img src=\"throughput.svg\" alt=\"throughput vs concurrency\">\n";
    out += "<img src=\"latency_p99.svg\" alt=\"p99 latency vs concurrency\">\n" + sweep_table(r).html();
  }
  if (!r.memory.empty()) {
    out +=
        "<h2>Memory vs open connections</h2>\n<p>Idle keep-alive connections held open by the lab's client, "
        "each after one request; resident memory of the server process (VmRSS in /proc/&lt;pid&gt;/status: "
        "user space only; each thread also holds a kernel stack, 16 KiB on x86-64, not counted).</p>\n";
    out += "<img src=\"memory.svg\" alt=\"memory vs connections\">\n";
    out += "<img src=\"threads.svg\" alt=\"threads vs connections\">\n" + memory_table(r).html();
  }
  if (!r.scenario.empty()) {
    out += "<h2>The seeds' scenario</h2>\n<p>" + xml_escape(scenario_caption(r)) +
           ". The physical limit is what the parameters allow: the waits overlap, the CPU parts cannot (one "
           "core for one loop, all cores for threads or the cpu pool). The server's CPU time beside the wall "
           "time shows when a server could not get its cores (a busy machine).</p>\n";
    out += "<img src=\"scenario.svg\" alt=\"scenario: measured vs limit\">\n" + scenario_table(r).html();
  }
  if (!r.db.empty()) {
    out += "<h2>Database access</h2>\n<p>" + xml_escape(kDbCaption) + ".</p>\n";
    out += "<img src=\"database.svg\" alt=\"database access\">\n" + db_table(r).html();
  }
  out +=
      "<p>Raw numbers: <a href=\"results.json\">results.json</a>, <a "
      "href=\"results.txt\">results.txt</a>.</p>\n";
  out += "</body>\n</html>\n";
  return out;
}

std::error_code write_report(const LabResults& r, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return ec;
  std::vector<std::pair<std::string, std::string>> files = render_plots(r);
  files.emplace_back("results.txt", render_text(r));
  files.emplace_back("results.json", render_json(r));
  files.emplace_back("index.html", render_html(r));
  for (const auto& [name, content] : files) {
    std::ofstream f(std::filesystem::path(dir) / name, std::ios::binary | std::ios::trunc);
    f << content;
    f.close();
    if (!f) return std::make_error_code(std::errc::io_error);
  }
  return {};
}

}  // namespace waitless::lab
