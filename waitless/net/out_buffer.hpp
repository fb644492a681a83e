// OutBuffer: bytes waiting to be sent. A response is written into it with one capacity check and plain
// copies (extend() hands out uninitialised room: std::string would zero it, or check once per piece).
// Consumed from the front (send() took part of it) by an offset; compacted when that offset grows large.
// The transport's write queue is one; the HTTP server writes its responses into them.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string_view>
#include <utility>

namespace waitless::net {

class OutBuffer {
 public:
  OutBuffer() = default;
  OutBuffer(const OutBuffer&) = delete;
  OutBuffer& operator=(const OutBuffer&) = delete;
  ~OutBuffer() { std::free(data_); }

  // The unsent bytes.
  const char* data() const noexcept { return data_ + off_; }
  std::size_t size() const noexcept { return size_ - off_; }
  bool empty() const noexcept { return size_ == off_; }
  std::size_t capacity() const noexcept { return cap_; }

  // Room for n more bytes at the end, uninitialised; they count as written.
  char* extend(std::size_t n) {
    if (cap_ - size_ < n) grow(n);
    char* p = data_ + size_;
    size_ += n;
    return p;
  }
  void append(const char* p, std::size_t n) {
    if (n) std::memcpy(extend(n), p, n);
  }
  void append(std::string_view s) { append(s.data(), s.size()); }
  // Drops n bytes from the front (they were sent).
  void consume(std::size_t n) noexcept {
    off_ += n;
    if (off_ == size_) {
      off_ = size_ = 0;
    } else if (off_ > 64 * 1024 && off_ * 2 > size_) {
      std::memmove(data_, data_ + off_, size_ - off_);
      size_ -= off_;
      off_ = 0;
    }
  }
  // Removes n bytes at pos (counted from data()); the rest moves down.
  void erase(std::size_t pos, std::size_t n) noexcept {
    char* p = data_ + off_ + pos;
    std::memmove(p, p + n, size() - pos - n);
    size_ -= n;
  }
  void clear() noexcept { off_ = size_ = 0; }
  // clear() and give the memory back.
  void release() noexcept {
    std::free(std::exchange(data_, nullptr));
    off_ = size_ = cap_ = 0;
  }

 private:
  void grow(std::size_t n) {
    std::size_t cap = cap_ ? cap_ * 2 : 512;
    while (cap - size_ < n) cap *= 2;
    void* p = std::realloc(data_, cap);
    if (!p) throw std::bad_alloc();
    data_ = static_cast<char*>(p);
    cap_ = cap;
  }

  char* data_ = nullptr;
  std::size_t off_ = 0;
  std::size_t size_ = 0;
  std::size_t cap_ = 0;
};

}  // namespace waitless::net
