#include "apps/lab/proc_status.hpp"

#include <gtest/gtest.h>

#include <time.h>

#include <chrono>
#include <string>
#include <thread>

namespace waitless::lab {
namespace {

TEST(LabProcStatus, ParsesTheFields) {
  auto s = parse_proc_status("Name:\tx\nVmHWM:\t   5000 kB\nVmRSS:\t    4321 kB\nThreads:\t7\n");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->rss_kib, 4321u);
  EXPECT_EQ(s->hwm_kib, 5000u);
  EXPECT_EQ(s->threads, 7u);
  EXPECT_FALSE(parse_proc_status("Name:\tx\nThreads:\t1\n"));  // no VmRSS (a zombie, a kernel thread)
  EXPECT_FALSE(parse_proc_status("VmRSSX:\t1 kB\nThreads:\t1\n"));
}

TEST(LabProcStatus, ParsesCpuTicksAfterTheName) {
  // A name with a space and a parenthesis, as a process may choose.
  const std::string stat =
      "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 3 0 123 4096 100 18446744073709551615";
  EXPECT_EQ(parse_proc_stat_cpu_ticks(stat), 280u);
  EXPECT_FALSE(parse_proc_stat_cpu_ticks("42 (x) S 1 2 3"));
  EXPECT_FALSE(parse_proc_stat_cpu_ticks("no parenthesis here"));
  EXPECT_FALSE(parse_proc_stat_cpu_ticks("1 (x) S 1 1 1 0 -1 0 0 0 0 0 2x 3 0"));
}

TEST(LabProcStatus, CpuSecondsGrowWithWork) {
  auto before = read_cpu_seconds(0);
  ASSERT_TRUE(before);
  // 50 ms of this process's CPU (not of the wall clock: a busy machine must not change the outcome).
  auto cpu_now = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
  };
  volatile uint64_t x = 0;
  for (const double until = cpu_now() + 0.05; cpu_now() < until;) x = x + 1;
  auto after = read_cpu_seconds(0);
  ASSERT_TRUE(after);
  EXPECT_GE(*after - *before, 0.03);  // the kernel counts in 10 ms ticks
  EXPECT_FALSE(read_cpu_seconds(-5));
}

TEST(LabProcStatus, ReadsThisProcess) {
  auto before = read_proc_status(0);
  ASSERT_TRUE(before);
  EXPECT_GT(before->rss_kib, 0u);
  std::thread t([&] {
    auto during = read_proc_status(0);
    ASSERT_TRUE(during);
    EXPECT_EQ(during->threads, before->threads + 1);
  });
  t.join();
  EXPECT_FALSE(read_proc_status(-5));
}

}  // namespace
}  // namespace waitless::lab
