// Body parsers: middleware that read the request body into req.json() / req.form() / req.body(), app-wide
// (app.use(json_body())) or per route (app.post("/items", json_body({.limit = 64 * 1024}), handler)).
//
// Each takes the requests whose Content-Type matches its `type` (media type without parameters, compared
// case-insensitively; "text/*" and "application/*+json" patterns) and lets the others through untouched:
// a handler that calls req.json() on one of those gets a 415 (400 when there was no body at all).
//
// Limits: a body longer than `limit` is answered 413; exactly `limit` bytes pass. The App raises the
// request's own body limit to the largest parser limit on its route before any byte is read, so the
// server refuses a larger Content-Length at once (and a chunked body at the byte past it) without reading
// it; a parser whose limit is below that largest one checks its own. On a route whose chain is all plain
// the server collects the body before the chain runs, so it is the server that answers that 413 (its short
// text/plain one); on a coroutine route the parser sees the refusal and the answer is a problem document.
// Errors: JSON that does not parse is a 400 whose detail gives the position ("invalid JSON at line 2,
// column 5: syntax error"); a urlencoded body with a bad %-escape a 400; a body cut short or too slow to
// arrive, what the server says (400 / 408).
//
// Plain or coroutine: on a route whose chain is all plain functions the server collects the body before
// the chain runs and the parser is a plain call; otherwise it awaits the body (co_await req.raw().body()).
// Streaming multipart bodies is multipart_body.hpp's.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "waitless/web/chain.hpp"

namespace waitless::web {

inline constexpr uint64_t kDefaultBodyLimit = uint64_t{1024} * 1024;

struct JsonBodyOptions {
  uint64_t limit = kDefaultBodyLimit;
  std::size_t max_depth = 64;
  std::string type = "application/json";  // also matched: application/*+json when this is the default
};
struct FormBodyOptions {
  uint64_t limit = kDefaultBodyLimit;
  std::size_t max_pairs = 1000;
  std::string type = "application/x-www-form-urlencoded";
};
struct TextBodyOptions {
  uint64_t limit = kDefaultBodyLimit;
  std::string type = "text/*";
};
struct RawBodyOptions {
  uint64_t limit = kDefaultBodyLimit;
  std::string type = "application/octet-stream";  // "*/*": any type
};

Layer json_body(const JsonBodyOptions& options = {});
Layer urlencoded_body(const FormBodyOptions& options = {});
Layer text_body(const TextBodyOptions& options = {});
Layer raw_body(const RawBodyOptions& options = {});

// Whether a Content-Type value's media type matches `pattern` ("type/sub", "type/*", "*/*",
// "application/*+json").
bool media_type_matches(std::string_view content_type, std::string_view pattern) noexcept;

}  // namespace waitless::web
