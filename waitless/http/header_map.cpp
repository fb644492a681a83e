#include "waitless/http/header_map.hpp"

#include <algorithm>

namespace waitless::http {

HeaderMap::HeaderMap(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  std::size_t bytes = 0;
  for (const auto& [n, v] : fields) bytes += n.size() + v.size();
  data_.reserve(bytes);
  fields_.reserve(fields.size());
  for (const auto& [n, v] : fields) add(n, v);
}

void HeaderMap::add(std::string_view name, std::string_view value) {
  // Either view may point into data_ itself (h.add(h[0].name, ...)): growing data_ would move those bytes,
  // so they are located by offset and re-read after the reserve.
  auto inside = [this](std::string_view v) {
    return !v.empty() && v.data() >= data_.data() && v.data() < data_.data() + data_.size();
  };
  const bool name_in = inside(name), value_in = inside(value);
  const std::size_t name_at = name_in ? static_cast<std::size_t>(name.data() - data_.data()) : 0;
  const std::size_t value_at = value_in ? static_cast<std::size_t>(value.data() - data_.data()) : 0;
  data_.reserve(data_.size() + name.size() + value.size());
  if (name_in) name = std::string_view(data_.data() + name_at, name.size());
  if (value_in) value = std::string_view(data_.data() + value_at, value.size());
  Field f;
  f.name_off = static_cast<uint32_t>(data_.size());
  f.name_len = static_cast<uint32_t>(name.size());
  data_.append(name);
  f.value_off = static_cast<uint32_t>(data_.size());
  f.value_len = static_cast<uint32_t>(value.size());
  data_.append(value);
  fields_.push_back(f);
}

void HeaderMap::set(std::string_view name, std::string_view value) {
  // `name` or `value` may view this map's own bytes: append first, then drop the older fields.
  add(name, value);
  Field last = fields_.back();
  fields_.pop_back();
  remove(std::string_view(data_.data() + last.name_off, last.name_len));
  fields_.push_back(last);
}

std::size_t HeaderMap::remove(std::string_view name) noexcept {
  // The bytes stay in data_ (unreferenced) until clear(): removal is rare, compaction is not worth it.
  std::size_t before = fields_.size();
  fields_.erase(std::remove_if(fields_.begin(), fields_.end(),
                               [&](const Field& f) { return iequals(view(f).name, name); }),
                fields_.end());
  return before - fields_.size();
}

void HeaderMap::clear() noexcept {
  data_.clear();
  fields_.clear();
}

std::optional<std::string_view> HeaderMap::find(std::string_view name) const noexcept {
  for (const Field& f : fields_) {
    if (f.name_len == name.size() && iequals(view(f).name, name)) return view(f).value;
  }
  return std::nullopt;
}

std::size_t HeaderMap::count(std::string_view name) const noexcept {
  std::size_t n = 0;
  for (const Field& f : fields_) n += f.name_len == name.size() && iequals(view(f).name, name);
  return n;
}

}  // namespace waitless::http
