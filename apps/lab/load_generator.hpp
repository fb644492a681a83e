// LoadGenerator: the lab's HTTP client, on a waitless loop. It holds a set of open keep-alive connections
// to one server; a run sends one request at a time on each of them (closed loop: the next request leaves
// when the previous response has arrived, as wrk does) and records every request's latency.
//
// Connections are opened a bounded number at a time (a SYN burst of 10 000 would overflow the listen
// backlog and cost 1 s retransmits), and stay open between runs: the memory sweep grows them step by step.
// A timed run measures a window that opens once every connection has had one answer (a warm-up), so a
// first burst of thousands of requests is not taken for the steady state. A run is bounded: a timed run
// stops sending at the window's end, and every run gives up on what is still
// in flight `grace` after it should have ended (those requests count as errors, their connections close).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "apps/lab/histogram.hpp"
#include "waitless/async/task.hpp"
#include "waitless/net/tcp_stream.hpp"

namespace waitless::lab {

struct RunSpec {
  uint64_t requests_per_connection = 0;  // 0: until `duration` ends
  Duration duration = Duration::zero();  // 0: until every connection sent its requests
  // Timed runs: the window opens once every connection has had its first answer, or after this.
  Duration warmup_limit = std::chrono::seconds(20);
  Duration grace = std::chrono::seconds(30);
  std::string target = "/work";
  // Called about every 100 ms with the fraction done (time or requests).
  std::function<void(double)> on_progress;
};

struct RunResult {
  uint64_t completed = 0;    // responses received (within the window for a timed run)
  uint64_t errors = 0;       // requests with no complete response (reset, closed, bad framing, abandoned)
  uint64_t non_2xx = 0;      // completed responses whose status was not 2xx
  double seconds = 0;        // the window: the duration, or first request to last response
  LatencyHistogram latency;  // nanoseconds, completed requests only
  double throughput() const { return seconds > 0 ? static_cast<double>(completed) / seconds : 0; }
};

class LoadGenerator {
 public:
  LoadGenerator(Loop& loop, std::string host, uint16_t port);
  ~LoadGenerator();
  LoadGenerator(const LoadGenerator&) = delete;
  LoadGenerator& operator=(const LoadGenerator&) = delete;

  // Opens connections until `total` are open (at most `parallel` connects in flight). Returns how many
  // are open; failures are counted in connect_errors().
  Task<std::size_t> connect(std::size_t total, unsigned parallel = 256);
  Task<RunResult> run(RunSpec spec);
  // Closes every connection.
  void close_all();

  std::size_t open_connections() const noexcept { return streams_.size(); }
  uint64_t connect_errors() const noexcept { return connect_errors_; }
  std::error_code last_connect_error() const noexcept { return last_connect_error_; }

 private:
  struct Shared;
  Task<> connect_one(std::unique_ptr<net::TcpStream>& slot);
  Task<> drive(net::TcpStream& stream, Shared& shared);

  Loop& loop_;
  std::string host_;
  uint16_t port_;
  std::vector<std::unique_ptr<net::TcpStream>> streams_;
  uint64_t connect_errors_ = 0;
  std::error_code last_connect_error_;
};

}  // namespace waitless::lab
