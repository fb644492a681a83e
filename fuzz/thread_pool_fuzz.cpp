// ThreadPool against a model, under random sequences of submit (co_await run() or submit()), cancel,
// release (let a job's fn return) and loop steps on a small pool. Jobs block on a gate the fuzzer opens,
// so which jobs run and which wait is decided by the input, not by timing: after every operation the
// fuzzer waits (for events, bounded, no sleeps) until the pool reaches the state the model predicts —
// the first `threads` unfinished jobs running in submission order, the others queued (a queued job
// with an idle thread means a lost wake-up: "pool stuck").
//
// Invariants: every job completes exactly once, on the loop, with the model's outcome (its value or its
// exception; Error::cancelled if cancelled while queued; Error::queue_full past threads + max_queue
// outstanding; Error::closed or its value when the pool is destroyed with it queued); metrics count the
// same; the loop ends empty.
//
// Input: byte 0 = pool: bits 0-1 threads (1..3), bits 2-3 max_queue (0..3), bit 4 destroy the pool
// with jobs still queued at the end. Then 2-byte operations: op % 5 (0 co_await run, 1 submit, 2 cancel,
// 3 release, 4 run_nowait), arg (submit: bit 0 fn throws; cancel/release: job index).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "waitless/async/pool_run.hpp"
#include "waitless/async/task.hpp"
#include "waitless/base/cancel.hpp"
#include "waitless/base/error.hpp"
#include "waitless/loop/loop.hpp"
#include "waitless/loop/thread_pool.hpp"

namespace {

using namespace waitless;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "thread_pool_fuzz: invariant broken: %s\n", what.c_str());
  std::abort();
}

enum class Outcome : uint8_t { none, value, threw, cancelled, queue_full, closed, other };
const char* name(Outcome o) {
  static const char* names[] = {"none", "value", "threw", "cancelled", "queue_full", "closed", "other"};
  return names[static_cast<int>(o)];
}

struct Job {
  int id = 0;
  bool awaited = false;  // co_await run() (cancellable) or submit()
  bool throws = false;
  bool accepted = false;
  std::atomic<bool> started{false}, released{false}, returned{false};
  Outcome got = Outcome::none;
  int deliveries = 0;
  int value = -1;
  std::optional<CancelSource> source;
  // Model.
  Outcome want = Outcome::none;
  bool ran = false;  // the model says fn returned
};

int gated(Job* j) {
  j->started.store(true);
  j->started.notify_all();
  j->released.wait(false);
  j->returned.store(true);
  if (j->throws) throw std::runtime_error("job threw");
  return j->id;
}

std::thread::id loop_thread;

void record(Job* j, Outcome o, int value = -1) {
  if (std::this_thread::get_id() != loop_thread) fail("completion delivered off the loop's thread");
  if (++j->deliveries > 1) fail("job " + std::to_string(j->id) + " completed twice");
  j->got = o;
  j->value = value;
}

Outcome outcome_of(std::error_code ec) {
  if (ec == Error::cancelled) return Outcome::cancelled;
  if (ec == Error::queue_full) return Outcome::queue_full;
  if (ec == Error::closed) return Outcome::closed;
  return Outcome::other;
}

Task<> await_job(ThreadPool& pool, Job* j) {
  auto fn = [j] { return gated(j); };
  try {
    Result<int> r = co_await pool.run(std::move(fn));
    if (r) {
      record(j, Outcome::value, *r);
    } else {
      record(j, outcome_of(r.error()));
    }
  } catch (const std::runtime_error&) {
    record(j, Outcome::threw);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::size_t threads = 1 + (data[0] & 3) % 3;
  const std::size_t max_queue = (data[0] >> 2) & 3;
  const bool destroy_with_queue = data[0] & 16;

  loop_thread = std::this_thread::get_id();
  std::deque<Job> jobs;  // outlives the pool: running fns point into it
  Loop loop;
  std::optional<ThreadPool> pool;
  pool.emplace("fz", threads, max_queue);
  std::vector<Job*> alive;  // model: accepted, fn not returned, not cancelled; submission order
  uint64_t accepted = 0, rejected = 0, cancelled = 0, completed = 0;

  // Model fixpoint: the first `threads` alive jobs run; a released one among them returns.
  auto settle_model = [&] {
    for (bool again = true; again;) {
      again = false;
      for (std::size_t i = 0; i < alive.size() && i < threads; ++i) {
        Job* j = alive[i];
        if (j->released.load()) {
          j->ran = true;
          j->want = j->throws ? Outcome::threw : Outcome::value;
          ++completed;
          alive.erase(alive.begin() + static_cast<std::ptrdiff_t>(i));
          again = true;
          break;
        }
      }
    }
  };
  // Waits (bounded) until the pool is where the model says.
  auto sync = [&] {
    settle_model();
    const std::size_t running = std::min(threads, alive.size());
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      ThreadPoolMetrics m = pool->metrics();
      bool ok = m.busy_threads == running && m.queue_depth == alive.size() - running;
      for (std::size_t i = 0; ok && i < running; ++i) ok = alive[i]->started.load();
      for (const Job& j : jobs) ok = ok && (!j.ran || j.returned.load());
      if (ok) {
        if (m.submitted != accepted || m.rejected != rejected || m.cancelled != cancelled ||
            m.completed != completed) {
          fail("metrics differ from the model: submitted " + std::to_string(m.submitted) + "/" +
               std::to_string(accepted) + " rejected " + std::to_string(m.rejected) + "/" +
               std::to_string(rejected) + " cancelled " + std::to_string(m.cancelled) + "/" +
               std::to_string(cancelled) + " completed " + std::to_string(m.completed) + "/" +
               std::to_string(completed));
        }
        for (std::size_t i = running; i < alive.size(); ++i) {
          if (alive[i]->started.load()) fail("a job started while it should wait in the queue");
        }
        return;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        fail("pool stuck: busy " + std::to_string(m.busy_threads) + " (model " + std::to_string(running) +
             "), queued " + std::to_string(m.queue_depth) + " (model " +
             std::to_string(alive.size() - running) + ")");
      }
      std::this_thread::yield();
    }
  };

  std::size_t ops = 0;
  for (std::size_t i = 1; i + 1 < size && ops < 64; i += 2, ++ops) {
    const uint8_t op = data[i] % 5, arg = data[i + 1];
    if (op <= 1) {
      if (jobs.size() >= 32) continue;
      Job& j = jobs.emplace_back();
      j.id = static_cast<int>(jobs.size()) - 1;
      j.awaited = op == 0;
      j.throws = arg & 1;
      const bool room = alive.size() < threads + max_queue;
      Loop::Scope scope(loop);
      if (j.awaited) {
        j.source.emplace();
        spawn(await_job(*pool, &j), j.source->token());
        j.accepted = j.deliveries == 0;  // a refusal completes the await at once
      } else {
        Job* jp = &j;
        std::error_code ec = pool->submit(
            loop, [jp] { return gated(jp); },
            [jp](Result<int> r, std::exception_ptr e) {
              if (e) {
                record(jp, Outcome::threw);
              } else if (r) {
                record(jp, Outcome::value, *r);
              } else {
                record(jp, outcome_of(r.error()));
              }
            });
        if (ec) record(jp, outcome_of(ec));
        j.accepted = !ec;
      }
      if (j.accepted != room)
        fail(room ? "job refused with room in the pool" : "job accepted past the bound");
      if (j.accepted) {
        ++accepted;
        alive.push_back(&j);
      } else {
        ++rejected;
        j.want = Outcome::queue_full;
      }
    } else if (op == 2 || op == 3) {
      if (jobs.empty()) continue;
      Job& j = jobs[arg % jobs.size()];
      if (op == 3) {
        j.released.store(true);
        j.released.notify_all();
      } else if (j.source && !j.source->cancelled()) {
        // Queued (not among the first `threads` alive): leaves the queue, cancelled. Running: delivered.
        auto it = std::find(alive.begin(), alive.end(), &j);
        bool queued = it != alive.end() && static_cast<std::size_t>(it - alive.begin()) >= threads;
        Loop::Scope scope(loop);
        j.source->cancel();
        if (queued) {
          alive.erase(it);
          ++cancelled;
          j.want = Outcome::cancelled;
        }
      }
    } else {
      loop.run_nowait();
    }
    sync();
  }

  // The end: let everything finish (or destroy the pool with jobs queued) and deliver.
  for (Job& j : jobs) {
    j.released.store(true);
    j.released.notify_all();
  }
  if (destroy_with_queue) {
    // Jobs still queued either run (a freed thread took them first) or complete with Error::closed.
    for (std::size_t i = std::min(threads, alive.size()); i < alive.size(); ++i)
      alive[i]->want = Outcome::closed;
    for (std::size_t i = 0; i < std::min(threads, alive.size()); ++i) {
      alive[i]->want = alive[i]->throws ? Outcome::threw : Outcome::value;
    }
    alive.clear();
    pool.reset();
  } else {
    sync();
    if (!alive.empty()) fail("jobs left after releasing every gate");
  }
  loop.run();
  if (!destroy_with_queue) {
    ThreadPoolMetrics m = pool->metrics();
    if (m.busy_threads || m.queue_depth || m.submitted != accepted || m.completed != completed ||
        m.cancelled != cancelled || m.rejected != rejected) {
      fail("final metrics differ from the model");
    }
  }
  for (const Job& j : jobs) {
    if (j.deliveries != 1)
      fail("job " + std::to_string(j.id) + " completed " + std::to_string(j.deliveries) + " times");
    bool ok = j.got == j.want;
    if (!ok && j.want == Outcome::closed) ok = j.got == (j.throws ? Outcome::threw : Outcome::value);
    if (!ok) {
      fail("job " + std::to_string(j.id) + (j.awaited ? " (awaited)" : " (submitted)") + " completed " +
           name(j.got) + ", model " + name(j.want));
    }
    if (j.got == Outcome::value && j.value != j.id) fail("job delivered another job's value");
  }
  if (loop.alive() || loop.handle_count() != 0) fail("loop not empty at the end");
  pool.reset();
  return 0;
}
