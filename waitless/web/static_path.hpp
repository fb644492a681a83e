// Safe resolution of a request path to a file under a static root: the request path is decoded once and
// checked (resolve_request_path, pure), then the file is confined to the root on the filesystem
// (confine_to_root: symlinks resolved, none may lead outside).
//
//   auto rel = resolve_request_path(req.path());            // 404 on any StaticPathError (or 403: policy)
//   auto real = confine_to_root(root, rel->relative);       // blocking (realpath): run it on the pool
//   if (rel->directory) -> serve real + "/index.html" (confine that too)
//
// Refused, each with its StaticPathError:
//   bad_path        what decode_path (path.hpp) refuses: not starting with '/', a bad %-escape, control
//                   bytes (NUL included, raw or encoded), invalid UTF-8; and empty segments ("a//b");
//   traversal       "." or ".." segments, raw or encoded ("%2e%2e"), a '/' or '\' inside a decoded
//                   segment ("..%2fetc", "%2e%2e%2f", "..\\"): nothing may name a parent;
//   double_encoding a decoded segment still holding %XX ("%252e%252e%252f"): it would mean something else
//                   to whatever decodes it again, so it is refused rather than served literally;
//   dotfile         a segment starting with '.' (".env", ".git/config") unless allow_dotfiles;
//   not_found       the file or the root does not exist (realpath's ENOENT / ENOTDIR);
//   outside_root    the real path (symlinks resolved) is not the root or below it.
#pragma once
#include <string>
#include <string_view>
#include <system_error>

#include "waitless/base/result.hpp"

namespace waitless::web {

enum class StaticPathError {
  ok = 0,
  bad_path,
  traversal,
  double_encoding,
  dotfile,
  not_found,
  outside_root,
};
const std::error_category& static_path_category() noexcept;
inline std::error_code make_error_code(StaticPathError e) noexcept {
  return {static_cast<int>(e), static_path_category()};
}

struct StaticPathOptions {
  bool allow_dotfiles = false;
};

struct RequestedFile {
  std::string relative;    // decoded segments joined with '/', "" for the root itself
  bool directory = false;  // the request path ends with '/' (or is "/"): its index file is meant
};

// raw_path: the request-target's path, still percent-encoded, without the query.
Result<RequestedFile> resolve_request_path(std::string_view raw_path, const StaticPathOptions& options = {});

// The real path of root/relative, which must exist and be the root or lie below it once every symlink is
// resolved (root itself may be a symlink). Blocking (realpath(3) walks the filesystem).
Result<std::string> confine_to_root(const std::string& root, std::string_view relative);

}  // namespace waitless::web

template <>
struct std::is_error_code_enum<waitless::web::StaticPathError> : std::true_type {};
