#include "waitless/web/multipart_reader.hpp"

#include "waitless/web/body_parser.hpp"
#include "waitless/web/http_error.hpp"
#include "waitless/web/request.hpp"

namespace waitless::web {

MultipartReader::MultipartReader(Request& req, MultipartReaderOptions options) : req_(req) {
  const std::string_view type = req.header("content-type");
  if (!req.raw().has_body()) throw HttpError(400, "a multipart/form-data body is required");
  if (!media_type_matches(type, "multipart/form-data"))
    throw HttpError(415, "expected a multipart/form-data body, got " + std::string(type));
  auto parser = MultipartParser::from_content_type(type, options.limits);
  if (!parser)
    throw HttpError(400, "the multipart Content-Type: " + parser.error().message(), parser.error());
  parser_.emplace(std::move(*parser));
  req.raw().set_body_limit(options.limit);
}

Task<MultipartEvent> MultipartReader::pull() {
  for (;;) {
    MultipartEvent ev = parser_->next();
    if (ev.kind == MultipartEvent::error) {
      done_ = true;
      throw HttpError(is_multipart_limit(ev.ec) ? 413 : 400, "the multipart body: " + ev.ec.message(), ev.ec);
    }
    if (ev.kind != MultipartEvent::need_more) co_return ev;
    auto piece = co_await req_.raw().read();
    if (!piece) {
      done_ = true;
      const std::error_code ec = piece.error();
      if (ec == Error::limit_exceeded) throw HttpError(413, "the body is larger than this route accepts", ec);
      if (ec == Error::timed_out) throw HttpError(408, "the body did not arrive in time", ec);
      throw HttpError(400, "the body could not be read: " + ec.message(), ec);
    }
    if (piece->empty()) {
      parser_->finish();
    } else {
      parser_->feed(*piece);
    }
  }
}

Task<const MultipartPart*> MultipartReader::next_part() {
  while (!done_) {
    MultipartEvent ev = co_await pull();
    switch (ev.kind) {
      case MultipartEvent::part_begin:
        in_part_ = true;
        co_return &parser_->part();
      case MultipartEvent::done:
        done_ = true;
        break;
      default:  // the rest of the current part, skipped
        in_part_ = ev.kind != MultipartEvent::part_end && in_part_;
        break;
    }
  }
  co_return nullptr;
}

Task<std::string_view> MultipartReader::read() {
  if (!in_part_ || done_) co_return std::string_view{};
  MultipartEvent ev = co_await pull();
  if (ev.kind == MultipartEvent::part_data) co_return ev.data;
  // part_end (a part_begin or done cannot come before it)
  in_part_ = false;
  co_return std::string_view{};
}

}  // namespace waitless::web
