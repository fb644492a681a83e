// Path-scoped middleware: `app.use("/static", serve_static("public"))` runs the middleware only for
// requests whose path is "/static" or lies below it ("/static/a.css"), as Express's app.use(path, fn).
//
// Matching is on decoded segments, the way the router matches routes: "/st%61tic/a" is under "/static"
// (so an auth middleware on "/admin" cannot be skipped by encoding a letter of the route the router still
// finds), "/staticx" and "/static.css" are not, and a path whose prefix segments are not well encoded
// does not match (the router answers it 400). Case-sensitive, like the router.
//
// Inside the middleware, req.mount_path() is the prefix and req.relative_path() the rest of the path,
// still percent-encoded ("/a.css"; "/" for the prefix itself): what serve_static() resolves. Both are
// back to "" and the whole path once the scoped middleware returns (or finishes, for a coroutine); the
// layers it runs through next() see them as it does.
//
// Plain or coroutine: a scoped coroutine middleware makes only the requests it matches take the
// coroutine path; the others stay on the plain fast path (App::resolve asks mount_matches()).
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "waitless/base/result.hpp"
#include "waitless/web/chain.hpp"

namespace waitless::web {

// A prefix split into its segments ("/api/v1" -> {"api", "v1"}). "/" or "" is the root: every path.
// Error::invalid_argument for a prefix not starting with '/', with an empty segment ("/a//b"), "." or
// "..", or a segment with '%' (write prefixes decoded).
Result<std::vector<std::string>> split_mount_prefix(std::string_view prefix);

// Where the prefix ends in `raw_path` (the offset of the rest in the raw, encoded path), or nullopt when
// the path is not the prefix or below it (see the file comment).
std::optional<std::size_t> mount_matches(std::string_view raw_path,
                                         const std::vector<std::string>& segments) noexcept;

// The middleware `inner` run only under `segments` (App::use(prefix, mw) builds it).
Layer scope_layer(std::vector<std::string> segments, Layer inner);

}  // namespace waitless::web
