#include "apps/lab/proc_status.hpp"

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

namespace waitless::lab {
namespace {

// The number after "Name:" on its line ("VmRSS:\t  1234 kB" -> 1234).
std::optional<uint64_t> field(std::string_view text, std::string_view name) {
  std::size_t at = 0;
  while (at < text.size()) {
    const auto eol = text.find('\n', at);
    std::string_view line =
        text.substr(at, eol == std::string_view::npos ? std::string_view::npos : eol - at);
    if (line.size() > name.size() && line.substr(0, name.size()) == name && line[name.size()] == ':') {
      line.remove_prefix(name.size() + 1);
      while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
      uint64_t v = 0;
      auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), v);
      if (ec != std::errc() || p == line.data()) return std::nullopt;
      return v;
    }
    if (eol == std::string_view::npos) break;
    at = eol + 1;
  }
  return std::nullopt;
}

}  // namespace

std::optional<ProcStatus> parse_proc_status(std::string_view text) {
  auto rss = field(text, "VmRSS");
  auto threads = field(text, "Threads");
  if (!rss || !threads) return std::nullopt;
  ProcStatus s;
  s.rss_kib = *rss;
  s.hwm_kib = field(text, "VmHWM").value_or(*rss);
  s.threads = static_cast<unsigned>(*threads);
  return s;
}

std::optional<uint64_t> parse_proc_stat_cpu_ticks(std::string_view text) {
  const auto paren = text.rfind(')');
  if (paren == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(paren + 1);
  // After the name: state is field 3, utime field 14, stime field 15.
  uint64_t utime = 0, stime = 0;
  for (int field = 3; field <= 15; ++field) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    const auto end = rest.find(' ');
    const std::string_view word = rest.substr(0, end);
    if (word.empty()) return std::nullopt;
    if (field == 14 || field == 15) {
      uint64_t v = 0;
      auto [p, ec] = std::from_chars(word.data(), word.data() + word.size(), v);
      if (ec != std::errc() || p != word.data() + word.size()) return std::nullopt;
      (field == 14 ? utime : stime) = v;
    }
    if (end == std::string_view::npos) {
      if (field != 15) return std::nullopt;
      break;
    }
    rest.remove_prefix(end);
  }
  return utime + stime;
}

std::optional<double> read_cpu_seconds(pid_t pid) {
  const std::string path = pid == 0 ? "/proc/self/stat" : "/proc/" + std::to_string(pid) + "/stat";
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  auto ticks = parse_proc_stat_cpu_ticks(ss.str());
  const long hz = sysconf(_SC_CLK_TCK);
  if (!ticks || hz <= 0) return std::nullopt;
  return static_cast<double>(*ticks) / static_cast<double>(hz);
}

std::optional<ProcStatus> read_proc_status(pid_t pid) {
  const std::string path = pid == 0 ? "/proc/self/status" : "/proc/" + std::to_string(pid) + "/status";
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_proc_status(ss.str());
}

}  // namespace waitless::lab
