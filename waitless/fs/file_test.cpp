#include "waitless/fs/file.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "waitless/fs/test_support.hpp"

namespace waitless::fs {
namespace {

class FsTest : public test::TempDirTest {};

// 100 MiB made of 1 MiB blocks: one pseudo-random block, each copy stamped with its index in its first
// bytes, so a lost, repeated or misplaced block cannot compare equal. Block-wise memcpy/memcmp keep the
// test fast in unoptimised sanitizer builds too.
constexpr std::size_t kBlock = 1u << 20;

std::string random_block() {
  std::string block(kBlock, '\0');
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (char& c : block) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;  // xorshift64
    c = static_cast<char>(x);
  }
  return block;
}

void stamp(char* at, std::size_t index) { std::memcpy(at, &index, sizeof index); }

TEST_F(FsTest, HundredMegabyteRoundTrip) {
  constexpr std::size_t kBlocks = 100;
  constexpr std::size_t kSize = kBlocks * kBlock;
  const std::string file = path("big.bin");
  const std::string block = random_block();
  auto task = [&]() -> Task<> {
    {
      std::string data(kSize, '\0');
      for (std::size_t i = 0; i < kBlocks; ++i) {
        std::memcpy(data.data() + i * kBlock, block.data(), kBlock);
        stamp(data.data() + i * kBlock, i);
      }
      Result<void> w = co_await write_file(file, std::move(data));  // moved: one copy of the data at a time
      EXPECT_TRUE(w.ok()) << w.error().message();
    }
    Result<Stat> st = co_await stat(file);
    EXPECT_EQ(st.value().size, kSize);
    Result<std::string> r = co_await read_file(file);
    EXPECT_TRUE(r.ok()) << r.error().message();
    if (!r || r->size() != kSize) {
      ADD_FAILURE() << "read back the wrong size";
      co_return;
    }
    std::string expected = block;
    for (std::size_t i = 0; i < kBlocks; ++i) {
      stamp(expected.data(), i);
      if (std::memcmp(r->data() + i * kBlock, expected.data(), kBlock) != 0) {
        ADD_FAILURE() << "block " << i << " differs";
        co_return;
      }
    }
  };
  run(task(), loop_);
}

TEST_F(FsTest, ErrorsAreValues) {
  const std::string regular = path("regular");
  auto task = [&]() -> Task<> {
    EXPECT_EQ((co_await read_file(path("missing"))).error(), errno_code(ENOENT));
    EXPECT_EQ((co_await stat(path("missing"))).error(), errno_code(ENOENT));
    EXPECT_EQ((co_await unlink(path("missing"))).error(), errno_code(ENOENT));
    EXPECT_EQ((co_await rename(path("missing"), path("other"))).error(), errno_code(ENOENT));
    EXPECT_EQ((co_await readdir(path("missing"))).error(), errno_code(ENOENT));
    EXPECT_EQ((co_await File::open(path("missing"))).error(), errno_code(ENOENT));

    EXPECT_TRUE((co_await write_file(regular, std::string("x"))).ok());
    // These fail for root too (the tests may run as root, where permission bits do not stop anyone).
    EXPECT_EQ((co_await write_file(regular + "/child", std::string("y"))).error(), errno_code(ENOTDIR));
    EXPECT_EQ((co_await readdir(regular)).error(), errno_code(ENOTDIR));
    EXPECT_EQ((co_await File::open(dir_, O_WRONLY)).error(), errno_code(EISDIR));
    EXPECT_EQ((co_await read_file(dir_)).error(), errno_code(EISDIR));
    EXPECT_EQ((co_await write_file(dir_, std::string("z"))).error(), errno_code(EISDIR));

    // EACCES where permissions apply.
    if (::geteuid() != 0) {
      const std::string locked = path("locked");
      EXPECT_TRUE((co_await write_file(locked, std::string("secret"), 0000)).ok());
      EXPECT_EQ((co_await read_file(locked)).error(), errno_code(EACCES));
    }
  };
  run(task(), loop_);
}

TEST_F(FsTest, ReadFileRefusesPastItsLimit) {
  const std::string file = path("limited");
  auto task = [&]() -> Task<> {
    EXPECT_TRUE((co_await write_file(file, std::string(10000, 'a'))).ok());
    EXPECT_EQ((co_await read_file(file, 9999)).error(), make_error_code(Error::limit_exceeded));
    Result<std::string> exact = co_await read_file(file, 10000);
    EXPECT_EQ(exact.value().size(), 10000u);
    // A file whose size says 0 but holds more (as /proc files do) is still bounded.
    Result<std::string> proc = co_await read_file("/proc/self/status", 16);
    EXPECT_EQ(proc.error(), make_error_code(Error::limit_exceeded));
    Result<std::string> whole = co_await read_file("/proc/self/status");
    EXPECT_NE(whole.value().find("Name:"), std::string::npos);
  };
  run(task(), loop_);
}

TEST_F(FsTest, AtomicWriteLeavesNoTempFile) {
  const std::string file = path("config.json");
  // Built outside the coroutine: GCC 12 rejects initializer lists inside coroutine bodies.
  const std::vector<std::string> only_file{"config.json"}, file_and_dir{"config.json", "taken"};
  auto task = [&]() -> Task<> {
    EXPECT_TRUE((co_await write_file_atomic(file, std::string("{\"v\":1}"))).ok());
    EXPECT_TRUE((co_await write_file_atomic(file, std::string("{\"v\":2}"))).ok());
    EXPECT_EQ((co_await read_file(file)).value(), "{\"v\":2}");
    EXPECT_EQ((co_await readdir(dir_)).value(), only_file);

    // A failed rename (the target is a directory) removes its temp file too.
    EXPECT_TRUE((co_await mkdir_p(path("taken"))).ok());
    EXPECT_EQ((co_await write_file_atomic(path("taken"), std::string("x"))).error(), errno_code(EISDIR));
    Result<std::vector<std::string>> names = co_await readdir(dir_);
    std::sort(names->begin(), names->end());
    EXPECT_EQ(names.value(), file_and_dir);
    EXPECT_TRUE((co_await readdir(path("taken"))).value().empty());

    EXPECT_EQ((co_await write_file_atomic(path("no/such/dir/f"), std::string("x"))).error(),
              errno_code(ENOENT));
  };
  run(task(), loop_);
}

TEST_F(FsTest, MkdirPCreatesNestedDirectories) {
  const std::string nested = path("a/b/c/d");
  auto task = [&]() -> Task<> {
    EXPECT_TRUE((co_await mkdir_p(nested)).ok());
    EXPECT_TRUE((co_await stat(nested)).value().is_dir());
    EXPECT_TRUE((co_await mkdir_p(nested)).ok());  // already there: fine
    EXPECT_TRUE((co_await mkdir_p(path("a/b/x/"))).ok());
    EXPECT_TRUE((co_await stat(path("a/b/x"))).value().is_dir());
    EXPECT_TRUE((co_await write_file(path("a/file"), std::string("f"))).ok());
    EXPECT_EQ((co_await mkdir_p(path("a/file"))).error(), errno_code(EEXIST));
    EXPECT_EQ((co_await mkdir_p(path("a/file/sub"))).error(), errno_code(ENOTDIR));
    EXPECT_EQ((co_await mkdir_p(std::string())).error(), errno_code(ENOENT));
  };
  run(task(), loop_);
}

TEST_F(FsTest, ReaddirStatAppendRenameUnlink) {
  const std::vector<std::string> expected{"empty", "log", "sub"};
  auto task = [&]() -> Task<> {
    EXPECT_TRUE((co_await append_file(path("log"), std::string("one\n"))).ok());
    EXPECT_TRUE((co_await append_file(path("log"), std::string("two\n"))).ok());
    EXPECT_EQ((co_await read_file(path("log"))).value(), "one\ntwo\n");
    EXPECT_TRUE((co_await mkdir_p(path("sub"))).ok());
    EXPECT_TRUE((co_await write_file(path("empty"), std::string())).ok());

    Result<std::vector<std::string>> names = co_await readdir(dir_);
    std::sort(names->begin(), names->end());
    EXPECT_EQ(names.value(), expected);

    Result<Stat> st = co_await stat(path("log"));
    EXPECT_TRUE(st->is_file());
    EXPECT_FALSE(st->is_dir());
    EXPECT_EQ(st->size, 8u);
    EXPECT_LT(std::chrono::abs(std::chrono::system_clock::now() - st->mtime), std::chrono::minutes(5));
    EXPECT_TRUE((co_await stat(path("sub"))).value().is_dir());

    EXPECT_TRUE((co_await rename(path("log"), path("sub/log"))).ok());
    EXPECT_EQ((co_await read_file(path("sub/log"))).value(), "one\ntwo\n");
    EXPECT_TRUE((co_await unlink(path("sub/log"))).ok());
    EXPECT_TRUE((co_await readdir(path("sub"))).value().empty());
  };
  run(task(), loop_);
}

TEST_F(FsTest, FileHandleReadsAndWritesAtOffsets) {
  const std::string name = path("handle");
  int raw_fd = -1;
  auto task = [&]() -> Task<> {
    Result<File> opened = co_await File::open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (!opened) {
      ADD_FAILURE() << opened.error().message();
      co_return;
    }
    File file = std::move(opened).value();
    EXPECT_TRUE(file.is_open());
    raw_fd = file.fd();
    EXPECT_TRUE((co_await file.write(0, std::string("hello world"))).ok());
    EXPECT_TRUE((co_await file.write(6, std::string("WORLD"))).ok());
    EXPECT_EQ((co_await file.read(0, 100)).value(), "hello WORLD");  // short only at the end
    EXPECT_EQ((co_await file.read(6, 3)).value(), "WOR");
    EXPECT_EQ((co_await file.read(50, 10)).value(), "");  // past the end
    char buf[5];
    EXPECT_EQ((co_await file.read(2, std::span<char>(buf))).value(), 5u);
    EXPECT_EQ(std::string(buf, 5), "llo W");
    EXPECT_EQ((co_await file.stat()).value().size, 11u);
    EXPECT_TRUE((co_await file.sync()).ok());

    // Close with a read in flight: the read still completes; the descriptor is closed by whichever ends last.
    Task<Result<std::string>> pending = file.read(0, 5);
    EXPECT_TRUE((co_await file.close()).ok());
    EXPECT_FALSE(file.is_open());
    EXPECT_EQ((co_await pending).value(), "hello");

    EXPECT_EQ((co_await file.close()).error(), make_error_code(Error::closed));
    EXPECT_EQ((co_await file.read(0, 1)).error(), make_error_code(Error::closed));
    EXPECT_EQ((co_await file.write(0, std::string("x"))).error(), make_error_code(Error::closed));
  };
  run(task(), loop_);
  EXPECT_EQ(::fcntl(raw_fd, F_GETFD), -1);  // really closed
}

TEST_F(FsTest, DestructorClosesTheDescriptor) {
  int raw_fd = -1;
  auto task = [&]() -> Task<> {
    Result<File> opened = co_await File::open(path("d"), O_WRONLY | O_CREAT);
    if (!opened) {
      ADD_FAILURE() << opened.error().message();
      co_return;
    }
    raw_fd = opened->fd();
    EXPECT_NE(::fcntl(raw_fd, F_GETFD), -1);
  };
  run(task(), loop_);
  EXPECT_EQ(::fcntl(raw_fd, F_GETFD), -1);
}

TEST_F(FsTest, CancelledTaskDoesNotTouchTheDisk) {
  CancelSource source;
  source.cancel();
  const std::string file = path("never");
  auto task = [&]() -> Task<std::error_code> {
    co_return (co_await write_file(file, std::string("x"))).error();
  };
  EXPECT_EQ(run(task().with_token(source.token()), loop_), make_error_code(Error::cancelled));
  EXPECT_FALSE(std::filesystem::exists(file));
}

}  // namespace
}  // namespace waitless::fs
