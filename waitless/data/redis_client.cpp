#include "waitless/data/redis_client.hpp"

#include <algorithm>
#include <chrono>

#include "waitless/async/sleep.hpp"
#include "waitless/base/log.hpp"

namespace waitless::data {

// ---- RedisCommand ----

RedisCommand::~RedisCommand() {
  if (!slot_) return;
  // A live slot means the client is alive (close() completes every slot). The reply, if one comes, is
  // read and dropped; a command not yet written is never sent.
  slot_->waiter = nullptr;
  client_->trim_waiting();
}

bool RedisCommand::suspend(std::coroutine_handle<> h, Loop& loop, const CancelToken& token) {
  loop_ = &loop;
  awaiting_ = h;
  if (token.cancelled()) {
    result_ = Error::cancelled;
    return false;
  }
  if (!client_->submit(*this)) return false;
  if (token.can_be_cancelled()) cancel_.attach(token, [this] { give_up(Error::cancelled); });
  const Duration timeout = handshake_ ? client_->options_.connect_timeout : client_->options_.command_timeout;
  if (timeout > Duration::zero()) {
    timer_.emplace(loop);
    (void)timer_->start(timeout, [this] { give_up(Error::timed_out); });
  }
  return true;
}

void RedisCommand::complete(Result<Reply> r) noexcept {
  slot_ = nullptr;
  result_.emplace(std::move(r));
  if (timer_) timer_->stop();
  cancel_.detach();
  loop_->queue_resume(awaiting_);
}

void RedisCommand::give_up(std::error_code ec) noexcept {
  if (slot_) {
    slot_->waiter = nullptr;
    slot_ = nullptr;
    client_->trim_waiting();
  }
  result_.emplace(ec);
  if (timer_) timer_->stop();
  cancel_.detach();
  loop_->queue_resume(awaiting_);
}

// ---- RedisClient ----

RedisClient::RedisClient(Loop& loop, RedisOptions options)
    : loop_(loop),
      options_(std::move(options)),
      parser_(options_.limits),
      jitter_state_(static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) | 1) {
  supervisor_ = supervise();
  auto h = supervisor_.handle();
  h.promise().started = true;
  h.promise().loop = &loop_;
  h.resume();
}

RedisClient::~RedisClient() {
  close();
  if (alive_) *alive_ = false;
}

void RedisClient::close() noexcept {
  if (closed_) return;
  closed_ = true;
  ready_ = false;
  broken_ = true;
  // The supervisor is suspended (connecting, sleeping or waiting for the connection to break): destroying
  // its frame unregisters that wait.
  supervisor_ = Task<>();
  if (flush_immediate_) loop_.clear_immediate(std::exchange(flush_immediate_, 0));
  fail_pending(Error::closed);
  fail_waiting(Error::closed);
  stream_.reset();
  out_.clear();
}

// An empty command stays an empty request, refused by submit(): Redis answers `*0` with nothing at all,
// which would shift every later reply onto the wrong command.
RedisCommand RedisClient::command(std::initializer_list<std::string_view> args) {
  std::string request;
  if (args.size() > 0) append_command(request, args);
  return RedisCommand(*this, std::move(request));
}

RedisCommand RedisClient::command(const std::vector<std::string>& args) {
  std::string request;
  if (!args.empty()) append_command(request, args);
  return RedisCommand(*this, std::move(request));
}

bool RedisClient::submit(RedisCommand& c) {
  if (closed_) {
    c.result_.emplace(Error::closed);
    return false;
  }
  if (c.request_.empty()) {
    c.result_.emplace(Error::invalid_argument);
    return false;
  }
  if (ready_ || (c.handshake_ && stream_ && !broken_)) {
    enqueue_now(&c, c.request_);
    c.request_.clear();
    return true;
  }
  if (c.handshake_) {
    c.result_.emplace(RedisErrc::connection_lost);
    return false;
  }
  if (waiting_.size() >= options_.max_queued) {
    c.result_.emplace(RedisErrc::not_connected);
    return false;
  }
  waiting_.push_back(Slot{&c, std::move(c.request_)});
  c.slot_ = &waiting_.back();
  return true;
}

void RedisClient::trim_waiting() noexcept {
  while (!waiting_.empty() && !waiting_.front().waiter) waiting_.pop_front();
  while (!waiting_.empty() && !waiting_.back().waiter) waiting_.pop_back();
}

void RedisClient::enqueue_now(RedisCommand* c, std::string_view request) {
  pending_.push_back(Slot{c, {}});
  if (c) c->slot_ = &pending_.back();
  out_.append(request);
  ++stats_.commands;
  schedule_flush();
}

void RedisClient::send_detached(std::initializer_list<std::string_view> args) {
  if (!stream_ || broken_) return;
  std::string request;
  append_command(request, args);
  enqueue_now(nullptr, request);
}

void RedisClient::schedule_flush() {
  if (flush_immediate_) return;
  flush_immediate_ = loop_.set_immediate([this] {
    flush_immediate_ = 0;
    flush();
  });
}

void RedisClient::flush() noexcept {
  if (!stream_ || broken_ || out_.empty()) return;
  // A false return is backpressure (queued in the transport) or a failure reported through on_error.
  ++stats_.writes;
  (void)stream_->write(std::move(out_));
  out_.clear();
}

void RedisClient::on_bytes(std::string_view data) {
  if (broken_) return;
  parser_.feed(data.data(), data.size());
  bool alive = true;
  bool* outer = std::exchange(alive_, &alive);
  while (!broken_) {
    auto r = parser_.next();
    if (!r) {
      log::warn("redis {}:{}: {}: closing the connection", options_.host, options_.port, r.error().message());
      lose(r.error());
      break;
    }
    if (!*r) break;
    dispatch(std::move(**r));
    if (!alive) return;  // a message handler destroyed the client
  }
  alive_ = outer;
}

namespace {
bool is_pubsub_message(const Reply& r) {
  if (r.size() < 3 || !r[0].is_string()) return false;
  const std::string& kind = r[0].str();
  return kind == "message" || kind == "pmessage" || kind == "smessage";
}
}  // namespace

void RedisClient::dispatch(Reply&& r) {
  ++stats_.replies;
  const bool push = r.type() == ReplyType::push;
  if ((push || (on_message_ && r.type() == ReplyType::array)) && is_pubsub_message(r)) {
    if (on_message_) on_message_(r);
    return;
  }
  // In RESP3 a push is out of band (client tracking invalidations...), except the (un)subscribe
  // confirmations of a subscriber, which answer its commands one for one.
  if (push && !on_message_) return;
  if (pending_.empty()) {
    log::warn("redis {}:{}: a reply nobody asked for: {}", options_.host, options_.port,
              r.debug_string().substr(0, 200));
    lose(RedisErrc::protocol_error);
    return;
  }
  RedisCommand* waiter = pending_.front().waiter;
  pending_.pop_front();
  if (waiter) waiter->complete(std::move(r));
}

void RedisClient::fail_pending(std::error_code ec) noexcept {
  std::deque<Slot> pending = std::move(pending_);
  pending_.clear();
  for (Slot& s : pending)
    if (s.waiter) s.waiter->complete(ec);
}

void RedisClient::fail_waiting(std::error_code ec) noexcept {
  std::deque<Slot> waiting = std::move(waiting_);
  waiting_.clear();
  for (Slot& s : waiting)
    if (s.waiter) s.waiter->complete(ec);
}

void RedisClient::lose(std::error_code why) noexcept {
  if (broken_) return;
  broken_ = true;
  ready_ = false;
  // The command whose reply broke the protocol learns why; the others only that the connection went.
  if (why.category() == redis_category() && why != make_error_code(RedisErrc::connection_lost) &&
      !pending_.empty() && pending_.front().waiter) {
    RedisCommand* head = pending_.front().waiter;
    pending_.pop_front();
    head->complete(why);
  }
  fail_pending(RedisErrc::connection_lost);
  out_.clear();
  lost_.set();
}

Duration RedisClient::next_backoff(Duration& backoff) noexcept {
  // xorshift64: jitter needs no quality, only to spread clients that lost the same server at once.
  jitter_state_ ^= jitter_state_ << 13;
  jitter_state_ ^= jitter_state_ >> 7;
  jitter_state_ ^= jitter_state_ << 17;
  const auto half = backoff.count() / 2;
  const Duration d(half + static_cast<int64_t>(jitter_state_ % static_cast<uint64_t>(half + 1)));
  backoff = std::min(backoff * 2, options_.reconnect_max);
  return d;
}

Task<bool> RedisClient::handshake() {
  std::vector<std::string> hello;
  if (options_.protocol == 3) {
    hello = {"HELLO", "3"};
    if (!options_.password.empty())
      hello.insert(hello.end(),
                   {"AUTH", options_.username.empty() ? "default" : options_.username, options_.password});
  } else if (!options_.password.empty()) {
    hello = {"AUTH"};
    if (!options_.username.empty()) hello.push_back(options_.username);
    hello.push_back(options_.password);
  }
  std::vector<std::vector<std::string>> steps;
  if (!hello.empty()) steps.push_back(std::move(hello));
  if (options_.database != 0) steps.push_back({"SELECT", std::to_string(options_.database)});
  for (const auto& args : steps) {
    std::string request;
    append_command(request, args);
    RedisCommand cmd(*this, std::move(request), true);
    Result<Reply> r = co_await cmd;
    if (!r || r->is_error()) {
      log::warn("redis {}:{}: {} failed: {}", options_.host, options_.port, args[0],
                r ? r->str() : r.error().message());
      co_return false;
    }
  }
  co_return true;
}

Task<> RedisClient::supervise() {
  Duration backoff = options_.reconnect_initial;
  while (true) {
    auto s = co_await net::TcpStream::connect(loop_, options_.host, options_.port,
                                              {.timeout = options_.connect_timeout});
    if (s) {
      stream_ = std::move(*s);
      broken_ = false;
      parser_.reset();
      lost_.reset();
      stream_->on_data([this](std::string_view d) { on_bytes(d); });
      stream_->on_end([this] { lose(RedisErrc::connection_lost); });
      stream_->on_error([this](std::error_code ec) {
        log::debug("redis {}:{}: {}", options_.host, options_.port, ec.message());
        lose(RedisErrc::connection_lost);
      });
      if (co_await handshake()) {
        ready_ = true;
        ++stats_.connects;
        backoff = options_.reconnect_initial;
        if (on_ready_) on_ready_();
        // What was issued while disconnected goes out now, in order; what gave up meanwhile never does.
        while (!waiting_.empty() && ready_) {
          Slot slot = std::move(waiting_.front());
          waiting_.pop_front();
          if (slot.waiter) enqueue_now(slot.waiter, slot.request);
        }
        (void)co_await lost_.wait();
      }
      lose(RedisErrc::connection_lost);  // a failed handshake
      stream_.reset();
      parser_.reset();
    } else {
      ++stats_.connect_failures;
      log::debug("redis {}:{}: connect: {}", options_.host, options_.port, s.error().message());
    }
    (void)co_await sleep(next_backoff(backoff));
  }
}

// ---- typed helpers ----

Task<Result<Reply>> RedisClient::exec(std::vector<std::string> args) { co_return co_await command(args); }

namespace {
std::error_code reply_error(const Reply& r) {
  return r.is_error() ? make_error_code(RedisErrc::error_reply) : make_error_code(RedisErrc::unexpected_type);
}
}  // namespace

Task<Result<std::optional<std::string>>> RedisClient::get(std::string key) {
  Result<Reply> r = co_await command({"GET", key});
  if (!r) co_return r.error();
  if (r->is_null()) co_return std::optional<std::string>();
  if (!r->is_string()) co_return reply_error(*r);
  co_return std::optional<std::string>(std::move(r->str()));
}

Task<Result<void>> RedisClient::set(std::string key, std::string value, Duration ttl) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(ttl).count();
  std::vector<std::string> args{"SET", std::move(key), std::move(value)};
  if (ms > 0) args.insert(args.end(), {"PX", std::to_string(ms)});
  Result<Reply> r = co_await command(args);
  if (!r) co_return r.error();
  if (r->type() != ReplyType::simple_string) co_return reply_error(*r);
  co_return Result<void>();
}

namespace {
Result<int64_t> as_integer(Result<Reply>& r) {
  if (!r) return r.error();
  if (r->type() != ReplyType::integer) return reply_error(*r);
  return r->integer();
}
}  // namespace

Task<Result<int64_t>> RedisClient::del(std::string key) {
  Result<Reply> r = co_await command({"DEL", key});
  co_return as_integer(r);
}

Task<Result<int64_t>> RedisClient::incr(std::string key) {
  Result<Reply> r = co_await command({"INCR", key});
  co_return as_integer(r);
}

Task<Result<int64_t>> RedisClient::publish(std::string channel, std::string message) {
  Result<Reply> r = co_await command({"PUBLISH", channel, message});
  co_return as_integer(r);
}

}  // namespace waitless::data
