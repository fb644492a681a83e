// HeaderMap: an ordered list of header fields that owns its bytes, with ASCII case-insensitive lookup. The
// client's request and response headers. All names and values live in one string and the fields are
// offsets into it, so a response head costs two allocations whatever its field count, and clear() keeps
// both for reuse.
//
//   HeaderMap h{{"Accept", "text/plain"}, {"X-Id", "7"}};
//   h.add("Cookie", "a=1");
//   std::string_view ct = res.headers.get("content-type");   // "" when absent
//   for (Header f : res.headers) ...                          // in received order, duplicates kept
//
// No validation here: the client refuses names that are not tokens and values with CR, LF, NUL or other
// controls when it sends them (Error::invalid_argument); the response parser only stores what llhttp and
// its own checks accepted.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "waitless/http/header.hpp"

namespace waitless::http {

class ResponseParser;
struct ResponseCallbacks;

class HeaderMap {
 public:
  HeaderMap() = default;
  HeaderMap(std::initializer_list<std::pair<std::string_view, std::string_view>> fields);

  // Appends a field (duplicates are kept, in order).
  void add(std::string_view name, std::string_view value);
  // Replaces every field with this name by one at the end.
  void set(std::string_view name, std::string_view value);
  // Removes every field with this name; returns how many.
  std::size_t remove(std::string_view name) noexcept;
  // Empties the map, keeping its memory.
  void clear() noexcept;

  std::size_t size() const noexcept { return fields_.size(); }
  bool empty() const noexcept { return fields_.empty(); }
  Header operator[](std::size_t i) const noexcept { return view(fields_[i]); }

  // The first field's value with this name, or nullopt.
  std::optional<std::string_view> find(std::string_view name) const noexcept;
  // The first field's value with this name, or "".
  std::string_view get(std::string_view name) const noexcept {
    return find(name).value_or(std::string_view{});
  }
  bool contains(std::string_view name) const noexcept { return find(name).has_value(); }
  // How many fields carry this name.
  std::size_t count(std::string_view name) const noexcept;
  // Bytes of names and values stored (what the map holds beyond its field array).
  std::size_t bytes() const noexcept { return data_.size(); }

  class iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Header;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = Header;
    iterator() = default;
    Header operator*() const noexcept { return map_->operator[](i_); }
    iterator& operator++() noexcept {
      ++i_;
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator t = *this;
      ++i_;
      return t;
    }
    bool operator==(const iterator& o) const noexcept { return i_ == o.i_; }

   private:
    friend class HeaderMap;
    iterator(const HeaderMap* m, std::size_t i) noexcept : map_(m), i_(i) {}
    const HeaderMap* map_ = nullptr;
    std::size_t i_ = 0;
  };
  iterator begin() const noexcept { return {this, 0}; }
  iterator end() const noexcept { return {this, fields_.size()}; }

 private:
  friend class ResponseParser;  // appends names and values piece by piece while parsing
  friend struct ResponseCallbacks;
  struct Field {
    uint32_t name_off, name_len, value_off, value_len;
  };
  Header view(const Field& f) const noexcept {
    return {std::string_view(data_.data() + f.name_off, f.name_len),
            std::string_view(data_.data() + f.value_off, f.value_len)};
  }

  std::string data_;
  std::vector<Field> fields_;
};

}  // namespace waitless::http
