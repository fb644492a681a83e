// Async file system: every call runs its syscalls on pools::fs() and resumes the awaiting task on its loop
// with a Result. Failures are errno values (errno_code: ENOENT, EACCES, ENOTDIR, EISDIR...), never
// exceptions; Error::queue_full if the fs pool is saturated, Error::cancelled if the awaiting task was
// cancelled before the work started (work that started finishes and is delivered: see async/pool_run.hpp).
//
//   Result<std::string> text = co_await fs::read_file("config.json");
//   if (!text) log::warn("no config: {}", text.error().message());
//
// Every call owns its arguments (paths and data are taken by value, moved in), so nothing the worker
// touches can dangle, except the caller's buffer in File::read(offset, span), which must outlive the await.
#pragma once
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "waitless/async/task.hpp"
#include "waitless/base/result.hpp"

namespace waitless::fs {

// read_file() refuses files larger than this (Error::limit_exceeded) rather than exhausting memory.
inline constexpr std::size_t kDefaultMaxReadFile = std::size_t{1} << 30;  // 1 GiB

struct Stat {
  uint64_t size = 0;
  uint32_t mode = 0;  // st_mode: file type and permission bits
  std::chrono::system_clock::time_point mtime;
  bool is_dir() const noexcept { return S_ISDIR(mode); }
  bool is_file() const noexcept { return S_ISREG(mode); }
};

// The whole file. Error::limit_exceeded past max_bytes.
Task<Result<std::string>> read_file(std::string path, std::size_t max_bytes = kDefaultMaxReadFile);
// Creates or truncates, then writes all of data.
Task<Result<void>> write_file(std::string path, std::string data, mode_t mode = 0644);
// Readers see the old content or the new, never a mix: writes a temp file in the same directory, fsyncs
// it, renames it over `path`, then fsyncs the directory. On failure the temp file is removed.
Task<Result<void>> write_file_atomic(std::string path, std::string data, mode_t mode = 0644);
// Creates if needed; each call's data lands contiguously at the end (O_APPEND).
Task<Result<void>> append_file(std::string path, std::string data, mode_t mode = 0644);
// Follows symlinks.
Task<Result<Stat>> stat(std::string path);
// Entry names without "." and "..", in the order the file system gives them.
Task<Result<std::vector<std::string>>> readdir(std::string path);
// mkdir -p: creates every missing directory; an existing directory is success, an existing non-directory
// is EEXIST (as mkdir(2) and Node's recursive mkdir say).
Task<Result<void>> mkdir_p(std::string path, mode_t mode = 0755);
Task<Result<void>> unlink(std::string path);
Task<Result<void>> rename(std::string from, std::string to);

namespace detail {
struct FileDescriptor;  // the fd, closed when the last user (the File or an operation in flight) lets go
}

// An open file. Reads and writes are positional (pread/pwrite), so several may be in flight at once. A
// file opened with O_APPEND appends on every write whatever the offset (Linux pwrite semantics).
//
// Closing: close() closes on the fs pool and reports close's error. The destructor closes with a plain
// close(2) (cheap for local files). Operations in flight keep the descriptor open until they finish, so
// closing never pulls the fd from under a worker (which could otherwise hit a reused fd number).
class File {
 public:
  File() noexcept = default;  // a closed file
  File(File&&) noexcept = default;
  File& operator=(File&&) noexcept = default;
  ~File() = default;

  // O_CLOEXEC is always added.
  static Task<Result<File>> open(std::string path, int flags = O_RDONLY, mode_t mode = 0644);

  bool is_open() const noexcept { return fd_ != nullptr; }
  int fd() const noexcept;  // -1 when closed

  // Up to len bytes from offset; fewer only at the end of the file, none past it.
  Task<Result<std::string>> read(uint64_t offset, std::size_t len) const;
  // Into the caller's buffer (which must outlive the await); the count read, fewer only at the end.
  Task<Result<std::size_t>> read(uint64_t offset, std::span<char> into) const;
  // All of data at offset (short writes are continued; EINTR retried).
  Task<Result<void>> write(uint64_t offset, std::string data) const;
  Task<Result<Stat>> stat() const;
  Task<Result<void>> sync() const;  // fsync
  // The file is closed on return from this call (no new operation can start); the awaited result is
  // close(2)'s, or {} if operations still in flight will close the descriptor when they finish.
  // Error::closed when already closed.
  Task<Result<void>> close();

 private:
  explicit File(std::shared_ptr<detail::FileDescriptor> fd) noexcept : fd_(std::move(fd)) {}
  std::shared_ptr<detail::FileDescriptor> fd_;
};

}  // namespace waitless::fs
