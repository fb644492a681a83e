// The CPU part of a lab request: a real computation (a chain of 64-bit mixing rounds, each depending on the
// previous one, so it can neither be skipped nor vectorised), sized in rounds calibrated to milliseconds of
// this machine's CPU. Not a sleep, and not a busy-wait on the clock: the same work costs the same CPU
// whether one thread or a thousand run it, which is what makes threads and a loop comparable.
#pragma once
#include <cstdint>

namespace waitless::lab {

// Runs `rounds` mixing rounds from `seed` and returns the result (callers use it, e.g. in the response).
uint64_t mix_rounds(uint64_t rounds, uint64_t seed) noexcept;

// Rounds per millisecond of this thread's CPU time (CLOCK_THREAD_CPUTIME_ID, so being descheduled by a
// busy neighbour does not distort it): the fastest of several ~10 ms samples.
double calibrate_rounds_per_ms();

// This thread's CPU time so far, in milliseconds (CLOCK_THREAD_CPUTIME_ID).
double thread_cpu_ms() noexcept;

// Rounds for `ms` milliseconds of CPU at `rounds_per_ms` (0 for ms <= 0).
uint64_t rounds_for_ms(double ms, double rounds_per_ms) noexcept;

}  // namespace waitless::lab
