// What /proc/<pid>/status says about a process's memory and threads (Linux).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace waitless::lab {

struct ProcStatus {
  uint64_t rss_kib = 0;  // VmRSS: resident memory (anonymous + file + shared), user space only
  uint64_t hwm_kib = 0;  // VmHWM: peak resident memory
  unsigned threads = 0;  // Threads
};

// Parses the text of a status file; nullopt if VmRSS or Threads is missing.
std::optional<ProcStatus> parse_proc_status(std::string_view text);
// Reads /proc/<pid>/status (pid 0: this process).
std::optional<ProcStatus> read_proc_status(pid_t pid);

// CPU time (user + system, every thread) from the text of /proc/<pid>/stat, in clock ticks; nullopt if
// malformed. The command name (field 2) may hold spaces and parentheses: fields are counted after its
// last ')'.
std::optional<uint64_t> parse_proc_stat_cpu_ticks(std::string_view text);
// The CPU seconds a process has used so far (pid 0: this process).
std::optional<double> read_cpu_seconds(pid_t pid);

}  // namespace waitless::lab
