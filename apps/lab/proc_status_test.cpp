#include "apps/lab/proc_status.hpp"

#include <gtest/gtest.h>

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
