// File system faults (the reliability suite's fs part): a full disk, a file size limit, an I/O error, FIFOs
// with no peer, directories where files are expected, a read-only directory, descriptor exhaustion. Each
// must come back as a typed error value through fs::write_file / read_file / File / ReadStream / WriteStream,
// never as a crash, a hang or a silent success.
//
// The tests run as root here, where permission bits stop nobody, so the faults are ones root cannot
// override: /dev/full (ENOSPC on every write), RLIMIT_FSIZE (EFBIG), /proc/self/mem at an unmapped offset
// (EIO), a FIFO opened O_NONBLOCK (ENXIO with no reader, EAGAIN with an idle writer), the immutable
// attribute (EPERM even for root; needs CAP_LINUX_IMMUTABLE and a file system that supports it, else the
// test is skipped). As another user, a 0555 directory gives EACCES instead.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

#include "waitless/fs/file.hpp"
#include "waitless/fs/file_stream.hpp"
#include "waitless/fs/test_support.hpp"

namespace waitless::fs {
namespace {

class FsFaults : public test::TempDirTest {};

// Sets the inode flags of `p` (FS_IOC_SETFLAGS); false if the file system or the caller cannot.
bool set_flags(const std::string& p, bool immutable) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return false;
  int flags = 0;
  bool ok = ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  if (ok) {
    flags = immutable ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
    ok = ::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
  }
  ::close(fd);
  return ok;
}

// Restores a resource limit (and SIGXFSZ's disposition) when the test ends, however it ends.
class LimitScope {
 public:
  LimitScope(int resource, rlim_t soft) : resource_(resource) {
    ::getrlimit(resource_, &saved_);
    rlimit lowered = saved_;
    lowered.rlim_cur = soft;
    ok_ = ::setrlimit(resource_, &lowered) == 0;
  }
  ~LimitScope() { ::setrlimit(resource_, &saved_); }
  bool ok() const { return ok_; }

 private:
  int resource_;
  rlimit saved_{};
  bool ok_ = false;
};

TEST_F(FsFaults, DevFullIsEnospcThroughEveryWriter) {
  if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no writable /dev/full";
  const std::string source = path("source");
  auto task = [&]() -> Task<> {
    const std::string data(300000, 'f');
    EXPECT_EQ((co_await write_file("/dev/full", data)).error(), errno_code(ENOSPC));
    EXPECT_EQ((co_await append_file("/dev/full", data)).error(), errno_code(ENOSPC));

    Result<File> file = co_await File::open("/dev/full", O_WRONLY);
    if (!file) {
      ADD_FAILURE() << file.error().message();
      co_return;
    }
    EXPECT_EQ((co_await file->write(0, data)).error(), errno_code(ENOSPC));
    EXPECT_TRUE((co_await file->close()).ok());

    // WriteStream: the chunk is accepted at once (it is queued), the failure surfaces at end() and stays.
    Result<WriteStream> out = co_await WriteStream::open("/dev/full", {.flags = O_WRONLY});
    if (!out) {
      ADD_FAILURE() << out.error().message();
      co_return;
    }
    EXPECT_TRUE((co_await out->write(std::string(1000, 'a'))).ok());
    EXPECT_EQ((co_await out->end()).error(), errno_code(ENOSPC));
    EXPECT_EQ((co_await out->write(std::string("more"))).error(), errno_code(ENOSPC));
    EXPECT_EQ(out->bytes_written(), 0u);

    // pipe() stops at the first failed write and answers its error; the source is left unharmed.
    EXPECT_TRUE((co_await write_file(source, std::string(1 << 20, 's'))).ok());
    Result<ReadStream> in = co_await ReadStream::open(source, {.high_water_mark = 64 * 1024});
    Result<WriteStream> full =
        co_await WriteStream::open("/dev/full", {.high_water_mark = 64 * 1024, .flags = O_WRONLY});
    if (!in || !full) {
      ADD_FAILURE() << "cannot open the pipe's ends";
      co_return;
    }
    EXPECT_EQ((co_await pipe(*in, *full)).error(), errno_code(ENOSPC));
    EXPECT_LT(in->position(), uint64_t{1} << 20);  // it stopped early rather than reading everything
    EXPECT_EQ((co_await full->end()).error(), errno_code(ENOSPC));
    EXPECT_TRUE((co_await in->close()).ok());
  };
  run(task(), loop_);
}

TEST_F(FsFaults, FileSizeLimitIsEfbigAndAtomicWriteKeepsTheOldFile) {
  const std::string plain = path("plain");
  const std::string kept = path("kept");
  const std::string streamed = path("streamed");
  auto task = [&]() -> Task<> {
    EXPECT_TRUE((co_await write_file(kept, std::string("old content"))).ok());
    // Past RLIMIT_FSIZE a write fails with EFBIG (and SIGXFSZ, which would kill the process unless
    // ignored). The limit is per process, so it binds the fs pool's threads too.
    struct sigaction ignore {
    }, saved{};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGXFSZ, &ignore, &saved);
    {
      LimitScope limit(RLIMIT_FSIZE, 64 * 1024);
      EXPECT_TRUE(limit.ok());
      const std::string big(256 * 1024, 'b');
      EXPECT_EQ((co_await write_file(plain, big)).error(), errno_code(EFBIG));
      EXPECT_EQ((co_await write_file_atomic(kept, big)).error(), errno_code(EFBIG));

      Result<WriteStream> out = co_await WriteStream::open(streamed, {.high_water_mark = 16 * 1024});
      if (!out) {
        ADD_FAILURE() << out.error().message();
      } else {
        std::error_code first;
        for (int i = 0; i < 16 && !first; ++i) {  // 16 x 16 KiB: crosses the 64 KiB limit
          Result<void> w = co_await out->write(std::string(16 * 1024, 'w'));
          if (!w) first = w.error();
        }
        Result<void> ended = co_await out->end();
        EXPECT_EQ(first ? first : ended.error(), errno_code(EFBIG));
        EXPECT_LE(out->bytes_written(), 64u * 1024);
      }
    }
    ::sigaction(SIGXFSZ, &saved, nullptr);
    // The failed atomic write left the old content and no temp file behind.
    EXPECT_EQ((co_await read_file(kept)).value(), "old content");
    Result<std::vector<std::string>> names = co_await readdir(dir_);
    for (const std::string& name : names.value()) {
      EXPECT_EQ(name.find(".tmp."), std::string::npos) << "temp file left: " << name;
    }
  };
  run(task(), loop_);
}

TEST_F(FsFaults, IoErrorIsEio) {
  // Offset 0 of /proc/self/mem is never mapped: every read there fails with EIO.
  auto task = [&]() -> Task<> {
    EXPECT_EQ((co_await read_file("/proc/self/mem")).error(), errno_code(EIO));
    Result<ReadStream> in = co_await ReadStream::open("/proc/self/mem");
    if (!in) {
      ADD_FAILURE() << in.error().message();
      co_return;
    }
    EXPECT_EQ((co_await in->read()).error(), errno_code(EIO));
    EXPECT_EQ((co_await in->read()).error(), errno_code(EIO));  // again, not a crash or a false end
    EXPECT_TRUE((co_await in->close()).ok());
  };
  run(task(), loop_);
}

TEST_F(FsFaults, FifoWithoutPeerIsATypedError) {
  const std::string fifo = path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // (A blocking open of a FIFO waits in open(2) for its peer, holding a pool thread: read_file or
  // ReadStream::open on a FIFO nobody writes never completes. Not exercised; O_NONBLOCK opens instead.)
  auto nonblocking = [&]() -> Task<> {
    EXPECT_EQ((co_await WriteStream::open(fifo, {.flags = O_WRONLY | O_NONBLOCK})).error(),
              errno_code(ENXIO));
    EXPECT_EQ((co_await File::open(fifo, O_WRONLY | O_NONBLOCK)).error(), errno_code(ENXIO));
    Result<File> reader = co_await File::open(fifo, O_RDONLY | O_NONBLOCK);
    if (!reader) {
      ADD_FAILURE() << reader.error().message();
      co_return;
    }
    // A FIFO has no offsets: File's positional read is ESPIPE, a typed error, not data from nowhere.
    EXPECT_EQ((co_await reader->read(0, 16)).error(), errno_code(ESPIPE));
    ReadStream stream(std::move(*reader));
    EXPECT_EQ((co_await stream.read()).error(), errno_code(ESPIPE));
    EXPECT_TRUE((co_await stream.close()).ok());
    // Now a reader exists (our own, opened here): a non-blocking writer opens, and WriteStream's
    // positional write is ESPIPE at end().
    int rfd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    EXPECT_GE(rfd, 0);
    Result<WriteStream> out = co_await WriteStream::open(fifo, {.flags = O_WRONLY | O_NONBLOCK});
    if (!out) {
      ADD_FAILURE() << out.error().message();
    } else {
      EXPECT_TRUE((co_await out->write(std::string("x"))).ok());
      EXPECT_EQ((co_await out->end()).error(), errno_code(ESPIPE));
    }
    if (rfd >= 0) ::close(rfd);
  };
  run(nonblocking(), loop_);
}

TEST_F(FsFaults, DirectoryOrFileWhereTheOtherIsExpected) {
  const std::string sub = path("sub");
  const std::string regular = path("regular");
  ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0);
  auto task = [&]() -> Task<> {
    EXPECT_TRUE((co_await write_file(regular, std::string("r"))).ok());
    // A directory where a file is expected.
    EXPECT_EQ((co_await read_file(sub)).error(), errno_code(EISDIR));
    EXPECT_EQ((co_await WriteStream::open(sub)).error(), errno_code(EISDIR));
    EXPECT_EQ((co_await append_file(sub, std::string("a"))).error(), errno_code(EISDIR));
    Result<ReadStream> dir_stream = co_await ReadStream::open(sub);  // open(O_RDONLY) of a directory works
    if (dir_stream) {
      EXPECT_EQ((co_await dir_stream->read()).error(), errno_code(EISDIR));  // reading it does not
      EXPECT_TRUE((co_await dir_stream->close()).ok());
    } else {
      EXPECT_EQ(dir_stream.error(), errno_code(EISDIR));
    }
    EXPECT_EQ((co_await write_file_atomic(sub, std::string("x"))).error(), errno_code(EISDIR));
    // A file where a directory is expected.
    EXPECT_EQ((co_await ReadStream::open(regular + "/x")).error(), errno_code(ENOTDIR));
    EXPECT_EQ((co_await WriteStream::open(regular + "/x")).error(), errno_code(ENOTDIR));
    EXPECT_EQ((co_await mkdir_p(regular + "/a/b")).error(), errno_code(ENOTDIR));
    EXPECT_EQ((co_await write_file_atomic(regular + "/x", std::string("x"))).error(), errno_code(ENOTDIR));
    // Names the kernel refuses outright.
    EXPECT_EQ((co_await read_file(path(std::string(300, 'n')))).error(), errno_code(ENAMETOOLONG));
    EXPECT_EQ(::symlink("loop", path("loop").c_str()), 0);
    EXPECT_EQ((co_await read_file(path("loop"))).error(), errno_code(ELOOP));
    EXPECT_EQ((co_await WriteStream::open(path("loop"))).error(), errno_code(ELOOP));
  };
  run(task(), loop_);
}

TEST_F(FsFaults, ReadOnlyDirectory) {
  // Root ignores a 0555 mode: the immutable attribute binds root too (EPERM). Another user gets EACCES
  // from the mode bits. A read-only mount would be the other way; this test does not mount anything.
  const std::string ro = path("ro");
  const std::string existing = ro + "/existing";
  ASSERT_EQ(::mkdir(ro.c_str(), 0755), 0);
  {
    int fd = ::open(existing.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "keep", 4), 4);
    ::close(fd);
  }
  std::error_code want;
  if (::geteuid() == 0) {
    if (!set_flags(ro, true)) GTEST_SKIP() << "cannot set the immutable attribute here";
    want = errno_code(EPERM);
  } else {
    ASSERT_EQ(::chmod(ro.c_str(), 0555), 0);
    want = errno_code(EACCES);
  }
  auto task = [&]() -> Task<> {
    EXPECT_EQ((co_await write_file(ro + "/new", std::string("n"))).error(), want);
    EXPECT_EQ((co_await WriteStream::open(ro + "/new")).error(), want);
    EXPECT_EQ((co_await append_file(ro + "/new", std::string("n"))).error(), want);
    EXPECT_EQ((co_await mkdir_p(ro + "/a/b")).error(), want);
    EXPECT_EQ((co_await unlink(existing)).error(), want);
    EXPECT_EQ((co_await rename(existing, ro + "/moved")).error(), want);
    // The atomic write cannot create its temp file: the old content stays.
    EXPECT_EQ((co_await write_file_atomic(existing, std::string("replaced"))).error(), want);
    EXPECT_EQ((co_await read_file(existing)).value(), "keep");
    Result<std::vector<std::string>> names = co_await readdir(ro);
    EXPECT_EQ(names.value(), std::vector<std::string>{"existing"});
  };
  run(task(), loop_);
  if (::geteuid() == 0) {
    EXPECT_TRUE(set_flags(ro, false));
  }
}

TEST_F(FsFaults, ImmutableFileRefusesWritersEvenForRoot) {
  const std::string file = path("immutable");
  {
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "frozen", 6), 6);
    ::close(fd);
  }
  if (!set_flags(file, true)) GTEST_SKIP() << "cannot set the immutable attribute here";
  auto task = [&]() -> Task<> {
    EXPECT_EQ((co_await write_file(file, std::string("x"))).error(), errno_code(EPERM));
    EXPECT_EQ((co_await append_file(file, std::string("x"))).error(), errno_code(EPERM));
    EXPECT_EQ((co_await WriteStream::open(file, {.flags = O_WRONLY})).error(), errno_code(EPERM));
    EXPECT_EQ((co_await File::open(file, O_RDWR)).error(), errno_code(EPERM));
    EXPECT_EQ((co_await read_file(file)).value(), "frozen");  // reading still works
  };
  run(task(), loop_);
  EXPECT_TRUE(set_flags(file, false));
}

TEST_F(FsFaults, OutOfDescriptorsIsEmfile) {
  const std::string file = path("file");
  auto task = [&]() -> Task<> {
    EXPECT_TRUE((co_await write_file(file, std::string("x"))).ok());  // the pool is up before the limit
    // Fill every free descriptor below a lowered limit, so the next open fails whatever the gaps were.
    std::vector<int> filler;
    {
      LimitScope limit(RLIMIT_NOFILE, 256);
      EXPECT_TRUE(limit.ok());
      for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) filler.push_back(fd);
      EXPECT_EQ(errno, EMFILE);
      EXPECT_EQ((co_await File::open(file)).error(), errno_code(EMFILE));
      EXPECT_EQ((co_await read_file(file)).error(), errno_code(EMFILE));
      EXPECT_EQ((co_await write_file(file, std::string("y"))).error(), errno_code(EMFILE));
      EXPECT_EQ((co_await ReadStream::open(file)).error(), errno_code(EMFILE));
      EXPECT_EQ((co_await WriteStream::open(file)).error(), errno_code(EMFILE));
      for (int fd : filler) ::close(fd);
    }
    // Descriptors free again: everything works, nothing was left half-done.
    EXPECT_EQ((co_await read_file(file)).value(), "x");
  };
  run(task(), loop_);
}

}  // namespace
}  // namespace waitless::fs
