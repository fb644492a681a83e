// Server-Sent Events over loopback: the format, Last-Event-ID, the end of the stream at a graceful
// shutdown (the handler's wait() returns early and the response ends), and refused fields.
#include "waitless/http/sse.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "waitless/http/test_client.hpp"

namespace waitless::http {
namespace {

using namespace std::chrono_literals;
using testing::Harness;
using testing::TestClient;

TEST(Sse, FormatAndLastEventId) {
  Harness h;
  h.start([](Request& req, Response& res) -> Task<> {
    SseStream sse(req, res, {.retry = 2500ms});
    EXPECT_FALSE(sse.closing());
    (void)sse.send("last=" + std::string(sse.last_event_id()));
    (void)sse.send({.data = "line one\nline two\r\nline three", .event = "update", .id = "42"});
    (void)sse.comment("heartbeat");
    EXPECT_EQ(sse.send({.data = "x", .event = "bad\nevent"}), make_error_code(Error::invalid_argument));
    EXPECT_EQ(sse.send({.data = "x", .id = std::string_view("a\0b", 3)}),
              make_error_code(Error::invalid_argument));
    (void)sse.send({.data = "", .retry = 100ms});
    co_return;  // the destructor ends the response
  });
  h.run([](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.send(testing::get("/events", "Last-Event-ID: 41\r\n")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("Content-Type"), "text/event-stream");
    EXPECT_EQ(r->header("Cache-Control"), "no-cache");
    EXPECT_EQ(r->body,
              "retry: 2500\n\n"
              "data: last=41\n\n"
              "event: update\nid: 42\ndata: line one\ndata: line two\ndata: line three\n\n"
              ": heartbeat\n\n"
              "retry: 100\ndata: \n\n");
  });
}

TEST(Sse, GracefulShutdownEndsTheStreamPromptly) {
  Harness h;
  std::atomic<int> ticks{0};
  std::atomic<bool> handler_ended{false};
  h.start([&](Request& req, Response& res) -> Task<> {
    SseStream sse(req, res);
    while (!sse.closing()) {
      if (sse.send("tick")) break;
      ++ticks;
      co_await sse.wait(10s);  // far longer than the test: only the shutdown can end it
    }
    handler_ended = true;
  });
  h.run([&](uint16_t port) {
    TestClient c(port);
    ASSERT_TRUE(c.send(testing::get("/events")));
    for (int i = 0; i < 1000 && ticks.load() == 0; ++i) std::this_thread::sleep_for(10ms);
    ASSERT_EQ(ticks.load(), 1);
    std::thread stop([&] { h.server().shutdown(20s); });
    // Complete (the terminating chunk arrived) within the client's 5 s read timeout: the stream was ended
    // by the shutdown's start, not by its 20 s deadline.
    auto r = c.read_response();
    stop.join();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, ": stream open\n\ndata: tick\n\n");
    for (int i = 0; i < 1000 && !handler_ended.load(); ++i) std::this_thread::sleep_for(10ms);
    EXPECT_TRUE(handler_ended.load());
  });
}

}  // namespace
}  // namespace waitless::http
