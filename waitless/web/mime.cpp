#include "waitless/web/mime.hpp"

#include <algorithm>

namespace waitless::web {
namespace {

struct MimeEntry {
  std::string_view extension;  // lower case, without the dot
  std::string_view type;
};

// Sorted by extension (checked below) for a binary search.
constexpr MimeEntry kTypes[] = {
    {"7z", "application/x-7z-compressed"},
    {"aac", "audio/aac"},
    {"apng", "image/apng"},
    {"avif", "image/avif"},
    {"bin", "application/octet-stream"},
    {"bmp", "image/bmp"},
    {"css", "text/css; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"eot", "application/vnd.ms-fontobject"},
    {"epub", "application/epub+zip"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"htm", "text/html; charset=utf-8"},
    {"html", "text/html; charset=utf-8"},
    {"ico", "image/vnd.microsoft.icon"},
    {"ics", "text/calendar; charset=utf-8"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"jsonld", "application/ld+json"},
    {"m4a", "audio/mp4"},
    {"map", "application/json"},
    {"md", "text/markdown; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"mpeg", "video/mpeg"},
    {"oga", "audio/ogg"},
    {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"rss", "application/rss+xml"},
    {"svg", "image/svg+xml"},
    {"tar", "application/x-tar"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"ttf", "font/ttf"},
    {"txt", "text/plain; charset=utf-8"},
    {"wasm", "application/wasm"},
    {"wav", "audio/wav"},
    {"weba", "audio/webm"},
    {"webm", "video/webm"},
    {"webmanifest", "application/manifest+json"},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xhtml", "application/xhtml+xml"},
    {"xml", "application/xml"},
    {"zip", "application/zip"},
    {"zst", "application/zstd"},
};

constexpr bool sorted() {
  for (std::size_t i = 1; i < std::size(kTypes); ++i) {
    if (!(kTypes[i - 1].extension < kTypes[i].extension)) return false;
  }
  return true;
}
static_assert(sorted(), "kTypes must be sorted by extension");

}  // namespace

std::string_view content_type_for_path(std::string_view path) noexcept {
  constexpr std::string_view kDefault = "application/octet-stream";
  const std::size_t slash = path.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == name.size() || name.size() - dot - 1 > 16) return kDefault;
  char lower[16];
  const std::string_view ext = name.substr(dot + 1);
  for (std::size_t i = 0; i < ext.size(); ++i) {
    lower[i] = (ext[i] >= 'A' && ext[i] <= 'Z') ? static_cast<char>(ext[i] + 32) : ext[i];
  }
  const std::string_view key(lower, ext.size());
  const auto it = std::lower_bound(std::begin(kTypes), std::end(kTypes), key,
                                   [](const MimeEntry& e, std::string_view k) { return e.extension < k; });
  return it != std::end(kTypes) && it->extension == key ? it->type : kDefault;
}

}  // namespace waitless::web
