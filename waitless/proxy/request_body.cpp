#include "waitless/proxy/request_body.hpp"

namespace waitless::proxy {

Task<Result<std::string_view>> RequestBody::next() {
  if (replaying_) {
    if (replay_at_ < kept_.size()) {
      std::string_view rest = std::string_view(kept_).substr(replay_at_);
      replay_at_ = kept_.size();
      co_return rest;
    }
    replaying_ = false;
  }
  if (ended_) co_return std::string_view{};
  Result<std::string_view> piece = co_await req_.read();
  if (!piece) {
    error_ = piece.error();
    co_return piece.error();
  }
  if (piece->empty()) {
    ended_ = true;
    co_return std::string_view{};
  }
  received_ += piece->size();
  if (keeping_) {
    if (kept_.size() + piece->size() <= kReplayLimit) {
      kept_.append(*piece);
    } else {
      keeping_ = false;  // from here on, the body cannot be sent again
      std::string().swap(kept_);
    }
  }
  co_return *piece;
}

bool RequestBody::rewind() {
  if (!keeping_ || error_) return false;
  replay_at_ = 0;
  replaying_ = true;
  return true;
}

}  // namespace waitless::proxy
