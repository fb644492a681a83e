#include "apps/lab/load_generator.hpp"

#include <time.h>

#include <algorithm>

#include "apps/lab/mini_http.hpp"
#include "waitless/async/timeout.hpp"
#include "waitless/async/when_all.hpp"
#include "waitless/base/clock.hpp"
#include "waitless/loop/timer.hpp"

namespace waitless::lab {

struct LoadGenerator::Shared {
  std::string request;
  uint64_t per_connection = 0;
  bool timed = false;
  // Timed runs measure a window that opens once every connection has had one answer (or at the warm-up
  // limit): before that, a burst of thousands of first requests (and, for the threads server, thousands of
  // thread starts) would be measured instead of the steady state. No request leaves after the window's
  // end, no response after it counts.
  Duration window{};
  bool window_open = false;
  std::size_t streams = 0, warmed = 0;
  int64_t warmup_deadline_ns = 0;
  int64_t start_ns = 0;
  int64_t deadline_ns = 0;

  void open_window(int64_t t) {
    window_open = true;
    start_ns = t;
    deadline_ns = t + window.count();
  }
  // A connection's first answer (or its failure) arrived at t.
  void warm_up(int64_t t) {
    if (++warmed >= streams && !window_open) open_window(t);
  }
  int64_t last_response_ns = 0;
  uint64_t planned = 0;  // count-based runs: requests in all
  RunResult result;
};

LoadGenerator::LoadGenerator(Loop& loop, std::string host, uint16_t port)
    : loop_(loop), host_(std::move(host)), port_(port) {}

LoadGenerator::~LoadGenerator() { close_all(); }

void LoadGenerator::close_all() { streams_.clear(); }

Task<> LoadGenerator::connect_one(std::unique_ptr<net::TcpStream>& slot) {
  net::ConnectOptions options;
  options.timeout = std::chrono::seconds(10);
  auto address = net::SocketAddress::parse(host_, port_);
  if (!address) {
    ++connect_errors_;
    last_connect_error_ = address.error();
    co_return;
  }
  auto stream = co_await net::TcpStream::connect(loop_, *address, options);
  if (!stream) {
    ++connect_errors_;
    last_connect_error_ = stream.error();
    co_return;
  }
  slot = std::move(*stream);
}

Task<std::size_t> LoadGenerator::connect(std::size_t total, unsigned parallel) {
  parallel = std::max(parallel, 1u);
  while (streams_.size() < total) {
    const std::size_t batch = std::min<std::size_t>(parallel, total - streams_.size());
    std::vector<std::unique_ptr<net::TcpStream>> fresh(batch);
    std::vector<Task<>> connects;
    connects.reserve(batch);
    for (auto& slot : fresh) connects.push_back(connect_one(slot));
    co_await when_all(std::move(connects));
    std::size_t made = 0;
    for (auto& s : fresh) {
      if (!s) continue;
      streams_.push_back(std::move(s));
      ++made;
    }
    if (made == 0) break;  // the server refuses: stop here, the caller reports connect_errors()
  }
  co_return streams_.size();
}

Task<> LoadGenerator::drive(net::TcpStream& stream, Shared& sh) {
  std::string in;
  bool warm = false;
  for (uint64_t sent = 0;; ++sent) {
    if (sh.per_connection && sent >= sh.per_connection) break;
    const int64_t t0 = monotonic_ns();
    if (sh.timed && sh.window_open && t0 >= sh.deadline_ns) break;
    if (!stream.write(std::string_view(sh.request)) && stream.error()) {
      ++sh.result.errors;
      break;
    }
    MessageHead head;
    bool complete = false;
    in.clear();
    for (;;) {
      auto chunk = co_await stream.read();
      if (!chunk || chunk->empty()) break;  // error, cancelled (the run's grace ran out), or EOF
      in += *chunk;
      const HeadParse r = parse_response_head(in, head);
      if (r == HeadParse::bad) break;
      if (r == HeadParse::complete && in.size() >= head.head_bytes + head.content_length) {
        complete = in.size() == head.head_bytes + head.content_length;  // nothing was asked beyond it
        break;
      }
    }
    if (!complete) {
      ++sh.result.errors;
      stream.close();
      break;
    }
    const int64_t t1 = monotonic_ns();
    if (sh.timed && !warm) {
      warm = true;
      sh.warm_up(t1);
    }
    if (sh.timed && !sh.window_open && t1 >= sh.warmup_deadline_ns) sh.open_window(t1);
    if (!sh.timed || (sh.window_open && t1 >= sh.start_ns && t1 <= sh.deadline_ns)) {
      ++sh.result.completed;
      sh.result.latency.record(static_cast<uint64_t>(t1 - t0));
      if (head.status < 200 || head.status > 299) ++sh.result.non_2xx;
      sh.last_response_ns = std::max(sh.last_response_ns, t1);
    }
    if (head.close) {
      stream.close();
      break;
    }
  }
  if (sh.timed && !warm) sh.warm_up(monotonic_ns());  // failed before its first answer: nothing to wait for
}

Task<RunResult> LoadGenerator::run(RunSpec spec) {
  // Connections the server closed (or that failed) in an earlier run are dropped first.
  std::erase_if(streams_, [](const auto& s) { return !s || s->is_closing() || s->error() || s->at_eof(); });
  Shared sh;
  sh.request = make_get_request(host_, spec.target);
  sh.per_connection = spec.requests_per_connection;
  sh.timed = spec.duration > Duration::zero();
  sh.planned = sh.per_connection * streams_.size();
  sh.window = spec.duration;
  sh.streams = streams_.size();
  const int64_t begin_ns = monotonic_ns();
  sh.warmup_deadline_ns = begin_ns + spec.warmup_limit.count();
  sh.start_ns = begin_ns;
  sh.last_response_ns = begin_ns;

  Timer ticker(loop_);
  if (spec.on_progress) {
    (void)ticker.start(
        std::chrono::milliseconds(100),
        [&] {
          double f = 0;
          if (sh.timed && sh.window_open) {
            f = static_cast<double>(monotonic_ns() - sh.start_ns) /
                static_cast<double>(spec.duration.count());
          } else if (sh.planned) {
            f = static_cast<double>(sh.result.completed + sh.result.errors) / static_cast<double>(sh.planned);
          }
          spec.on_progress(std::min(f, 1.0));
        },
        std::chrono::milliseconds(100));
  }
  std::vector<Task<>> drivers;
  drivers.reserve(streams_.size());
  for (auto& s : streams_) drivers.push_back(drive(*s, sh));
  // Unbounded count-based runs get the grace alone as their bound.
  const Duration bound = (sh.timed ? spec.warmup_limit + spec.duration : Duration::zero()) + spec.grace;
  auto all = when_all(std::move(drivers));
  const Result<void> finished = co_await with_timeout(std::move(all), bound);
  ticker.close();
  if (!finished) {
    // Requests still in flight were abandoned (their reads cancelled, counted as errors above).
    std::erase_if(streams_, [](const auto& s) { return s->is_closing(); });
  }
  sh.result.seconds = sh.timed ? (sh.window_open ? static_cast<double>(spec.duration.count()) / 1e9 : 0)
                               : static_cast<double>(sh.last_response_ns - sh.start_ns) / 1e9;
  co_return std::move(sh.result);
}

}  // namespace waitless::lab
