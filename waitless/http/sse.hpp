// Server-Sent Events (the WHATWG HTML "text/event-stream" format): a streaming response for an async
// handler.
//
//   Task<> events(Request& req, Response& res) {
//     SseStream sse(req, res, {.retry = 3s});
//     uint64_t next = resume_after(sse.last_event_id());         // the client's Last-Event-ID on reconnect
//     while (!sse.closing()) {
//       if (auto ec = sse.send({.data = "...", .event = "tick", .id = std::to_string(next++)})) co_return;
//       if (sse.needs_drain()) co_await sse.drain();              // backpressure: the client reads slowly
//       co_await sse.wait(15s);                                   // or: heartbeats, see below
//     }
//   }
//
// The head (200, Content-Type: text/event-stream, Cache-Control: no-cache, X-Accel-Buffering: no) and a
// first line (the retry field, or a comment) go out at construction, so the client sees the stream open at
// once. Data is split into one "data:" line per line (LF, CR LF or CR in the text); event and id may not
// hold CR or LF (nor id a NUL): Error::invalid_argument, nothing written.
// comment() writes ": text" lines, the usual heartbeat that keeps proxies from timing the stream out.
//
// Shutdown: the stream is known to the server's loop (upgrade.hpp's session list). When a graceful
// shutdown begins, it ends the response (the client's EventSource sees the end and would reconnect to
// another instance), closing() turns true and wait() returns at once; sends then return Error::closed.
// A client that goes away ends the handler's token as for any async handler (sends return Error::closed).
#pragma once
#include <chrono>
#include <string>
#include <string_view>
#include <system_error>

#include "waitless/async/sync.hpp"
#include "waitless/async/task.hpp"
#include "waitless/http/request.hpp"
#include "waitless/http/response.hpp"
#include "waitless/http/upgrade.hpp"

namespace waitless::http {

struct SseOptions {
  std::chrono::milliseconds retry{0};  // sent first when > 0: the client's reconnection delay
};

struct SseEvent {
  std::string_view data;
  std::string_view event;  // empty: the default "message"
  std::string_view id;     // empty: none sent
  std::chrono::milliseconds retry{0};
};

class SseStream final : public UpgradedSession {
 public:
  SseStream(Request& req, Response& res, SseOptions options = {});
  // Ends the response if it is still open.
  ~SseStream();

  // The Last-Event-ID the client sent (reconnecting), or empty.
  std::string_view last_event_id() const noexcept { return last_event_id_; }

  std::error_code send(const SseEvent& event);
  std::error_code send(std::string_view data) { return send(SseEvent{.data = data}); }
  // A comment line (": text"): a heartbeat.
  std::error_code comment(std::string_view text = {});
  bool needs_drain() const noexcept { return res_.needs_drain(); }
  DrainAwaiter drain() noexcept { return res_.drain(); }
  // Sleeps for `d`, or less when the server begins shutting down. Returns closing().
  Task<bool> wait(Duration d);
  // The server is shutting down (or the stream was ended): stop sending and return.
  bool closing() const noexcept { return closing_; }
  std::error_code end();

 private:
  void on_server_shutdown() noexcept override;
  void on_server_abort() noexcept override;

  Response& res_;
  std::string last_event_id_;
  std::string buf_;
  Event wake_;
  bool closing_ = false;
};

// One event in the text/event-stream format (appended to out). Error::invalid_argument for a CR or LF in
// event or id, or a NUL in id.
std::error_code format_sse_event(std::string& out, const SseEvent& event);

}  // namespace waitless::http
