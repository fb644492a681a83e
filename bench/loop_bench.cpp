// loop_bench: waitless's loop against libuv on the same operations, side by side in one run.
//
//   ./build/loop_bench [ROUNDS=5]      env: ONLY=<metric> (one metric), QUICK=1 (a tenth of the work)
//
// Method (on a 2-core machine shared with other work, one timing swings by 2x from run to run):
//   - each metric runs ROUNDS rounds (at least 5) after one unmeasured warm-up of each side; each round
//     runs both sides, waitless first in odd rounds and libuv first in even ones;
//   - each run reads wall time and process CPU time (CLOCK_PROCESS_CPUTIME_ID: every thread of the
//     process) per operation; ratios are taken within a round, and the median over the rounds is reported;
//   - the single-threaded metrics run pinned to CPU 0; the cross-thread ones (posts from 2 threads, pool
//     round trips) leave their threads free to use every core, as a server's pool would.
// Prints each round, the medians as `figure` lines, then, higher is better for waitless on each line:
//   ratio speed_vs_libuv_<metric>       libuv wall time per op / waitless wall time per op
//   ratio cpu_saving_vs_libuv_<metric>  libuv CPU time per op / waitless CPU time per op
// While other processes load the machine, wall time counts the time the benchmark waited for a core and
// CPU time does not: the CPU ratio is then the steadier of the two.
#include <sched.h>
#include <time.h>
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

Sample wl_posts() {
  Loop loop;
  long received = 0;
  Timer keep(loop);
  (void)keep.start(std::chrono::hours(1), [] {});
  Stopwatch watch;
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
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
struct UvPost {
  uv_async_t async;
  std::mutex mutex;
  std::vector<std::function<void()>> queue, run;
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
    threads.emplace_back([&] {
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
// Both pools have 4 threads. The pools are built before the clock starts (libuv's on its first use, in the
// warm-up run); each request is allocated when it is submitted and freed in its completion, as libuv code
// does for work not known in advance and as waitless does inside submit()/run().

Sample wl_pool() {
  Loop loop;
  ThreadPool pool("bench", 4, 1 << 20);
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
  ThreadPool pool("bench", 4, 1 << 20);
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

// ---- the method
// ---------------------------------------------------------------------------------------------

struct Metric {
  const char* name;
  bool cross_thread;  // runs threads of its own: measured unpinned
  Sample (*wl)();
  Sample (*uv)();
};

// Pins the calling thread (and the threads it creates from now on) to CPU 0, or frees it to use every CPU
// the process was allowed at start.
void pin_to_cpu0(bool pin) {
  static cpu_set_t all = [] {
    cpu_set_t s;
    sched_getaffinity(0, sizeof s, &s);
    return s;
  }();
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  sched_setaffinity(0, sizeof(cpu_set_t), pin ? &one : &all);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  // libuv starts its pool once per process, on the first uv_queue_work, and reads the size then: set it
  // before any libuv call so both pools have 4 threads.
  setenv("UV_THREADPOOL_SIZE", "4", 1);
  const int rounds = std::max(argc > 1 ? std::atoi(argv[1]) : 5, 1);
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
    double wl_wall, wl_cpu, uv_wall, uv_cpu, speed, cpu_saving;
  };
  std::vector<Summary> summaries;
  for (const Metric& m : metrics) {
    pin_to_cpu0(!m.cross_thread);
    (void)m.wl(), (void)m.uv();  // warm-up: page in the allocator's arenas, start libuv's pool
    std::vector<double> wl_wall, wl_cpu, uv_wall, uv_cpu, speed, cpu_saving;
    for (int r = 1; r <= rounds; ++r) {
      Sample wl, uv;
      if (r % 2) {
        wl = m.wl(), uv = m.uv();
      } else {
        uv = m.uv(), wl = m.wl();
      }
      wl_wall.push_back(wl.wall_ns), wl_cpu.push_back(wl.cpu_ns);
      uv_wall.push_back(uv.wall_ns), uv_cpu.push_back(uv.cpu_ns);
      speed.push_back(uv.wall_ns / wl.wall_ns);
      cpu_saving.push_back(uv.cpu_ns / wl.cpu_ns);
      std::printf(
          "round %d %-18s %s first  ns/op wall: waitless %7.1f libuv %7.1f (%.2fx)   cpu: waitless %7.1f "
          "libuv %7.1f (%.2fx)\n",
          r, m.name, r % 2 ? "waitless" : "libuv   ", wl.wall_ns, uv.wall_ns, speed.back(), wl.cpu_ns,
          uv.cpu_ns, cpu_saving.back());
      std::fflush(stdout);
    }
    summaries.push_back({median(wl_wall), median(wl_cpu), median(uv_wall), median(uv_cpu), median(speed),
                         median(cpu_saving)});
  }
  pin_to_cpu0(false);
  std::printf("-- medians over %d rounds, ns per operation\n", rounds);
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    const Summary& s = summaries[i];
    std::printf(
        "figure loop_%s_ns_per_op waitless_wall %.1f waitless_cpu %.1f libuv_wall %.1f libuv_cpu %.1f\n",
        metrics[i].name, s.wl_wall, s.wl_cpu, s.uv_wall, s.uv_cpu);
  }
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    std::printf("ratio speed_vs_libuv_%s %.3f\n", metrics[i].name, summaries[i].speed);
    std::printf("ratio cpu_saving_vs_libuv_%s %.3f\n", metrics[i].name, summaries[i].cpu_saving);
  }
  return 0;
}
