#include "waitless/data/redis_subscriber.hpp"

#include <cctype>

namespace waitless::data {

RedisSubscriber::RedisSubscriber(Loop& loop, RedisOptions options) : client_(loop, std::move(options)) {
  client_.set_message_handler([this](const Reply& r) { on_message(r); });
  client_.set_ready_handler([this] { resubscribe(); });
}

void RedisSubscriber::resubscribe() {
  for (const auto& [channel, cb] : channels_) client_.send_detached({"SUBSCRIBE", channel});
  for (const auto& [pattern, cb] : patterns_) client_.send_detached({"PSUBSCRIBE", pattern});
}

Task<Result<void>> RedisSubscriber::subscribe(std::string channel, Callback cb) {
  channels_[channel] = std::move(cb);
  co_return co_await run("SUBSCRIBE", std::move(channel));
}

Task<Result<void>> RedisSubscriber::psubscribe(std::string pattern, Callback cb) {
  patterns_[pattern] = std::move(cb);
  co_return co_await run("PSUBSCRIBE", std::move(pattern));
}

Task<Result<void>> RedisSubscriber::unsubscribe(std::string channel) {
  channels_.erase(channel);
  co_return co_await run("UNSUBSCRIBE", std::move(channel));
}

Task<Result<void>> RedisSubscriber::punsubscribe(std::string pattern) {
  patterns_.erase(pattern);
  co_return co_await run("PUNSUBSCRIBE", std::move(pattern));
}

Task<Result<void>> RedisSubscriber::run(std::string_view verb, std::string name) {
  std::string kind(verb);
  Result<Reply> r = co_await client_.command({verb, name});
  if (!r) co_return r.error();
  if (r->is_error()) co_return make_error_code(RedisErrc::error_reply);
  // The confirmation: [kind, name, count] (an array in RESP2, a push in RESP3), kind in lower case.
  for (char& c : kind) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!r->is_aggregate() || r->size() < 2 || !(*r)[0].is_string() || (*r)[0].str() != kind)
    co_return make_error_code(RedisErrc::unexpected_type);
  co_return Result<void>();
}

void RedisSubscriber::on_message(const Reply& r) {
  ++messages_;
  // ["message", channel, payload], ["smessage", channel, payload], ["pmessage", pattern, channel, payload]
  const std::string& kind = r[0].str();
  if (kind == "pmessage") {
    if (r.size() < 4) return;
    auto it = patterns_.find(r[1].str());
    if (it == patterns_.end()) return;
    Callback cb = it->second;  // a copy: the callback may unsubscribe itself
    cb(r[2].str(), r[3].str());
    return;
  }
  auto it = channels_.find(r[1].str());
  if (it == channels_.end()) return;
  Callback cb = it->second;
  cb(r[1].str(), r[2].str());
}

}  // namespace waitless::data
