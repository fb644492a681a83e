// RequestBody: a client's request body as the body of the upstream request (http::BodySource). Each piece
// is read from the client only when the upstream connection has taken the previous one and its write
// queue is under the high-water mark (client.hpp), so a fast client and a slow upstream hold no more than
// those buffers in the proxy (backpressure both ways: the server reads the client only when asked).
//
// Replay: the first kReplayLimit bytes are kept, so that the request can be sent again (another server,
// or a fresh connection after a stale one) while everything read so far is still held; past that the
// body is no longer kept and rewind() says no: no retry.
//
// Errors of the client's side (the body is over its limit: the server answers 413; the client went away;
// a malformed chunk) end the upstream request; error() tells the proxy that it was not the upstream's
// fault.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>

#include "waitless/http/client.hpp"
#include "waitless/http/request.hpp"

namespace waitless::proxy {

class RequestBody final : public http::BodySource {
 public:
  static constexpr std::size_t kReplayLimit = std::size_t{64} * 1024;

  explicit RequestBody(http::Request& req) noexcept : req_(req) {}
  Task<Result<std::string_view>> next() override;
  bool rewind() override;
  std::error_code error() const noexcept { return error_; }
  uint64_t received() const noexcept { return received_; }

 private:
  http::Request& req_;
  std::string kept_;  // the body's first bytes, while all of it read so far fits in kReplayLimit
  std::size_t replay_at_ = 0;
  uint64_t received_ = 0;
  bool replaying_ = false;
  bool keeping_ = true;
  bool ended_ = false;
  std::error_code error_;
};

}  // namespace waitless::proxy
