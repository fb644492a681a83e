#include "waitless/fs/file.hpp"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <utility>

#include "waitless/async/pool_run.hpp"
#include "waitless/loop/thread_pool.hpp"

namespace waitless::fs {

namespace detail {
struct FileDescriptor {
  explicit FileDescriptor(int f) noexcept : fd(f) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
  int fd;
};
}  // namespace detail

namespace {

// Everything below runs on an fs pool thread: plain blocking syscalls, errno turned into values.

std::error_code last_error() noexcept { return errno_code(errno); }

// Closes and reports close(2)'s error; EINTR still closed the fd on Linux, so it is not an error.
std::error_code close_fd(int fd) noexcept {
  if (::close(fd) < 0 && errno != EINTR) return last_error();
  return {};
}

Result<int> open_fd(const std::string& path, int flags, mode_t mode) {
  int fd;
  do fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return last_error();
  return fd;
}

// All of data, at `offset`, or at the file position when offset < 0.
std::error_code write_all(int fd, const char* data, std::size_t size, int64_t offset) noexcept {
  while (size > 0) {
    ssize_t n = offset < 0 ? ::write(fd, data, size) : ::pwrite(fd, data, size, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    data += n;
    size -= static_cast<std::size_t>(n);
    if (offset >= 0) offset += n;
  }
  return {};
}

// Fills [data, data + size) from offset until full or the end of the file; returns the count.
Result<std::size_t> pread_full(int fd, char* data, std::size_t size, uint64_t offset) {
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, data + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

Stat to_stat(const struct stat& st) {
  Stat s;
  s.size = static_cast<uint64_t>(st.st_size);
  s.mode = st.st_mode;
  s.mtime =
      std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
  return s;
}

Result<std::string> read_file_sync(const std::string& path, std::size_t max_bytes) {
  Result<int> fd = open_fd(path, O_RDONLY, 0);
  if (!fd) return fd.error();
  detail::FileDescriptor guard(*fd);
  struct stat st {};
  if (::fstat(*fd, &st) < 0) return last_error();
  if (S_ISDIR(st.st_mode)) return errno_code(EISDIR);
  // The size is a hint (the file may change under us; /proc files say 0): read until read() says EOF.
  std::size_t hint = static_cast<std::size_t>(std::max<off_t>(st.st_size, 0));
  if (hint > max_bytes) return Error::limit_exceeded;
  std::string out;
  out.resize(std::max<std::size_t>(hint, 4096) + 1);  // +1: EOF is seen without a second resize
  std::size_t size = 0;
  for (;;) {
    if (size == out.size()) {
      if (out.size() > max_bytes) return Error::limit_exceeded;
      out.resize(std::min(out.size() * 2, max_bytes + 1));
    }
    ssize_t n = ::read(*fd, out.data() + size, out.size() - size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    if (n == 0) break;
    size += static_cast<std::size_t>(n);
    if (size > max_bytes) return Error::limit_exceeded;
  }
  out.resize(size);
  return out;
}

std::error_code write_file_sync(const std::string& path, const std::string& data, int flags, mode_t mode) {
  Result<int> fd = open_fd(path, O_WRONLY | O_CREAT | flags, mode);
  if (!fd) return fd.error();
  std::error_code ec = write_all(*fd, data.data(), data.size(), -1);
  std::error_code closed = close_fd(*fd);
  return ec ? ec : closed;
}

std::string parent_dir(const std::string& path) {
  std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::error_code write_file_atomic_sync(const std::string& path, const std::string& data, mode_t mode) {
  static std::atomic<uint64_t> counter{0};
  const std::string dir = parent_dir(path);
  const std::size_t slash = path.find_last_of('/');
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.empty()) return errno_code(EISDIR);
  // Same directory, so rename() stays within one file system and is atomic. Hidden, and unique per
  // process and call; O_EXCL refuses to reuse anything already there.
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; attempt < 16 && fd < 0; ++attempt) {
    tmp.assign(dir).append("/.").append(base).append(".tmp.");
    tmp.append(std::to_string(::getpid())).append(".").append(std::to_string(counter++));
    Result<int> opened = open_fd(tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (opened) {
      fd = *opened;
    } else if (opened.error() != errno_code(EEXIST)) {
      return opened.error();
    }
  }
  if (fd < 0) return errno_code(EEXIST);
  std::error_code ec = write_all(fd, data.data(), data.size(), -1);
  if (!ec && ::fsync(fd) < 0) ec = last_error();
  std::error_code closed = close_fd(fd);
  if (!ec) ec = closed;
  if (!ec && ::rename(tmp.c_str(), path.c_str()) < 0) ec = last_error();
  if (ec) {
    ::unlink(tmp.c_str());
    return ec;
  }
  // The rename itself is durable only once the directory is synced. Some file systems refuse fsync on a
  // directory (EINVAL): the data is in place, so that is not a failure.
  if (Result<int> dfd = open_fd(dir, O_RDONLY | O_DIRECTORY, 0)) {
    if (::fsync(*dfd) < 0 && errno != EINVAL) ec = last_error();
    (void)close_fd(*dfd);
  }
  return ec;
}

Result<Stat> stat_sync(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) < 0) return last_error();
  return to_stat(st);
}

Result<std::vector<std::string>> readdir_sync(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (!dir) return last_error();
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    dirent* entry = ::readdir(dir);
    if (!entry) break;
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  int err = errno;
  ::closedir(dir);
  if (err) return errno_code(err);
  return names;
}

std::error_code mkdir_p_sync(const std::string& path, mode_t mode) {
  if (path.empty()) return errno_code(ENOENT);
  // Creates each prefix in turn; an existing directory is fine. A component that exists as something
  // else makes the next mkdir fail with ENOTDIR, or the last one with EEXIST.
  std::size_t pos = 0;
  for (;;) {
    std::size_t slash = path.find('/', pos + 1);
    std::string prefix = path.substr(0, slash);
    if (!prefix.empty() && prefix != "/" && ::mkdir(prefix.c_str(), mode) < 0) {
      int err = errno;
      struct stat st {};
      if (err != EEXIST) return errno_code(err);
      if (::stat(prefix.c_str(), &st) < 0) return last_error();
      if (!S_ISDIR(st.st_mode)) return errno_code(slash == std::string::npos ? EEXIST : ENOTDIR);
    }
    if (slash == std::string::npos) return {};
    pos = slash;
  }
}

// Runs `job` on the fs pool. Taking the job as a named parameter keeps every lambda out of the callers'
// co_await expressions (see the GCC 12 note in async/pool_run.hpp).
template <typename F>
Task<Result<typename waitless::detail::Unwrap<std::invoke_result_t<F&>>::type>> on_fs(F job) {
  co_return co_await pools::fs().run(std::move(job));
}

}  // namespace

Task<Result<std::string>> read_file(std::string path, std::size_t max_bytes) {
  return on_fs([path = std::move(path), max_bytes] { return read_file_sync(path, max_bytes); });
}

Task<Result<void>> write_file(std::string path, std::string data, mode_t mode) {
  return on_fs([path = std::move(path), data = std::move(data), mode] {
    return write_file_sync(path, data, O_TRUNC, mode);
  });
}

Task<Result<void>> write_file_atomic(std::string path, std::string data, mode_t mode) {
  return on_fs([path = std::move(path), data = std::move(data), mode] {
    return write_file_atomic_sync(path, data, mode);
  });
}

Task<Result<void>> append_file(std::string path, std::string data, mode_t mode) {
  return on_fs([path = std::move(path), data = std::move(data), mode] {
    return write_file_sync(path, data, O_APPEND, mode);
  });
}

Task<Result<Stat>> stat(std::string path) {
  return on_fs([path = std::move(path)] { return stat_sync(path); });
}

Task<Result<std::vector<std::string>>> readdir(std::string path) {
  return on_fs([path = std::move(path)] { return readdir_sync(path); });
}

Task<Result<void>> mkdir_p(std::string path, mode_t mode) {
  return on_fs([path = std::move(path), mode] { return mkdir_p_sync(path, mode); });
}

Task<Result<void>> unlink(std::string path) {
  return on_fs([path = std::move(path)]() -> std::error_code {
    if (::unlink(path.c_str()) < 0) return last_error();
    return {};
  });
}

Task<Result<void>> rename(std::string from, std::string to) {
  return on_fs([from = std::move(from), to = std::move(to)]() -> std::error_code {
    if (::rename(from.c_str(), to.c_str()) < 0) return last_error();
    return {};
  });
}

// ---- File -----------------------------------------------------------------------------------------------

// Each operation takes its own reference to the descriptor, so it stays open until the worker is done
// with it. The member functions are not coroutines: they copy what they need before returning the task,
// so the task never refers to the File (which may move or die while it runs).

Task<Result<File>> File::open(std::string path, int flags, mode_t mode) {
  auto job = [path = std::move(path), flags, mode] { return open_fd(path, flags, mode); };
  Result<int> fd = co_await pools::fs().run(std::move(job));
  if (!fd) co_return fd.error();
  co_return File(std::make_shared<detail::FileDescriptor>(*fd));
}

int File::fd() const noexcept { return fd_ ? fd_->fd : -1; }

Task<Result<std::string>> File::read(uint64_t offset, std::size_t len) const {
  return on_fs([fd = fd_, offset, len]() -> Result<std::string> {
    if (!fd) return Error::closed;
    std::string out;
    out.resize(len);
    Result<std::size_t> n = pread_full(fd->fd, out.data(), len, offset);
    if (!n) return n.error();
    out.resize(*n);
    return out;
  });
}

Task<Result<std::size_t>> File::read(uint64_t offset, std::span<char> into) const {
  return on_fs([fd = fd_, offset, into]() -> Result<std::size_t> {
    if (!fd) return Error::closed;
    return pread_full(fd->fd, into.data(), into.size(), offset);
  });
}

Task<Result<void>> File::write(uint64_t offset, std::string data) const {
  return on_fs([fd = fd_, offset, data = std::move(data)]() -> std::error_code {
    if (!fd) return Error::closed;
    return write_all(fd->fd, data.data(), data.size(), static_cast<int64_t>(offset));
  });
}

Task<Result<Stat>> File::stat() const {
  return on_fs([fd = fd_]() -> Result<Stat> {
    if (!fd) return Error::closed;
    struct stat st {};
    if (::fstat(fd->fd, &st) < 0) return last_error();
    return to_stat(st);
  });
}

Task<Result<void>> File::sync() const {
  return on_fs([fd = fd_]() -> std::error_code {
    if (!fd) return Error::closed;
    if (::fsync(fd->fd) < 0) return last_error();
    return {};
  });
}

Task<Result<void>> File::close() {
  return on_fs([fd = std::move(fd_)]() mutable -> std::error_code {
    if (!fd) return Error::closed;
    // Only reference left: nobody else can start using it, so close here and report the result. Otherwise
    // the last operation in flight closes it as it lets go.
    if (fd.use_count() == 1) return close_fd(std::exchange(fd->fd, -1));
    return {};
  });
}

}  // namespace waitless::fs
