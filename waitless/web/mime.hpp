// Content-Type by file extension for static files: the common web types, text types with
// "; charset=utf-8" (what a UTF-8 site serves; a browser then never guesses), anything unknown as
// application/octet-stream (downloaded, never sniffed into HTML when sent with X-Content-Type-Options).
#pragma once
#include <string_view>

namespace waitless::web {

// The Content-Type for a path or file name, by its last extension, case-insensitively ("a/B.HTML" ->
// "text/html; charset=utf-8"). No extension or an unknown one: "application/octet-stream".
std::string_view content_type_for_path(std::string_view path) noexcept;

}  // namespace waitless::web
