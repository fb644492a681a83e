#include "waitless/fs/file_stream.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "waitless/async/when_all.hpp"
#include "waitless/fs/test_support.hpp"

namespace waitless::fs {
namespace {

class FileStreamTest : public test::TempDirTest {};

// Pseudo-random bytes (xorshift64): no period a misplaced chunk could hide in.
std::string random_bytes(std::size_t size, uint64_t seed) {
  std::string out(size, '\0');
  uint64_t x = seed | 1;
  for (std::size_t i = 0; i + 8 <= size; i += 8) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    std::memcpy(out.data() + i, &x, 8);
  }
  return out;
}

TEST_F(FileStreamTest, PipeCopiesFiftyMegabytesInConstantMemory) {
  constexpr std::size_t kSize = 50u << 20;
  constexpr std::size_t kMark = 64 * 1024;
  const std::string source = random_bytes(kSize, 42);
  const std::string from = path("from.bin"), to = path("to.bin");
  std::size_t max_queued = 0;
  auto task = [&]() -> Task<> {
    EXPECT_TRUE((co_await write_file(from, source)).ok());
    Result<ReadStream> in = co_await ReadStream::open(from, {.high_water_mark = kMark});
    Result<WriteStream> out = co_await WriteStream::open(to, {.high_water_mark = kMark});
    if (!in || !out) {
      ADD_FAILURE() << "open failed";
      co_return;
    }
    Result<uint64_t> copied = co_await pipe(*in, *out);
    EXPECT_EQ(copied.value(), kSize);
    EXPECT_EQ(in->position(), kSize);
    EXPECT_EQ(out->bytes_written(), kSize);
    EXPECT_EQ(out->queued_bytes(), 0u);
    max_queued = out->max_queued_bytes();
    Result<std::string> copy = co_await read_file(to);
    EXPECT_TRUE(copy.ok());
    EXPECT_TRUE(copy.ok() && *copy == source) << "content differs";
  };
  run(task(), loop_);
  // Constant memory: the sink never held more than its mark plus the one chunk that crossed it.
  EXPECT_GT(max_queued, 0u);
  EXPECT_LE(max_queued, kMark + kMark);
}

TEST_F(FileStreamTest, FastProducerWaitsForTheDisk) {
  constexpr std::size_t kMark = 64 * 1024;
  constexpr std::size_t kChunk = 16 * 1024;
  constexpr std::size_t kChunks = 1024;  // 16 MiB
  const std::string file = path("produced.bin");
  const std::string chunk = random_bytes(kChunk, 7);
  std::size_t over_mark_after_write = 0;
  auto task = [&]() -> Task<> {
    Result<WriteStream> out = co_await WriteStream::open(file, {.high_water_mark = kMark});
    if (!out) {
      ADD_FAILURE() << out.error().message();
      co_return;
    }
    for (std::size_t i = 0; i < kChunks; ++i) {
      // The producer makes data instantly, far faster than any disk: only write() can hold it back.
      EXPECT_TRUE((co_await out->write(chunk)).ok());
      if (out->queued_bytes() > kMark) ++over_mark_after_write;
    }
    EXPECT_TRUE((co_await out->end()).ok());
    EXPECT_EQ(out->bytes_written(), kChunk * kChunks);
    // Completions arrive only when the producer yields, so the queue reached exactly mark + one chunk.
    EXPECT_GT(out->max_queued_bytes(), kMark);
    EXPECT_LE(out->max_queued_bytes(), kMark + kChunk);
    EXPECT_GT(out->waits(), 0u);
    Result<std::string> back = co_await read_file(file);
    EXPECT_EQ(back.value().size(), kChunk * kChunks);
    bool same = back.ok() && back->size() == kChunk * kChunks;
    for (std::size_t i = 0; same && i < kChunks; ++i) same = back->compare(i * kChunk, kChunk, chunk) == 0;
    EXPECT_TRUE(same) << "content differs";
    EXPECT_EQ((co_await out->write(chunk)).error(), make_error_code(Error::closed));
    EXPECT_EQ((co_await out->end()).error(), make_error_code(Error::closed));
  };
  run(task(), loop_);
  EXPECT_EQ(over_mark_after_write, 0u);  // write() never returned with more than the mark queued
}

// Cancels its task's source after `after` chunks, from inside read(): the pipe is then mid-way.
class CancellingReader final : public AsyncReadable {
 public:
  CancellingReader(ReadStream& inner, CancelSource& source, int after)
      : inner_(inner), source_(source), left_(after) {}
  Task<Result<std::string>> read() override {
    Result<std::string> chunk = co_await inner_.read();
    if (--left_ == 0) source_.cancel();
    co_return chunk;
  }

 private:
  ReadStream& inner_;
  CancelSource& source_;
  int left_;
};

TEST_F(FileStreamTest, CancellationStopsAPipeMidway) {
  constexpr std::size_t kMark = 64 * 1024;
  constexpr std::size_t kSize = 4u << 20;
  const std::string from = path("from"), to = path("to");
  CancelSource source;
  std::error_code piped;
  uint64_t written_at_end = 0;
  auto task = [&]() -> Task<> {
    EXPECT_TRUE((co_await write_file(from, random_bytes(kSize, 3))).ok());
    Result<ReadStream> in = co_await ReadStream::open(from, {.high_water_mark = kMark});
    Result<WriteStream> out = co_await WriteStream::open(to, {.high_water_mark = kMark});
    if (!in || !out) {
      ADD_FAILURE() << "open failed";
      co_return;
    }
    CancellingReader reader(*in, source, 5);
    auto copy = [&]() -> Task<std::error_code> { co_return (co_await pipe(reader, *out)).error(); };
    piped = co_await copy().with_token(source.token());
    EXPECT_LT(in->position(), kSize);
    // The five chunks accepted before the cancellation are still written; end() works afterwards.
    EXPECT_TRUE((co_await out->end()).ok());
    written_at_end = out->bytes_written();
  };
  run(task(), loop_);
  EXPECT_EQ(piped, make_error_code(Error::cancelled));
  EXPECT_EQ(written_at_end, 5 * kMark);
  EXPECT_EQ(std::filesystem::file_size(to), 5 * kMark);
}

TEST_F(FileStreamTest, ErrorsFromVanishedFilesAreValues) {
  const std::string file = path("vanishing");
  auto task = [&]() -> Task<> {
    EXPECT_EQ((co_await ReadStream::open(path("missing"))).error(), errno_code(ENOENT));
    EXPECT_EQ((co_await WriteStream::open(path("gone/out"))).error(), errno_code(ENOENT));

    // Unlinked while open: the stream keeps reading what it opened (Unix semantics), no error.
    EXPECT_TRUE((co_await write_file(file, std::string(200000, 'v'))).ok());
    Result<ReadStream> in = co_await ReadStream::open(file, {.high_water_mark = 65536});
    if (!in) {
      ADD_FAILURE() << in.error().message();
      co_return;
    }
    EXPECT_EQ((co_await in->read()).value().size(), 65536u);
    EXPECT_TRUE((co_await unlink(file)).ok());
    std::size_t rest = 0;
    for (;;) {
      Result<std::string> chunk = co_await in->read();
      if (!chunk || chunk->empty()) {
        EXPECT_TRUE(chunk.ok());
        break;
      }
      rest += chunk->size();
    }
    EXPECT_EQ(rest, 200000u - 65536u);
    EXPECT_EQ((co_await in->read()).value(), "");  // stays at the end
    EXPECT_TRUE((co_await in->close()).ok());
    EXPECT_EQ((co_await in->read()).error(), make_error_code(Error::closed));

    // A directory opens but cannot be read: EISDIR from read().
    Result<File> dir = co_await File::open(dir_, O_RDONLY | O_DIRECTORY);
    if (!dir) {
      ADD_FAILURE() << dir.error().message();
      co_return;
    }
    ReadStream dir_stream(std::move(*dir));
    EXPECT_EQ((co_await dir_stream.read()).error(), errno_code(EISDIR));

    // A write that fails in the background (fd not open for writing) surfaces at end() and stays.
    EXPECT_TRUE((co_await write_file(file, std::string("x"))).ok());
    Result<File> read_only = co_await File::open(file, O_RDONLY);
    if (!read_only) {
      ADD_FAILURE() << read_only.error().message();
      co_return;
    }
    WriteStream bad(std::move(*read_only));
    EXPECT_TRUE((co_await bad.write(std::string("accepted"))).ok());  // queued at once, fails on the pool
    EXPECT_EQ((co_await bad.end()).error(), errno_code(EBADF));
    EXPECT_EQ((co_await bad.write(std::string("more"))).error(), errno_code(EBADF));
  };
  run(task(), loop_);
}

TEST_F(FileStreamTest, DroppedWriteStreamStillWritesWhatItAccepted) {
  const std::string file = path("dropped");
  auto task = [&]() -> Task<> {
    {
      Result<WriteStream> out = co_await WriteStream::open(file, {.high_water_mark = 1 << 20});
      if (!out) {
        ADD_FAILURE() << out.error().message();
        co_return;
      }
      EXPECT_TRUE((co_await out->write(std::string(1000, 'a'))).ok());
      EXPECT_TRUE((co_await out->write(std::string(1000, 'b'))).ok());
    }  // destroyed without end(): the batches in flight hold the state and keep the loop alive
  };
  run(task(), loop_);
  loop_.run();
  EXPECT_EQ(std::filesystem::file_size(file), 2000u);
}

TEST_F(FileStreamTest, AppendModeAndConcurrentReadIsRefused) {
  const std::string file = path("append");
  auto task = [&]() -> Task<> {
    EXPECT_TRUE((co_await write_file(file, std::string("head,"))).ok());
    Result<WriteStream> out = co_await WriteStream::open(file, {.flags = O_WRONLY | O_APPEND});
    if (!out) {
      ADD_FAILURE() << out.error().message();
      co_return;
    }
    EXPECT_TRUE((co_await out->write(std::string("one,"))).ok());
    EXPECT_TRUE((co_await out->write(std::string("two"))).ok());
    EXPECT_TRUE((co_await out->end()).ok());
    EXPECT_EQ((co_await read_file(file)).value(), "head,one,two");

    Result<ReadStream> in = co_await ReadStream::open(file, {.high_water_mark = 4, .start = 5});
    if (!in) {
      ADD_FAILURE() << in.error().message();
      co_return;
    }
    // Both start at once: the second finds the first in flight and is refused; the first is unharmed.
    auto [first, second] = co_await when_all(in->read(), in->read());
    EXPECT_EQ(first.value(), "one,");
    EXPECT_EQ(second.error(), make_error_code(Error::invalid_argument));
    EXPECT_EQ((co_await in->read()).value(), "two");
    EXPECT_EQ((co_await in->read()).value(), "");
  };
  run(task(), loop_);
}

}  // namespace
}  // namespace waitless::fs
