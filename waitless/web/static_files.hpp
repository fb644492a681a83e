// serve_static: files under a directory, as Express's serve-static.
//
//   app.use(serve_static("public"));                                   // "/a.css" -> public/a.css
//   app.use("/assets", serve_static("build", {.max_age = std::chrono::hours(24 * 365), .immutable = true}));
//
// For GET and HEAD (other methods go on to next()), the request's path (relative to the mount prefix,
// mount_path.hpp) is resolved under the root by static_path.hpp, then:
//   - refused paths: traversal ("..", "%2e%2e%2f", "..%5c"), double encoding ("%252e") and symlinks
//     leading outside the root → 403; a dotfile (".env", ".git/config") unless `dotfiles` → 404; a path
//     that is not well encoded (NUL, a bad escape, invalid UTF-8) → 404. Answered with HttpError, so the
//     errors middleware writes the problem document.
//   - not found → next() (fallthrough, the default: a later route or the App's 404 answers), or 404.
//   - a directory: without a trailing '/' → 301 to the same path with '/' (query kept); with it, its
//     `index` file (or next()/404 when there is none, or index is empty).
//   - the file: ETag (strong, size + mtime, etag.hpp) and Last-Modified; a conditional GET/HEAD that
//     matches (If-None-Match, else If-Modified-Since) → 304 without a body; a single `Range` → 206 with
//     Content-Range, an unsatisfiable one → 416 with `Content-Range: bytes */size`; If-Range that does
//     not match → the whole file; Accept-Ranges: bytes; Content-Type by extension (mime.hpp);
//     Cache-Control from the options; X-Content-Type-Options: nosniff.
// The body goes by sendfile(2) when nothing must see its bytes (Response::write_file): the kernel copies
// from the page cache to the socket, up to 1 MiB per call, and a full socket waits for writable (a slow
// client holds no memory at all). A Range is sent from its offset the same way. Under a body filter that
// transforms it (compression), over TLS, or for a pipelined response queued behind another, the body is
// streamed instead: chunk_size bytes read at a time on the fs pool, written, and no next read before the
// connection's output has drained: memory per request is one chunk plus the connection's buffer, whatever
// the file's size. A HEAD request reads nothing. The response has a Content-Length (so a body filter such
// as compression turns it chunked). sendfile reads the page cache on the loop's thread: a file not in
// memory blocks the loop for its disk reads (as nginx without aio threads).
//
// The file is opened with O_NOFOLLOW at the real path realpath() gave (symlinks inside the root are
// followed, by that resolution). A directory swapped for a symlink between the check and the open is not
// caught (no openat2 RESOLVE_BENEATH here): the root should not be writable by the untrusted.
#pragma once
#include <chrono>
#include <cstddef>
#include <string>

#include "waitless/web/chain.hpp"

namespace waitless::web {

struct StaticOptions {
  std::string index = "index.html";  // served for a directory request; empty: none
  bool dotfiles = false;             // serve ".name" segments (refused with 404 by default)
  bool fallthrough = true;           // not found: next() (true) or 404
  bool redirect = true;              // a directory without its '/': 301 to it
  bool etag = true;
  bool last_modified = true;
  // Cache-Control: `cache_control` verbatim when set; else "public, max-age=N" (+ ", immutable").
  std::chrono::seconds max_age{0};
  bool immutable = false;
  std::string cache_control;
  std::size_t chunk_size = std::size_t{64} * 1024;
};

Layer serve_static(std::string root, StaticOptions options = {});

}  // namespace waitless::web
