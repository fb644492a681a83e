#include "waitless/web/static_path.hpp"

#include <errno.h>
#include <stdlib.h>

#include <memory>

#include "waitless/web/error_table.hpp"
#include "waitless/web/path.hpp"

namespace waitless::web {
namespace {

constexpr const char* kStaticPathMessages[] = {
    "ok",      "invalid path", "path traversal",   "double percent-encoding",
    "dotfile", "not found",    "outside the root",
};

bool is_hex(char c) noexcept { return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }

Result<std::string> real_path(const std::string& path) {
  std::unique_ptr<char, decltype(&::free)> real(::realpath(path.c_str(), nullptr), &::free);
  if (real) return std::string(real.get());
  if (errno == ENOENT || errno == ENOTDIR) return make_error_code(StaticPathError::not_found);
  return errno_code(errno);
}

}  // namespace

const std::error_category& static_path_category() noexcept {
  static const detail::TableCategory category("static_path", kStaticPathMessages);
  return category;
}

Result<RequestedFile> resolve_request_path(std::string_view raw_path, const StaticPathOptions& options) {
  DecodedPath decoded;
  if (auto r = decode_path(raw_path, decoded); !r) {
    return make_error_code(r.error() == PathError::dot_segment ? StaticPathError::traversal
                                                               : StaticPathError::bad_path);
  }
  RequestedFile file;
  file.directory = raw_path.ends_with('/');
  for (std::string_view segment : decoded.segments()) {
    if (segment.empty()) return make_error_code(StaticPathError::bad_path);
    if (segment.find_first_of("/\\") != std::string_view::npos)
      return make_error_code(StaticPathError::traversal);
    for (std::size_t i = 0; i + 2 < segment.size(); ++i) {
      if (segment[i] == '%' && is_hex(segment[i + 1]) && is_hex(segment[i + 2])) {
        return make_error_code(StaticPathError::double_encoding);
      }
    }
    if (segment.front() == '.' && !options.allow_dotfiles) return make_error_code(StaticPathError::dotfile);
    if (!file.relative.empty()) file.relative.push_back('/');
    file.relative.append(segment);
  }
  return file;
}

Result<std::string> confine_to_root(const std::string& root, std::string_view relative) {
  auto real_root = real_path(root);
  if (!real_root) return real_root.error();
  std::string joined = *real_root;
  if (!relative.empty()) joined.append("/").append(relative);
  auto real = real_path(joined);
  if (!real) return real.error();
  const std::string& r = *real_root;
  const bool inside = *real == r || (real->size() > r.size() && real->compare(0, r.size(), r) == 0 &&
                                     ((*real)[r.size()] == '/' || r == "/"));
  if (!inside) return make_error_code(StaticPathError::outside_root);
  return real;
}

}  // namespace waitless::web
