#include "waitless/web/multipart_body.hpp"

#include <fcntl.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>

#include "waitless/fs/file.hpp"
#include "waitless/web/body_parser.hpp"
#include "waitless/web/http_error.hpp"
#include "waitless/web/request.hpp"
#include "waitless/web/response.hpp"

namespace waitless::web {

namespace {

constexpr std::size_t kWriteBuffer = std::size_t{256} * 1024;

std::string fresh_name(const std::string& dir) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[40];
  std::snprintf(buf, sizeof buf, "/waitless-upload-%016llx", static_cast<unsigned long long>(rng()));
  return dir + buf;
}

[[noreturn]] void throw_read_error(std::error_code ec) {
  if (ec == Error::limit_exceeded) throw HttpError(413, "the body is larger than this route accepts", ec);
  if (ec == Error::timed_out) throw HttpError(408, "the body did not arrive in time", ec);
  throw HttpError(400, "the body could not be read: " + ec.message(), ec);
}

// Reads the whole body through the parser into `form`, files to disk.
Task<> read_form(Request& req, MultipartParser& parser, MultipartForm& form, const std::string& dir) {
  std::optional<fs::File> file;
  std::string buffer;
  uint64_t offset = 0;
  auto flush = [&]() -> Task<> {
    if (buffer.empty()) co_return;
    const std::size_t n = buffer.size();
    auto r = co_await file->write(offset, std::move(buffer));
    buffer = std::string();
    buffer.reserve(kWriteBuffer);
    if (!r) throw HttpError(500, "writing an upload: " + r.error().message(), r.error());
    offset += n;
  };
  for (;;) {
    MultipartEvent ev = parser.next();
    switch (ev.kind) {
      case MultipartEvent::need_more: {
        auto piece = co_await req.raw().read();
        if (!piece) throw_read_error(piece.error());
        if (piece->empty()) {
          parser.finish();
        } else {
          parser.feed(*piece);
        }
        break;
      }
      case MultipartEvent::part_begin: {
        const MultipartPart& part = parser.part();
        if (!part.is_file()) {
          form.fields.emplace_back(std::string(part.name), std::string());
          break;
        }
        UploadedFile up{std::string(part.name), std::string(part.filename), std::string(part.content_type),
                        fresh_name(dir), 0};
        auto opened = co_await fs::File::open(up.path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (!opened) throw HttpError(500, "creating an upload: " + opened.error().message(), opened.error());
        form.files.push_back(std::move(up));  // listed at once: removed at the end whatever happens
        file.emplace(std::move(*opened));
        offset = 0;
        buffer.reserve(kWriteBuffer);
        break;
      }
      case MultipartEvent::part_data:
        if (file) {
          buffer.append(ev.data);
          form.files.back().size += ev.data.size();
          if (buffer.size() >= kWriteBuffer) co_await flush();
        } else {
          form.fields.back().second.append(ev.data);
        }
        break;
      case MultipartEvent::part_end:
        if (file) {
          co_await flush();
          auto closed = co_await file->close();
          file.reset();
          if (!closed) throw HttpError(500, "closing an upload: " + closed.error().message(), closed.error());
        }
        break;
      case MultipartEvent::done:
        co_return;
      case MultipartEvent::error:
        throw HttpError(is_multipart_limit(ev.ec) ? 413 : 400, "the multipart body: " + ev.ec.message(),
                        ev.ec);
    }
  }
}

}  // namespace

Layer multipart_body(MultipartOptions options) {
  if (options.upload_dir.empty()) options.upload_dir = std::filesystem::temp_directory_path().string();
  auto opts = std::make_shared<const MultipartOptions>(std::move(options));
  Layer layer;
  layer.body_limit = opts->limit;
  layer.async = [opts](Request& req, Response&, Next next) -> Task<> {
    req.state().parser_ran = true;
    const std::string_view type = req.header("content-type");
    if (!req.raw().has_body() || !media_type_matches(type, "multipart/form-data")) {
      co_await next();
      co_return;
    }
    auto parser = MultipartParser::from_content_type(type, opts->limits);
    if (!parser)
      throw HttpError(400, "the multipart Content-Type: " + parser.error().message(), parser.error());
    auto form = std::make_shared<MultipartForm>();
    req.state().multipart = form;
    std::exception_ptr err;
    try {
      co_await read_form(req, *parser, *form, opts->upload_dir);
      co_await next();
    } catch (...) {
      err = std::current_exception();
    }
    for (const UploadedFile& f : form->files) {
      (void)co_await fs::unlink(f.path);  // ENOENT: the handler moved it, as it may
    }
    if (err) std::rethrow_exception(err);
  };
  return layer;
}

const MultipartForm& multipart_form(const Request& req) {
  const auto& st = const_cast<Request&>(req).state();
  if (st.multipart) return *static_cast<const MultipartForm*>(st.multipart.get());
  if (!st.parser_ran) throw std::logic_error("multipart_form() without multipart_body on the route");
  if (const_cast<Request&>(req).raw().has_body())
    throw HttpError(415,
                    "expected a multipart/form-data body, got " + std::string(req.header("content-type")));
  throw HttpError(400, "a multipart/form-data body is required");
}

}  // namespace waitless::web
