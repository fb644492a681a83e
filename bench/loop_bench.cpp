// loop_bench: waitless's loop against libuv on the same operations, side by side in one run.
//
//   ./build/loop_bench [ROUNDS=10] [CROSS_ROUNDS=160]   env: ONLY=<metric> (one metric), QUICK=1 (a tenth
//                                                       of the work)
//
// Method (a 2-core machine shared with other work: one timing swings by 2x from run to run):
//   - each metric runs an unmeasured warm-up of each side, then rounds: ROUNDS for the single-threaded
//     metrics, CROSS_ROUNDS for the cross-thread ones (cheap rounds that swing the most); both counts are
//     even. Each round runs both sides back to back, waitless first in odd rounds and libuv first in even
//     ones, so both see the same neighbours;
//   - the cross-thread metrics run one pair of rounds per child process, each with its own warm-up and
//     pools: where the scheduler puts a process's threads sets the level of all its rounds, so one process
//     would draw a single level (see run_in_children);
//   - each run reads wall time and process CPU time (CLOCK_PROCESS_CPUTIME_ID: every thread of the
//     process) per operation. A ratio is taken over a PAIR of rounds (one with each side first: the sum of
//     libuv's times over the sum of waitless's), which cancels what running first or second does (a warm
//     or cold allocator, a pool just woken); the median over the pairs is reported;
//   - the single-threaded metrics run pinned to the first CPU; the pool round trips leave every thread free
//     to use every core, as a server's pool would; the posts from 2 threads pin each posting thread to a
//     core of its own (the loop's thread is free): see there why;
//   - glibc keeps freed memory (M_TRIM_THRESHOLD): see main() why.
// Prints each round and pair, then per metric a `figure` line (medians, ns per operation: CPU and wall time
// of each side; the median wall-time ratio; the quartiles of the CPU-time ratio over the pairs), then,
// higher is better for waitless on every line:
//   ratio speed_vs_libuv_<metric>   libuv CPU time per op / waitless CPU time per op, median over the pairs
// The ratio is on CPU time, not wall time: while other processes load the machine, wall time also counts
// the time the benchmark waited for a core, CPU time only the work done. Unloaded, the two agree (the
// wall-time ratio is in the figure line, for comparison).
#include <malloc.h>
#include <sched.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "waitless/async/pool_run.hpp"
#include "waitless/async/task.hpp"
#include "waitless/loop/loop.hpp"
#include "waitless/loop/thread_pool.hpp"
#include "waitless/loop/timer.hpp"

using namespace waitless;

namespace {

int kTimers = 1'000'000;
int kPosts = 2'000'000;
int kPool = 200'000;
int kIdle = 1'000'000;

// Wall and CPU time of one measured section, per operation.
struct Sample {
  double wall_ns = 0;
  double cpu_ns = 0;
};

int64_t clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Starts both clocks when constructed.
class Stopwatch {
 public:
  Stopwatch() : wall0_(clock_ns(CLOCK_MONOTONIC)), cpu0_(clock_ns(CLOCK_PROCESS_CPUTIME_ID)) {}
  Sample per_op(long ops) const {
    const int64_t cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0_;
    const int64_t wall = clock_ns(CLOCK_MONOTONIC) - wall0_;
    return {static_cast<double>(wall) / ops, static_cast<double>(cpu) / ops};
  }

 private:
  int64_t wall0_, cpu0_;
};

// The CPUs the process may use, as it started.
const cpu_set_t& allowed_cpus() {
  static const cpu_set_t all = [] {
    cpu_set_t s;
    CPU_ZERO(&s);
    sched_getaffinity(0, sizeof s, &s);
    return s;
  }();
  return all;
}

// Pins the calling thread to the n-th allowed CPU (modulo their count).
void pin_to_nth_cpu(int n) {
  const cpu_set_t& all = allowed_cpus();
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &all)) cpus.push_back(c);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpus[static_cast<std::size_t>(n) % cpus.size()], &one);
  sched_setaffinity(0, sizeof one, &one);
}

// ---- timers started and fired -----------------------------------------------------------------------------

Sample wl_timers_fire() {
  Loop loop;
  std::vector<std::unique_ptr<Timer>> timers;
  timers.reserve(kTimers);
  for (int i = 0; i < kTimers; ++i) timers.push_back(std::make_unique<Timer>(loop));
  long fired = 0;
  Stopwatch watch;
  for (int i = 0; i < kTimers; ++i)
    (void)timers[i]->start(std::chrono::milliseconds(i % 16), [&fired] { ++fired; });
  loop.run();
  Sample sample = watch.per_op(kTimers);
  if (fired != kTimers) std::abort();
  return sample;
}

long uv_fired = 0;
Sample uv_timers_fire() {
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::vector<uv_timer_t> timers(kTimers);
  for (auto& t : timers) uv_timer_init(&loop, &t);
  uv_fired = 0;
  Stopwatch watch;
  for (int i = 0; i < kTimers; ++i)
    uv_timer_start(
        &timers[i], [](uv_timer_t*) { ++uv_fired; }, i % 16, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  Sample sample = watch.per_op(kTimers);
  if (uv_fired != kTimers) std::abort();
  for (auto& t : timers) uv_close(reinterpret_cast<uv_handle_t*>(&t), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return sample;
}

// ---- timers started and cancelled -------------------------------------------------------------------------

Sample wl_timers_cancel() {
  Loop loop;
  std::vector<std::unique_ptr<Timer>> timers;
  timers.reserve(kTimers);
  for (int i = 0; i < kTimers; ++i) timers.push_back(std::make_unique<Timer>(loop));
  Stopwatch watch;
  for (int i = 0; i < kTimers; ++i) (void)timers[i]->start(std::chrono::milliseconds(1000 + i % 16), [] {});
  for (int i = 0; i < kTimers; ++i) (void)timers[i]->stop();
  return watch.per_op(kTimers);
}

Sample uv_timers_cancel() {
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::vector<uv_timer_t> timers(kTimers);
  for (auto& t : timers) uv_timer_init(&loop, &t);
  Stopwatch watch;
  for (int i = 0; i < kTimers; ++i)
    uv_timer_start(
        &timers[i], [](uv_timer_t*) {}, 1000 + i % 16, 0);
  for (int i = 0; i < kTimers; ++i) uv_timer_stop(&timers[i]);
  Sample sample = watch.per_op(kTimers);
  for (auto& t : timers) uv_close(reinterpret_cast<uv_handle_t*>(&t), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return sample;
}

// ---- cross-thread posts from 2 threads --------------------------------------------------------------------
// Each posting thread is pinned to a core of its own (the loop's thread is free), so the two really post at
// the same time on both sides. Left free, the scheduler sometimes runs both on one core, where they take
// turns and never contend: a round then costs a third of a contended one, and whether it happens changes
// from round to round (one run's median ratio was 1.6, the next one's 2.1).

Sample wl_posts() {
  Loop loop;
  long received = 0;
  Timer keep(loop);
  (void)keep.start(std::chrono::hours(1), [] {});
  Stopwatch watch;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      pin_to_nth_cpu(t);
      for (int i = 0; i < kPosts / 2; ++i) {
        (void)loop.post([&] {
          if (++received == kPosts) (void)keep.stop();
        });
      }
    });
  }
  loop.run();
  for (auto& th : threads) th.join();
  return watch.per_op(kPosts);
}

// libuv has no work queue for posts: the usual pattern is a mutex-protected queue plus uv_async_send,
// which coalesces wake-ups just as waitless's eventfd does.
// Its parts on cache lines of their own: where they fell on the stack changed from run to run, and so did
// libuv's cost per post (by up to 2x), with how much of its lock's line it shared with the loop's side.
struct UvPost {
  alignas(64) uv_async_t async;
  alignas(64) std::mutex mutex;
  std::vector<std::function<void()>> queue;  // guarded by mutex
  alignas(64) std::vector<std::function<void()>> run;
};
Sample uv_posts() {
  uv_loop_t loop;
  uv_loop_init(&loop);
  UvPost p;
  static long received;
  received = 0;
  p.async.data = &p;
  uv_async_init(&loop, &p.async, [](uv_async_t* a) {
    auto* p = static_cast<UvPost*>(a->data);
    {
      std::lock_guard lock(p->mutex);
      p->run.swap(p->queue);
    }
    for (auto& fn : p->run) fn();
    p->run.clear();
  });
  Stopwatch watch;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      pin_to_nth_cpu(t);
      for (int i = 0; i < kPosts / 2; ++i) {
        {
          std::lock_guard lock(p.mutex);
          p.queue.push_back([&] {
            if (++received == kPosts) uv_close(reinterpret_cast<uv_handle_t*>(&p.async), nullptr);
          });
        }
        uv_async_send(&p.async);
      }
    });
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  for (auto& th : threads) th.join();
  Sample sample = watch.per_op(kPosts);
  uv_loop_close(&loop);
  return sample;
}

// ---- pool round trips of an empty job ---------------------------------------------------------------------
// Both pools have 4 threads, started once per process and kept for every round: libuv's on its first use
// (the warm-up run), waitless's in the first call of bench_pool(). Each request is allocated when it is
// submitted and freed in its completion, as libuv code does for work not known in advance and as waitless
// does inside submit()/run().

// One pool for every round, as libuv keeps one for the process. A pool built per round flattered waitless:
// its new threads were still starting while the burst was queued, so the first jobs found no parked worker
// to wake (bench/README.md, "The loop benchmark", has the figures).
ThreadPool& bench_pool() {
  static ThreadPool pool("bench", 4, 1 << 20);
  return pool;
}

Sample wl_pool() {
  Loop loop;
  ThreadPool& pool = bench_pool();
  long done = 0;
  auto one = [&]() -> Task<> {
    auto r = co_await pool.run([] {});
    if (r.ok()) ++done;
  };
  Stopwatch watch;
  {
    Loop::Scope scope(loop);
    for (int i = 0; i < kPool; ++i) spawn(one());
  }
  loop.run();
  Sample sample = watch.per_op(kPool);
  if (done != kPool) std::abort();
  return sample;
}

// The same round trips through the callback face (no coroutine frame per job), as libuv's are.
Sample wl_pool_cb() {
  Loop loop;
  ThreadPool& pool = bench_pool();
  long done = 0;
  Stopwatch watch;
  for (int i = 0; i < kPool; ++i) {
    (void)pool.submit(
        loop, [] {},
        [&done](Result<void> r, std::exception_ptr) {
          if (r.ok()) ++done;
        });
  }
  loop.run();
  Sample sample = watch.per_op(kPool);
  if (done != kPool) std::abort();
  return sample;
}

Sample uv_pool() {
  uv_loop_t loop;
  uv_loop_init(&loop);
  static long done;
  done = 0;
  Stopwatch watch;
  for (int i = 0; i < kPool; ++i)
    uv_queue_work(
        &loop, new uv_work_t, [](uv_work_t*) {},
        [](uv_work_t* r, int) {
          ++done;
          delete r;
        });
  uv_run(&loop, UV_RUN_DEFAULT);
  Sample sample = watch.per_op(kPool);
  if (done != kPool) std::abort();
  uv_loop_close(&loop);
  return sample;
}

// ---- idle iteration: one active handle, nothing ready -----------------------------------------------------

Sample wl_idle() {
  Loop loop;
  Timer t(loop);
  (void)t.start(std::chrono::hours(1), [] {});
  Stopwatch watch;
  for (int i = 0; i < kIdle; ++i) loop.run_nowait();
  return watch.per_op(kIdle);
}

Sample uv_idle() {
  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_timer_t t;
  uv_timer_init(&loop, &t);
  uv_timer_start(
      &t, [](uv_timer_t*) {}, 3'600'000, 0);
  Stopwatch watch;
  for (int i = 0; i < kIdle; ++i) uv_run(&loop, UV_RUN_NOWAIT);
  Sample sample = watch.per_op(kIdle);
  uv_close(reinterpret_cast<uv_handle_t*>(&t), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return sample;
}

// ---- the method -----------------------------------------------------------------------------------------

struct Metric {
  const char* name;
  bool cross_thread;  // runs threads of its own: measured unpinned, in more (cheaper) rounds
  Sample (*wl)();
  Sample (*uv)();
};

// Pins the calling thread (and the threads it creates from now on) to the first allowed CPU, or frees it
// to use every CPU the process was allowed at start.
void pin_to_first_cpu(bool pin) {
  if (pin) {
    pin_to_nth_cpu(0);
  } else {
    sched_setaffinity(0, sizeof(cpu_set_t), &allowed_cpus());
  }
}

// The q-quantile of v, interpolated between neighbours (q = 0.5: the median).
double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(pos);
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

double median(const std::vector<double>& v) { return quantile(v, 0.5); }

// n rounds (even) of both sides back to back, waitless first in odd rounds and libuv first in even ones.
void run_rounds(const Metric& m, int n, std::vector<Sample>& wl, std::vector<Sample>& uv) {
  for (int r = 1; r <= n; ++r) {
    if (r % 2) {
      wl.push_back(m.wl()), uv.push_back(m.uv());
    } else {
      uv.push_back(m.uv()), wl.push_back(m.wl());
    }
  }
}

// The cross-thread lines run in child processes of kRoundsPerProcess rounds each (one pair), each child with
// a warm-up and pools of its own. Where the scheduler puts a process's threads on the 2 CPUs, and keeps
// them, sets the level of every round of that process (waitless's coroutine pool line against itself, four
// runs in one process each: 180, 221, 408 and 243 ns per op, the two sides of each run within 3 %): one
// process draws one such level, and its median is that draw. A process per pair samples as many levels as
// there are pairs (the coroutine pool line, three runs each way: 1.38-2.43 in one process, 2.69-3.08 with
// a process per pair).
constexpr int kRoundsPerProcess = 2;

void run_in_children(const Metric& m, int n, std::vector<Sample>& wl, std::vector<Sample>& uv) {
  for (int done = 0; done < n; done += kRoundsPerProcess) {
    const int k = std::min(kRoundsPerProcess, n - done);
    int fds[2];
    if (pipe(fds) != 0) std::abort();
    const pid_t pid = fork();
    if (pid < 0) std::abort();
    if (pid == 0) {  // the child: no thread of the parent's is alive here (every line joins its own)
      close(fds[0]);
      (void)m.wl(), (void)m.uv();  // warm-up: start both pools, page in the allocator's arenas
      std::vector<Sample> w, u;
      run_rounds(m, k, w, u);
      for (int i = 0; i < k; ++i) {
        const Sample pair[2] = {w[i], u[i]};
        if (write(fds[1], pair, sizeof pair) != static_cast<ssize_t>(sizeof pair)) _exit(1);
      }
      _exit(0);
    }
    close(fds[1]);
    for (int i = 0; i < k; ++i) {
      Sample pair[2];
      if (read(fds[0], pair, sizeof pair) != static_cast<ssize_t>(sizeof pair)) {
        std::fprintf(stderr, "loop_bench: the child running %s failed\n", m.name);
        std::exit(1);
      }
      wl.push_back(pair[0]), uv.push_back(pair[1]);
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // libuv starts its pool once per process, on the first uv_queue_work, and reads the size then: set it
  // before any libuv call so both pools have 4 threads.
  setenv("UV_THREADPOOL_SIZE", "4", 1);
  // Freed memory stays in the process: otherwise glibc hands the top of the heap back to the kernel after
  // a run that freed a lot (200 000 pool jobs, a million timers) and the next run, whichever side it is,
  // pays for page faults that belong to its predecessor (seen: 5x the CPU time per pool round trip in the
  // round after a libuv run). A server in steady state reuses its memory too.
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  const int rounds = (std::max(argc > 1 ? std::atoi(argv[1]) : 10, 2) + 1) / 2 * 2;  // even: whole pairs
  const int cross_rounds = (std::max(argc > 2 ? std::atoi(argv[2]) : 160, rounds) + 1) / 2 * 2;
  if (const char* q = std::getenv("QUICK"); q && *q == '1') {
    kTimers = kIdle = 100'000, kPosts = 200'000, kPool = 20'000;
  }
  std::vector<Metric> metrics = {
      {"timers_fire", false, wl_timers_fire, uv_timers_fire},
      {"timers_cancel", false, wl_timers_cancel, uv_timers_cancel},
      {"idle_iteration", false, wl_idle, uv_idle},
      {"post_2_threads", true, wl_posts, uv_posts},
      {"pool_round_trip", true, wl_pool, uv_pool},
      {"pool_round_trip_cb", true, wl_pool_cb, uv_pool},
  };
  if (const char* only = std::getenv("ONLY"); only && *only) {
    std::erase_if(metrics, [only](const Metric& m) { return std::string(m.name) != only; });
  }
  struct Summary {
    int rounds;
    double wl_wall, wl_cpu, uv_wall, uv_cpu, wall_ratio, cpu_ratio, cpu_ratio_q1, cpu_ratio_q3;
  };
  std::vector<Summary> summaries;
  for (const Metric& m : metrics) {
    pin_to_first_cpu(!m.cross_thread);
    const int n = m.cross_thread ? cross_rounds : rounds;
    // Each round's samples, waitless's and libuv's, in round order.
    std::vector<Sample> wl_samples, uv_samples;
    if (m.cross_thread) {
      // In kProcesses child processes of n / kProcesses rounds each (see run_in_children).
      run_in_children(m, n, wl_samples, uv_samples);
    } else {
      (void)m.wl(), (void)m.uv();  // warm-up: page in the allocator's arenas
      run_rounds(m, n, wl_samples, uv_samples);
    }
    std::vector<double> wl_wall, wl_cpu, uv_wall, uv_cpu, wall_ratio, cpu_ratio;
    for (int r = 1; r <= n; ++r) {
      const Sample& wl = wl_samples[r - 1];
      const Sample& uv = uv_samples[r - 1];
      wl_wall.push_back(wl.wall_ns), wl_cpu.push_back(wl.cpu_ns);
      uv_wall.push_back(uv.wall_ns), uv_cpu.push_back(uv.cpu_ns);
      std::printf(
          "round %2d %-18s %s first  ns/op cpu: waitless %7.1f libuv %7.1f (%.2fx)   wall: waitless %7.1f "
          "libuv %7.1f (%.2fx)\n",
          r, m.name, r % 2 ? "waitless" : "libuv   ", wl.cpu_ns, uv.cpu_ns, uv.cpu_ns / wl.cpu_ns, wl.wall_ns,
          uv.wall_ns, uv.wall_ns / wl.wall_ns);
      if (r % 2 == 0) {  // a pair: one round with each side first, so the order's effect cancels out
        wall_ratio.push_back((uv_wall[r - 2] + uv_wall[r - 1]) / (wl_wall[r - 2] + wl_wall[r - 1]));
        cpu_ratio.push_back((uv_cpu[r - 2] + uv_cpu[r - 1]) / (wl_cpu[r - 2] + wl_cpu[r - 1]));
        std::printf("pair  %2d %-18s ratio cpu %.2fx wall %.2fx\n", r / 2, m.name, cpu_ratio.back(),
                    wall_ratio.back());
      }
    }
    std::fflush(stdout);
    summaries.push_back({n, median(wl_wall), median(wl_cpu), median(uv_wall), median(uv_cpu),
                         median(wall_ratio), median(cpu_ratio), quantile(cpu_ratio, 0.25),
                         quantile(cpu_ratio, 0.75)});
  }
  pin_to_first_cpu(false);
  std::printf(
      "-- medians, ns per operation (cpu: CLOCK_PROCESS_CPUTIME_ID, all threads); ratios over pairs\n");
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    const Summary& s = summaries[i];
    std::printf(
        "figure loop_%s_ns_per_op rounds %d waitless_cpu %.1f libuv_cpu %.1f waitless_wall %.1f libuv_wall "
        "%.1f wall_ratio %.3f cpu_ratio_q1 %.3f cpu_ratio_q3 %.3f\n",
        metrics[i].name, s.rounds, s.wl_cpu, s.uv_cpu, s.wl_wall, s.uv_wall, s.wall_ratio, s.cpu_ratio_q1,
        s.cpu_ratio_q3);
  }
  std::printf(
      "-- ratio = libuv CPU time per op / waitless CPU time per op, median over the pairs of rounds\n");
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    std::printf("ratio speed_vs_libuv_%s %.3f\n", metrics[i].name, summaries[i].cpu_ratio);
  }
  return 0;
}
