#include "waitless/web/body_parser.hpp"

#include <functional>
#include <memory>

#include "waitless/http/header.hpp"
#include "waitless/web/header_params.hpp"
#include "waitless/web/http_error.hpp"
#include "waitless/web/json.hpp"
#include "waitless/web/request.hpp"
#include "waitless/web/response.hpp"

namespace waitless::web {

bool media_type_matches(std::string_view content_type, std::string_view pattern) noexcept {
  std::string_view media = trim_ows(content_type.substr(0, content_type.find(';')));
  if (pattern == "*/*") return !media.empty();
  const std::size_t slash = pattern.find('/');
  if (slash == std::string_view::npos) return false;
  const std::string_view ptype = pattern.substr(0, slash), psub = pattern.substr(slash + 1);
  const std::size_t mslash = media.find('/');
  if (mslash == std::string_view::npos) return false;
  const std::string_view mtype = media.substr(0, mslash), msub = media.substr(mslash + 1);
  if (!http::iequals(ptype, mtype)) return false;
  if (psub == "*") return !msub.empty();
  if (psub.size() > 2 && psub.substr(0, 2) == "*+") {  // "*+json": any subtype with that suffix
    const std::string_view suffix = psub.substr(1);
    return msub.size() > suffix.size() && http::iequals(msub.substr(msub.size() - suffix.size()), suffix);
  }
  return http::iequals(psub, msub);
}

namespace {

// What a parser does with the whole body once it has it.
using Consume = std::function<void(Request&, std::string_view)>;

struct ParserSpec {
  uint64_t limit;
  std::function<bool(std::string_view content_type)> accepts;
  Consume consume;
};

[[noreturn]] void throw_body_error(std::error_code ec) {
  if (ec.category() != waitless_category())
    throw HttpError(400, "the body could not be read: " + ec.message(), ec);
  switch (static_cast<Error>(ec.value())) {
    case Error::limit_exceeded:
      throw HttpError(413, "the body is larger than this route accepts", ec);
    case Error::timed_out:
      throw HttpError(408, "the body did not arrive in time", ec);
    case Error::protocol_error:
      throw HttpError(400, "the body is malformed", ec);
    default:
      // The client went away (closed) or the request was cancelled: nobody reads the answer.
      throw HttpError(400, "the body could not be read: " + ec.message(), ec);
  }
}

bool wants(const ParserSpec& spec, Request& req) {
  req.state().parser_ran = true;
  if (!req.raw().has_body() || req.state().body_read || req.state().json || req.state().form_parsed)
    return false;
  return spec.accepts(req.header("content-type"));
}

void take(const ParserSpec& spec, Request& req, std::string_view body) {
  if (body.size() > spec.limit) throw HttpError(413, "the body is larger than this route accepts");
  spec.consume(req, body);
}

Layer make_parser(ParserSpec spec_in) {
  auto spec = std::make_shared<const ParserSpec>(std::move(spec_in));
  Layer layer;
  layer.body_limit = spec->limit;
  layer.sync = [spec](Request& req, Response&, Next next) {
    if (wants(*spec, req)) take(*spec, req, req.raw().body_view());  // collected before the chain ran
    next();
  };
  layer.async = [spec](Request& req, Response&, Next next) -> Task<> {
    if (wants(*spec, req)) {
      Result<std::string_view> body = co_await req.raw().body();
      if (!body) throw_body_error(body.error());
      take(*spec, req, *body);
    }
    co_await next();
  };
  return layer;
}

}  // namespace

Layer json_body(const JsonBodyOptions& options) {
  const bool default_type = options.type == "application/json";
  std::string type = options.type;
  JsonOptions jo;
  jo.max_depth = options.max_depth;
  return make_parser(ParserSpec{options.limit,
                                [type, default_type](std::string_view ct) {
                                  return media_type_matches(ct, type) ||
                                         (default_type && media_type_matches(ct, "application/*+json"));
                                },
                                [jo](Request& req, std::string_view body) {
                                  JsonError where;
                                  auto v = parse_json(body, &where, jo);
                                  if (!v) throw HttpError(400, where.message(), where.code);
                                  req.state().json.emplace(std::move(*v));
                                }});
}

Layer urlencoded_body(const FormBodyOptions& options) {
  std::string type = options.type;
  FormLimits limits{.max_pairs = options.max_pairs, .max_size = static_cast<std::size_t>(options.limit)};
  return make_parser(ParserSpec{options.limit,
                                [type](std::string_view ct) { return media_type_matches(ct, type); },
                                [limits](Request& req, std::string_view body) {
                                  if (auto ec = req.state().form.parse(body, limits)) {
                                    const int status = ec == FormError::bad_percent_encoding ? 400 : 413;
                                    throw HttpError(status, "the form body: " + ec.message(), ec);
                                  }
                                  req.state().form_parsed = true;
                                }});
}

namespace {
Layer bytes_parser(uint64_t limit, const std::string& type) {
  return make_parser(ParserSpec{limit, [type](std::string_view ct) { return media_type_matches(ct, type); },
                                [](Request& req, std::string_view body) {
                                  req.state().body = body;
                                  req.state().body_read = true;
                                }});
}
}  // namespace

Layer text_body(const TextBodyOptions& options) { return bytes_parser(options.limit, options.type); }
Layer raw_body(const RawBodyOptions& options) { return bytes_parser(options.limit, options.type); }

}  // namespace waitless::web
