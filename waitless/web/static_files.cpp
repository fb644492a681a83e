#include "waitless/web/static_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <memory>
#include <optional>
#include <utility>

#include "waitless/async/pool_run.hpp"
#include "waitless/fs/file.hpp"
#include "waitless/http/date_cache.hpp"
#include "waitless/web/etag.hpp"
#include "waitless/web/http_error.hpp"
#include "waitless/web/mime.hpp"
#include "waitless/web/range.hpp"
#include "waitless/web/request.hpp"
#include "waitless/web/response.hpp"
#include "waitless/web/static_path.hpp"

namespace waitless::web {
namespace {

// The most one sendfile call is asked for: a fast client on a large file gives the loop back between
// slices (each slice is as many sendfile(2) calls as the socket takes at once).
constexpr std::size_t kSendfileSlice = std::size_t{1} << 20;

struct Located {
  enum class Kind { file, add_slash } kind = Kind::file;
  std::string real;  // the file's real path (file)
};

bool is_regular(const std::string& path, bool& is_dir) noexcept {
  struct ::stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  is_dir = S_ISDIR(st.st_mode);
  return S_ISREG(st.st_mode);
}

// On the fs pool: the real path of the file `rel` names under `root` (its index for a directory), confined
// to the root. StaticPathError::not_found when there is nothing to serve.
Result<Located> locate(const std::string& root, const RequestedFile& rel, const std::string& index,
                       bool redirect) {
  auto real = confine_to_root(root, rel.relative);
  if (!real) return real.error();
  bool dir = false;
  if (is_regular(*real, dir)) {
    if (rel.directory) return make_error_code(StaticPathError::not_found);  // "/a.txt/": not a directory
    return Located{Located::Kind::file, std::move(*real)};
  }
  if (!dir) return make_error_code(StaticPathError::not_found);  // a socket, a FIFO, a device: never read
  if (!rel.directory) {
    if (redirect) return Located{Located::Kind::add_slash, {}};
    return make_error_code(StaticPathError::not_found);
  }
  if (index.empty()) return make_error_code(StaticPathError::not_found);
  std::string inner = rel.relative.empty() ? index : rel.relative + "/" + index;
  auto index_real = confine_to_root(root, inner);
  if (!index_real) return index_real.error();
  if (!is_regular(*index_real, dir)) return make_error_code(StaticPathError::not_found);
  return Located{Located::Kind::file, std::move(*index_real)};
}

std::string cache_control_for(const StaticOptions& o) {
  if (!o.cache_control.empty()) return o.cache_control;
  std::string v = "public, max-age=" + std::to_string(o.max_age.count());
  if (o.immutable) v += ", immutable";
  return v;
}

struct StaticConfig {
  std::string root;
  StaticOptions options;
  std::string cache_control;
};

std::optional<std::string_view> header_opt(const Request& req, std::string_view name) {
  if (!req.has_header(name)) return std::nullopt;
  return req.header(name);
}

// The answer to a path static_path refused (see the header's table).
[[noreturn]] void refuse(std::error_code ec) {
  if (ec == StaticPathError::traversal || ec == StaticPathError::double_encoding ||
      ec == StaticPathError::outside_root)
    throw HttpError(403, "the path leads outside the static root", ec);
  throw HttpError(404, "not found", ec);
}

Task<> serve(const StaticConfig& cfg, Request& req, Response& res, Next next) {
  const StaticOptions& o = cfg.options;
  const bool head = req.method_id() == http::Method::head;
  if (req.method_id() != http::Method::get && !head) {
    co_await next();
    co_return;
  }
  auto rel = resolve_request_path(req.relative_path(), {.allow_dotfiles = o.dotfiles});
  if (!rel) refuse(rel.error());
  // The mount point itself ("/assets" under app.use("/assets", ...)): a directory named without its '/'.
  if (!req.mount_path().empty() && req.path().size() == req.mount_path().size()) rel->directory = false;

  auto job = [root = cfg.root, file = *rel, index = o.index, redirect = o.redirect] {
    return locate(root, file, index, redirect);
  };
  auto located = co_await pools::fs().run(std::move(job));
  std::error_code not_found;
  if (!located) {
    if (located.error() != StaticPathError::not_found) {
      if (located.error().category() == static_path_category()) refuse(located.error());
      throw HttpError::from(located.error());  // EACCES 403, ...
    }
    not_found = located.error();
  } else if (located->kind == Located::Kind::add_slash) {
    std::string to(req.path());
    to += '/';
    if (!req.query_string().empty()) {
      to += '?';
      to += req.query_string();
    }
    res.redirect(to, 301);
    co_return;
  }

  std::optional<fs::File> file;
  if (!not_found) {
    auto opened = co_await fs::File::open(located->real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    if (opened) {
      file.emplace(std::move(*opened));
    } else if (opened.error() == std::errc::no_such_file_or_directory) {
      not_found = opened.error();  // removed since it was found
    } else if (opened.error() == std::errc::too_many_symbolic_link_levels) {
      throw HttpError(403, "the path leads outside the static root", opened.error());
    } else {
      throw HttpError::from(opened.error());
    }
  }
  if (not_found) {
    if (o.fallthrough) {
      co_await next();
      co_return;
    }
    throw HttpError(404, "not found", not_found);
  }

  auto st = co_await file->stat();
  if (!st) throw HttpError::from(st.error());
  if (!st->is_file()) throw HttpError(404, "not found");
  const uint64_t size = st->size;
  const int64_t mtime_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(st->mtime.time_since_epoch()).count();
  const std::time_t mtime = std::chrono::system_clock::to_time_t(st->mtime);
  const std::string etag = o.etag ? make_etag(size, mtime_ns) : std::string();

  // Ranges first: a 416 carries only its Content-Range.
  RangeDecision range;
  if (auto r = header_opt(req, "Range")) {
    const auto if_range = header_opt(req, "If-Range");
    if (!if_range || if_range_matches(*if_range, etag, mtime)) range = evaluate_range(r, size);
  }
  if (range.outcome == RangeOutcome::unsatisfiable) {
    throw HttpError(416, "the range is not within the file")
        .with_header("Content-Range", content_range_unsatisfied(size));
  }

  if (!etag.empty()) res.set_header("ETag", etag);
  if (o.last_modified) {
    char date[30];
    http::format_http_date(mtime, date);
    res.set_header("Last-Modified", std::string_view(date, 29));
  }
  res.set_header("Cache-Control", cfg.cache_control);
  if (is_not_modified(header_opt(req, "If-None-Match"),
                      o.last_modified ? header_opt(req, "If-Modified-Since") : std::nullopt, etag, mtime)) {
    res.status(304);
    co_return;
  }
  res.set_header("Accept-Ranges", "bytes");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.type(content_type_for_path(located->real));
  uint64_t offset = 0;
  uint64_t remaining = size;
  if (range.outcome == RangeOutcome::partial) {
    res.status(206).set_header("Content-Range", content_range(range.range, size));
    offset = range.range.first;
    remaining = range.range.length();
  } else {
    res.status(200);
  }
  if (auto ec = res.set_content_length(remaining)) throw HttpError::from(ec);
  if (head || remaining == 0) {
    res.end();
    co_return;
  }
  // The kernel copies the file to the socket (sendfile) when nothing has to see the bytes; else (gzip,
  // TLS, a pipelined response behind another) they are read and written in chunks.
  bool by_sendfile = true;
  const std::size_t chunk = o.chunk_size == 0 ? std::size_t{64} * 1024 : o.chunk_size;
  while (remaining > 0) {
    if (by_sendfile) {
      const auto want = static_cast<std::size_t>(std::min<uint64_t>(remaining, kSendfileSlice));
      auto sent = res.write_file(file->fd(), offset, want);
      if (sent) {
        offset += *sent;
        remaining -= std::min<uint64_t>(remaining, *sent);
        if (res.needs_drain()) {
          if (auto ec = co_await res.drain()) co_return;  // gone (or cancelled) while slow
        } else if (*sent < want) {
          break;  // the file shrank: end() sees the short count
        }
        continue;
      }
      if (sent.error() != std::errc::operation_not_supported) co_return;  // the client went away
      by_sendfile = false;
    }
    const auto want = static_cast<std::size_t>(std::min<uint64_t>(remaining, chunk));
    auto piece = co_await file->read(offset, want);
    if (!piece) throw HttpError::from(piece.error());  // after the head: the server cuts the connection
    if (piece->empty()) break;                         // the file shrank: end() sees the short count
    if (auto ec = res.write(*piece)) co_return;        // the client went away
    offset += piece->size();
    remaining -= std::min<uint64_t>(remaining, piece->size());
    if (res.needs_drain()) {
      if (auto ec = co_await res.drain()) co_return;  // gone (or cancelled) while slow
    }
  }
  res.end();
}

}  // namespace

Layer serve_static(std::string root, StaticOptions options) {
  auto cfg = std::make_shared<StaticConfig>(StaticConfig{std::move(root), std::move(options), {}});
  cfg->cache_control = cache_control_for(cfg->options);
  Layer layer;
  layer.async = [cfg](Request& req, Response& res, Next next) -> Task<> {
    return serve(*cfg, req, res, next);
  };
  return layer;
}

}  // namespace waitless::web
