// Signal: Node's process.on('SIGTERM', ...) as a loop handle. Signals are read from a signalfd on the loop,
// so the callback runs as an ordinary loop callback (any code is safe in it, unlike a signal handler).
//
//   Signal sig(loop);
//   sig.start(SIGTERM, [&](int) { server.shutdown(); });
//   auto h = on_signal(loop, SIGINT, [&](int) { loop.stop(); });   // Result<std::unique_ptr<Signal>>
//
// Delivery: every started Signal handle for the signal gets the callback, on every loop that watches it
// (one loop reads the signal from its signalfd and posts it to the other loops watching it). Standard
// signals that arrive while one is still unread are merged into one delivery, as the kernel merges them.
// Callbacks run in registration order; a handle started while a signal is being delivered waits for the
// next one.
//
// The signal mask (read this before using signals in a program with threads):
//   A signalfd only sees a signal that is blocked; otherwise the kernel delivers it the old way (for
//   SIGTERM: the default action kills the process). So while any handle on a thread watches a signal, that
//   thread blocks it with pthread_sigmask, and unblocks it when the last one stops (unless it was blocked
//   before). The mask is per thread: a process-directed signal (kill, Ctrl-C, systemd's SIGTERM) goes to
//   any thread that does not block it. Every OTHER thread of the program must block the signal too:
//     - threads created after the mask change inherit it: start the loop's handles (or block the signals
//       with pthread_sigmask, or use SignalBlockScope) in main() before creating threads;
//     - threads that already exist keep their own mask, and a signal delivered to one of them bypasses
//       the loop.
//   Thread pools should create their workers inside a SignalBlockScope so they never take a signal.
//   When the last handle on a thread stops, an instance of the signal still pending (arrived, not yet
//   read) is discarded rather than delivered with its default action.
//   Children spawned by waitless::Process start with an empty mask and default dispositions.
//
// Handles are used on their loop's thread. SIGKILL and SIGSTOP cannot be watched (Error::invalid_argument),
// nor can the signals glibc reserves for itself. Watching a synchronous fault (SIGSEGV from a bad access)
// does not catch the fault: the kernel kills the process when it cannot deliver it.
#pragma once
#include <csignal>
#include <functional>
#include <memory>
#include <system_error>

#include "waitless/base/intrusive_list.hpp"
#include "waitless/base/result.hpp"
#include "waitless/loop/loop.hpp"

namespace waitless {

namespace detail {
class LoopSignals;
struct SignalListTag;
}  // namespace detail

class Signal final : public Handle, public ListHook<detail::SignalListTag> {
 public:
  using Callback = std::function<void(int signo)>;

  explicit Signal(Loop& loop = Loop::current()) noexcept : Handle(loop) {}
  ~Signal() override;

  // Watches `signo`. On a started handle: a new callback for the same signal, or a switch to another
  // signal. Errors: Error::invalid_argument (signal that cannot be watched, empty callback), Error::closed
  // (handle closing), errno from signalfd (EMFILE...).
  std::error_code start(int signo, Callback cb);
  // Stops watching; Error::not_started (a harmless no-op) if it was not watching.
  std::error_code stop() noexcept;
  // The watched signal, or 0.
  int signo() const noexcept { return signo_; }

 private:
  friend class detail::LoopSignals;
  void on_stop() noexcept override { (void)stop(); }

  detail::LoopSignals* set_ = nullptr;  // the loop's signalfd while started
  int signo_ = 0;
  uint64_t round_ = 0;  // the delivery round in which this handle was last called (or started)
  Callback cb_;
};

// A started Signal handle on the heap, for code that keeps it (or just lets it live with the app).
Result<std::unique_ptr<Signal>> on_signal(Loop& loop, int signo, Signal::Callback cb);

// Sets SIGPIPE to SIG_IGN, once per process, unless the application installed its own handler: a write to
// a closed pipe or socket then fails with EPIPE (an error value) instead of killing the process. Called by
// the library (net streams, process pipes) before it first writes to a pipe or socket. Children spawned by
// waitless::Process get SIGPIPE's default back.
void ignore_sigpipe() noexcept;

// Blocks every signal in this thread for the scope and restores the mask after. Threads created inside the
// scope start with all signals blocked (they inherit the mask), so a process-directed signal can only go
// to a thread that wants it (a loop's signalfd, or main).
class SignalBlockScope {
 public:
  SignalBlockScope() noexcept;
  ~SignalBlockScope();
  SignalBlockScope(const SignalBlockScope&) = delete;
  SignalBlockScope& operator=(const SignalBlockScope&) = delete;

 private:
  sigset_t old_;
};

}  // namespace waitless
