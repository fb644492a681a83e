// MultipartReader: a multipart/form-data body handed to the handler as streams, part by part, with no disk
// and no buffering beyond the piece the server just read (multipart_body.hpp writes files to disk instead).
//
//   app.post("/import", [](Request& req, Response& res) -> Task<> {
//     MultipartReader parts(req, {.limit = 1 << 30});          // the Content-Type's boundary; 415/400 if bad
//     while (const MultipartPart* part = co_await parts.next_part()) {
//       while (true) {
//         std::string_view piece = co_await parts.read();      // empty: the part is over
//         if (piece.empty()) break;
//         co_await sink.write(piece);                           // the connection is not read meanwhile
//       }
//     }
//     res.send("imported");
//   });
//
// Bad input and limits throw HttpError (400, or 413 for MultipartLimits and the whole-body `limit`), like
// the parsers. Views (the part, a piece) are valid until the next call. The handler must be a coroutine.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

#include "waitless/async/task.hpp"
#include "waitless/web/multipart.hpp"

namespace waitless::web {

class Request;

struct MultipartReaderOptions {
  uint64_t limit = uint64_t{64} * 1024 * 1024;  // the whole body (the request's body limit)
  MultipartLimits limits;
};

class MultipartReader {
 public:
  // Reads the boundary from the request's Content-Type and sets its body limit. Throws HttpError 415 (not
  // multipart/form-data) or 400 (no body, a bad boundary).
  explicit MultipartReader(Request& req, MultipartReaderOptions options = {});
  MultipartReader(const MultipartReader&) = delete;
  MultipartReader& operator=(const MultipartReader&) = delete;

  // The next part (skipping what is left of the current one), or null after the last.
  Task<const MultipartPart*> next_part();
  // The next piece of the current part; empty when it is over.
  Task<std::string_view> read();

 private:
  // The next parser event, feeding it body pieces as it asks.
  Task<MultipartEvent> pull();
  Request& req_;
  std::optional<MultipartParser> parser_;
  bool in_part_ = false;
  bool done_ = false;
};

}  // namespace waitless::web
