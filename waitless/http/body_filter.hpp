// BodyFilter: a transformation of a response's outgoing body (compression, and later the proxy's
// rewriting), streamed: it sees each piece the handler sends or writes and gives back what goes out.
//
//   struct Upper final : http::BodyFilter {
//     Mode on_head(Response& res, std::optional<uint64_t>) override { return Mode::transform; }
//     Result<std::string_view> transform(std::string_view in, bool last) override { ...; return out_; }
//     std::string out_;
//   };
//   res.add_body_filter(*req.arena().make<Upper>());   // lives as long as the request
//
// The response calls on_head() once, just before its head is written, with the status and the header
// list final but still changeable (a filter sets Content-Encoding, Vary, or removes a validator there):
// `length` is the body's length when known (send(), or set_content_length()). A filter answers pass (it
// steps aside: no further call) or transform: then every piece goes through transform(), the last one
// with last = true (from end(), or from send() with the whole body), and the body's length is no longer
// known: a streamed response becomes chunked (close-delimited for HTTP/1.0); send() collects the
// transformed whole and gives it a Content-Length.
//
// Several filters chain: the one added last sees the handler's bytes first (it was added by the innermost
// middleware), and its output is the next one's input. transform()'s result stays valid until its next
// call. An error from transform() is the response's error (Response::error()): before the head went out
// the server answers 500; after, the response is cut short and the connection closes.
//
// A response without a filter pays one pointer test per send/write/end. Responses that carry no body (204,
// 304) never call a filter; a HEAD response runs them (its Content-Length is what GET would send) and
// drops their output.
//
// The response does not own its filters: make them in the request's arena (Request::arena()), which lives
// until the exchange is recycled, after the response has been written.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

#include "waitless/base/result.hpp"

namespace waitless::http {

class Response;

class BodyFilter {
 public:
  enum class Mode : uint8_t { pass, transform };
  virtual Mode on_head(Response& res, std::optional<uint64_t> length) = 0;
  virtual Result<std::string_view> transform(std::string_view in, bool last) = 0;

 protected:
  BodyFilter() = default;
  BodyFilter(const BodyFilter&) = default;
  BodyFilter& operator=(const BodyFilter&) = default;
  ~BodyFilter() = default;  // never deleted through this type: the owner (an arena) destroys the real one

 private:
  friend class Response;
  BodyFilter* next_ = nullptr;  // the next filter outwards (added before this one)
};

}  // namespace waitless::http
