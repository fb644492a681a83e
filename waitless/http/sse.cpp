#include "waitless/http/sse.hpp"

#include "waitless/async/timeout.hpp"
#include "waitless/http/server_loop.hpp"

namespace waitless::http {

namespace {
bool has_line_break(std::string_view s) noexcept { return s.find_first_of("\r\n") != std::string_view::npos; }

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += '\n';
}
}  // namespace

std::error_code format_sse_event(std::string& out, const SseEvent& e) {
  if (has_line_break(e.event) || has_line_break(e.id) || e.id.find('\0') != std::string_view::npos) {
    return Error::invalid_argument;
  }
  if (!e.event.empty()) append_field(out, "event", e.event);
  if (!e.id.empty()) append_field(out, "id", e.id);
  if (e.retry.count() > 0) append_field(out, "retry", std::to_string(e.retry.count()));
  // Every line of the data is a data field; CR LF, CR and LF all end a line.
  std::string_view data = e.data;
  for (;;) {
    const std::size_t cut = data.find_first_of("\r\n");
    append_field(out, "data", data.substr(0, cut));
    if (cut == std::string_view::npos) break;
    const std::size_t skip = data[cut] == '\r' && cut + 1 < data.size() && data[cut + 1] == '\n' ? 2 : 1;
    data.remove_prefix(cut + skip);
  }
  out += '\n';
  return {};
}

SseStream::SseStream(Request& req, Response& res, SseOptions options) : res_(res) {
  last_event_id_.assign(req.header("last-event-id"));
  (void)res_.set_header("Content-Type", "text/event-stream");
  (void)res_.set_header("Cache-Control", "no-cache");
  (void)res_.set_header("X-Accel-Buffering", "no");  // nginx: do not buffer the stream
  if (detail::ExchangePort* port = detail::port_of(res)) {
    if (join_server(port->session_host())) closing_ = true;
  }
  // The head and a first line now: the client's EventSource opens at once.
  if (options.retry.count() > 0) {
    buf_ = "retry: " + std::to_string(options.retry.count()) + "\n\n";
  } else {
    buf_ = ": stream open\n\n";
  }
  if (res_.write(buf_)) closing_ = true;
}

SseStream::~SseStream() {
  leave_server();
  if (!res_.finished()) (void)res_.end();
}

std::error_code SseStream::send(const SseEvent& event) {
  if (closing_) return Error::closed;
  buf_.clear();
  if (std::error_code ec = format_sse_event(buf_, event)) return ec;
  return res_.write(buf_);
}

std::error_code SseStream::comment(std::string_view text) {
  if (closing_) return Error::closed;
  if (has_line_break(text)) return Error::invalid_argument;
  buf_ = ": ";
  buf_ += text;
  buf_ += "\n\n";
  return res_.write(buf_);
}

Task<bool> SseStream::wait(Duration d) {
  if (closing_) co_return true;
  auto sleeper = [](Event& e) -> Task<std::error_code> { co_return co_await e.wait(); };
  (void)co_await with_timeout(sleeper(wake_), d);
  co_return closing_;
}

std::error_code SseStream::end() {
  closing_ = true;
  leave_server();
  wake_.set();
  if (res_.finished()) return {};
  return res_.end();
}

void SseStream::on_server_shutdown() noexcept { (void)end(); }

void SseStream::on_server_abort() noexcept {
  closing_ = true;
  leave_server();
  wake_.set();
}

}  // namespace waitless::http
