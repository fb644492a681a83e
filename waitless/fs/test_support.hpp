// Helpers shared by the fs tests (header only; not part of the library).
#pragma once
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

#include "waitless/loop/loop.hpp"
#include "waitless/loop/test_support.hpp"

namespace waitless::fs::test {

using waitless::test::expect_empty;

// A fresh directory per test, made writable again and removed with everything in it afterwards (a test
// may leave read-only entries behind), and a loop that must end empty. Derive a named fixture from it.
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "waitless-fs-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::permissions(dir_, std::filesystem::perms::all, ec);
    std::filesystem::remove_all(dir_, ec);
    EXPECT_FALSE(std::filesystem::exists(dir_)) << "left behind: " << dir_;
    expect_empty(loop_);
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  Loop loop_;
  std::string dir_;
};

}  // namespace waitless::fs::test
