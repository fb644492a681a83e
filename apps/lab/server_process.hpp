// ServerProcess: one lab server (`waitless lab-server --mode ...`) running as a child of the lab, so its
// memory and threads can be read from /proc/<pid>/status apart from the lab's own load generator.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>

#include "apps/lab/lab.hpp"
#include "apps/lab/proc_status.hpp"
#include "waitless/base/result.hpp"

namespace waitless::lab {

class ServerProcess {
 public:
  // Spawns this executable as `lab-server` with `options` and waits (at most 10 s) for its "port N" line.
  static Result<ServerProcess> start(const LabServerOptions& options);
  ServerProcess(ServerProcess&& other) noexcept;
  ServerProcess& operator=(ServerProcess&&) = delete;
  ~ServerProcess();

  pid_t pid() const noexcept { return pid_; }
  uint16_t port() const noexcept { return port_; }
  std::optional<ProcStatus> status() const { return read_proc_status(pid_); }
  // SIGTERM, then SIGKILL if it has not exited within `grace_ms`; reaps it. Returns its exit status
  // (128 + signal if killed), -1 if there was no child.
  int stop(int grace_ms = 5000);

 private:
  ServerProcess(pid_t pid, uint16_t port) noexcept : pid_(pid), port_(port) {}
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

}  // namespace waitless::lab
