// WebSocket server end to end over loopback, with a raw-byte client: the handshake and its refusals, echo,
// fragments, ping/pong, the close handshake, every rejection's close code on the wire, permessage-deflate,
// backpressure and the slow-consumer policies, topics (one loop and across threads), graceful shutdown.
#include "waitless/http/websocket.hpp"

#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "waitless/http/websocket_test_support.hpp"
#include "waitless/http/websocket_topics.hpp"

namespace waitless::http {
namespace {

using namespace std::chrono_literals;
using testing::Harness;
using testing::RawWebSocket;
using ws::Opcode;

// Records the server side's callbacks (read by the client thread after the events it caused).
struct Log {
  std::mutex m;
  std::vector<std::string> events;
  void add(std::string e) {
    std::lock_guard l(m);
    events.push_back(std::move(e));
  }
  bool has(const std::string& e) {
    for (int i = 0; i < 1000; ++i) {
      {
        std::lock_guard l(m);
        for (auto& x : events) {
          if (x == e) return true;
        }
      }
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
};

std::shared_ptr<WebSocketConfig> echo_config(Log* log, WebSocketOptions options = {}) {
  auto c = std::make_shared<WebSocketConfig>();
  c->options = std::move(options);
  c->handlers.open = [log](WebSocket& ws) { log->add("open " + std::string(ws.protocol())); };
  c->handlers.message = [](WebSocket& ws, std::string_view m, bool binary) { (void)ws.send(m, binary); };
  c->handlers.close = [log](WebSocket&, uint16_t code, std::string_view reason) {
    log->add("close " + std::to_string(code) + " " + std::string(reason));
  };
  return c;
}

void serve(Harness& h, std::shared_ptr<const WebSocketConfig> config) {
  h.start([config](Request& req, Response& res) {
    if (req.path() == "/plain") {
      (void)res.send("plain");
      return;
    }
    (void)accept_websocket(req, res, config);
  });
}

TEST(WebSocket, HandshakeEchoFragmentsPingAndClose) {
  Log log;
  Harness h;
  serve(h, echo_config(&log));
  h.run([&](uint16_t port) {
    RawWebSocket c(port);
    // A first frame sent right behind the request head: the server's HTTP side must hand it over.
    auto head = c.open({}, RawWebSocket::frame(Opcode::text, "early"));
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 101);
    EXPECT_EQ(head->header("Sec-WebSocket-Accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    EXPECT_TRUE(iequals(head->header("Upgrade"), "websocket"));
    auto f = c.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->opcode, 1);
    EXPECT_EQ(f->payload, "early");
    // Binary, 16- and 64-bit lengths.
    for (std::size_t n : {200u, 70000u}) {
      ASSERT_TRUE(c.send_frame(Opcode::binary, std::string(n, 'b')));
      f = c.read_frame();
      ASSERT_TRUE(f);
      EXPECT_EQ(f->opcode, 2);
      EXPECT_EQ(f->payload, std::string(n, 'b'));
    }
    // Fragments with a ping between them: the pong comes first, then the whole message.
    ASSERT_TRUE(c.send(RawWebSocket::frame(Opcode::text, "frag", false) +
                       RawWebSocket::frame(Opcode::ping, "hey") +
                       RawWebSocket::frame(Opcode::continuation, "ment", false) +
                       RawWebSocket::frame(Opcode::continuation, "ed", true)));
    f = c.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->opcode, 10);
    EXPECT_EQ(f->payload, "hey");
    f = c.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->payload, "fragmented");
    // The close handshake: our close is answered with the same code, then the server closes the TCP side.
    ASSERT_TRUE(c.send_frame(Opcode::close, ws::close_payload(4000, "done")));
    f = c.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->opcode, 8);
    EXPECT_EQ(f->close_code(), 4000);
    EXPECT_TRUE(c.closed_within(2000));
    EXPECT_TRUE(log.has("close 4000 done"));
    // The server still answers plain HTTP on other connections.
    testing::TestClient plain(port);
    ASSERT_TRUE(plain.send(testing::get("/plain")));
    auto r = plain.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "plain");
  });
}

TEST(WebSocket, HandshakeRefusals) {
  Log log;
  Harness h;
  WebSocketOptions o;
  o.handshake.allowed_origins = {"https://good.example"};
  o.handshake.subprotocols = {"chat.v2", "chat.v1"};
  serve(h, echo_config(&log, o));
  h.run([&](uint16_t port) {
    auto status = [&](std::string request) {
      testing::TestClient c(port);
      EXPECT_TRUE(c.send(request));
      auto r = c.read_response();
      return r ? r->status : -1;
    };
    const std::string good = "Origin: https://good.example\r\n";
    auto req = [](std::string_view method, std::string_view fields) {
      return std::string(method) + " / HTTP/1.1\r\nHost: t\r\n" + std::string(fields) + "\r\n";
    };
    const std::string base = "Upgrade: websocket\r\nConnection: Upgrade\r\nOrigin: https://good.example\r\n";
    EXPECT_EQ(status(req("GET", base + "Sec-WebSocket-Version: 12\r\nSec-WebSocket-Key: " +
                                    std::string(testing::kSampleKey) + "\r\n")),
              426);
    EXPECT_EQ(status(req("GET", base + "Sec-WebSocket-Version: 13\r\n")), 400);  // no key
    EXPECT_EQ(status(req("GET", base + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: c2hvcnQ=\r\n")), 400);
    EXPECT_EQ(status(testing::ws_request("/", "Origin: https://evil.example\r\n")), 403);
    EXPECT_EQ(status(testing::ws_request("/")), 403);  // no Origin while an allow-list is set
    EXPECT_EQ(status(req("GET", "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " +
                                    std::string(testing::kSampleKey) + "\r\n")),
              400);  // no Upgrade
    // Subprotocol: the server's preference among the client's offers.
    RawWebSocket c(port);
    auto head = c.open(good + "Sec-WebSocket-Protocol: chat.v1, chat.v2\r\n");
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 101);
    EXPECT_EQ(head->header("Sec-WebSocket-Protocol"), "chat.v2");
    EXPECT_TRUE(log.has("open chat.v2"));
  });
}

// Opens a connection, sends `bytes`, and returns the close code the server sent (0: none).
uint16_t close_code_for(uint16_t port, const std::string& bytes) {
  RawWebSocket c(port);
  auto head = c.open();
  if (!head || head->status != 101) return 0;
  if (!c.send(bytes)) return 0;
  while (auto f = c.read_frame()) {
    if (f->opcode == 8) {
      EXPECT_TRUE(c.closed_within(3000));  // and the server closes the connection
      return f->close_code();
    }
  }
  return 0;
}

TEST(WebSocket, EveryRejectionClosesWithItsCode) {
  Log log;
  Harness h;
  WebSocketOptions o;
  o.max_message_size = 1000;
  serve(h, echo_config(&log, o));
  h.run([&](uint16_t port) {
    std::string unmasked;
    ws::append_frame(unmasked, Opcode::text, "hi");
    EXPECT_EQ(close_code_for(port, unmasked), 1002);
    EXPECT_EQ(close_code_for(port, RawWebSocket::frame(Opcode::text, "x", true, true)),
              1002);  // RSV1, no ext
    std::string op3 = RawWebSocket::frame(Opcode::binary, "x");
    op3[0] = static_cast<char>(0x83);
    EXPECT_EQ(close_code_for(port, op3), 1002);
    EXPECT_EQ(close_code_for(port, RawWebSocket::frame(Opcode::ping, std::string(126, 'p'))), 1002);
    EXPECT_EQ(close_code_for(port, RawWebSocket::frame(Opcode::ping, "p", false)), 1002);
    EXPECT_EQ(close_code_for(port, RawWebSocket::frame(Opcode::continuation, "x")), 1002);
    EXPECT_EQ(close_code_for(port, RawWebSocket::frame(Opcode::text, "a\xff")), 1007);
    EXPECT_EQ(close_code_for(port, RawWebSocket::frame(Opcode::text, "a\xe2", false) +
                                       RawWebSocket::frame(Opcode::continuation, "\x82")),
              1007);  // a sequence cut by the message's end
    EXPECT_EQ(close_code_for(port, RawWebSocket::frame(Opcode::binary, std::string(1001, 'x'))), 1009);
    EXPECT_EQ(close_code_for(port, RawWebSocket::frame(Opcode::close, "\x03\xed")), 1002);  // code 1005
    EXPECT_EQ(close_code_for(port, RawWebSocket::frame(Opcode::close, "\x03\xe8\xff")), 1007);
    EXPECT_TRUE(log.has("close 1002 unmasked client frame"));
    EXPECT_TRUE(log.has("close 1009 message larger than the limit"));
  });
}

TEST(WebSocket, PermessageDeflateBothWaysAndTheInflateCap) {
  Log log;
  Harness h;
  WebSocketOptions o;
  o.handshake.deflate.enabled = true;
  o.max_message_size = 100'000;
  serve(h, echo_config(&log, o));
  h.run([&](uint16_t port) {
    RawWebSocket c(port);
    auto head = c.open("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
    ASSERT_TRUE(head);
    ASSERT_EQ(head->status, 101);
    const std::string ext = head->header("Sec-WebSocket-Extensions");
    EXPECT_EQ(ext, "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
    ws::MessageDeflater def(15, true, 6, 8);
    ws::MessageInflater inf(15, true);
    std::string text;
    for (int i = 0; i < 200; ++i) text += "compressible line " + std::to_string(i % 7) + "\n";
    std::string packed;
    ASSERT_TRUE(def.compress(text, packed));
    ASSERT_LT(packed.size(), text.size());
    ASSERT_TRUE(c.send_frame(Opcode::text, packed, true, true));
    auto f = c.read_frame();
    ASSERT_TRUE(f);
    EXPECT_TRUE(f->rsv1);  // the echo comes back compressed (over the threshold)
    std::string out;
    ASSERT_EQ(inf.inflate(f->payload, out, 1 << 20), ws::MessageInflater::Status::ok);
    EXPECT_EQ(out, text);
    // A tiny message goes uncompressed.
    ASSERT_TRUE(c.send_frame(Opcode::text, "hi"));
    f = c.read_frame();
    ASSERT_TRUE(f);
    EXPECT_FALSE(f->rsv1);
    EXPECT_EQ(f->payload, "hi");
    // A bomb: 10 MB of zeros in a few KB, over the 100 kB limit once inflated.
    std::string bomb;
    ASSERT_TRUE(def.compress(std::string(10'000'000, '\0'), bomb));
    ASSERT_LT(bomb.size(), 20'000u);
    ASSERT_TRUE(c.send_frame(Opcode::binary, bomb, true, true));
    f = c.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->opcode, 8);
    EXPECT_EQ(f->close_code(), 1009);
    // Garbage that does not inflate: 1007.
    RawWebSocket g(port);
    ASSERT_TRUE(g.open("Sec-WebSocket-Extensions: permessage-deflate\r\n"));
    ASSERT_TRUE(g.send_frame(Opcode::text, "\xff\xff\xff\xff garbage", true, true));
    f = g.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->close_code(), 1007);
  });
}

TEST(WebSocket, BackpressureDrainAndSlowConsumerPolicies) {
  Log log;
  Harness h;
  WebSocketOptions o;
  o.high_water = 64 * 1024;
  o.max_backpressure = 512 * 1024;
  auto config = std::make_shared<WebSocketConfig>();
  config->options = o;
  std::atomic<int> backpressure{0}, drains{0}, dropped{0};
  // "flood N policy": send 64 KiB messages until the policy acts.
  config->handlers.message = [&](WebSocket& ws, std::string_view m, bool) {
    const std::string chunk(64 * 1024, 'f');
    for (int i = 0; i < 200; ++i) {
      SendStatus s = ws.send(chunk, true);
      if (s == SendStatus::backpressure) ++backpressure;
      if (s == SendStatus::dropped) {
        ++dropped;
        break;
      }
      if (s == SendStatus::closed) break;
    }
    (void)m;
  };
  config->handlers.drain = [&](WebSocket&) { ++drains; };
  config->handlers.close = [&](WebSocket&, uint16_t code, std::string_view) {
    log.add("close " + std::to_string(code));
  };
  auto drop_config = std::make_shared<WebSocketConfig>(*config);
  drop_config->options.slow_consumer = SlowConsumerPolicy::drop;
  h.start([&](Request& req, Response& res) {
    (void)accept_websocket(req, res, req.path() == "/drop" ? drop_config : config);
  });
  h.run([&](uint16_t port) {
    {
      // Close policy: the client does not read; the server's queue passes the limit; 1008 is queued
      // behind the data.
      RawWebSocket c(port);
      ASSERT_TRUE(c.open());
      ASSERT_TRUE(c.send_frame(Opcode::text, "go"));
      ASSERT_TRUE(log.has("close 1008"));
      EXPECT_GT(backpressure.load(), 0);
      // Reading everything now: data frames, then the close frame with 1008.
      uint16_t code = 0;
      while (auto f = c.read_frame()) {
        if (f->opcode == 8) {
          code = f->close_code();
          break;
        }
      }
      EXPECT_EQ(code, 1008);
    }
    {
      // Drop policy: the connection stays open; once the client reads, `drain` runs.
      RawWebSocket c(port);
      testing::TestClient& raw = c.http();
      ASSERT_TRUE(raw.send(testing::ws_request("/drop")));
      ASSERT_TRUE(raw.read_response(true));
      ASSERT_TRUE(c.send_frame(Opcode::text, "go"));
      for (int i = 0; i < 1000 && dropped.load() == 0; ++i) std::this_thread::sleep_for(10ms);
      EXPECT_EQ(dropped.load(), 1);
      // Read until `drain` has run. The server may call it just after the client took the last bytes, so
      // the client waits for more data only briefly between checks (a blocking read could wait for bytes
      // that never come).
      std::size_t got = 0;
      const auto until = std::chrono::steady_clock::now() + 20s;
      while (drains.load() == 0 && std::chrono::steady_clock::now() < until) {
        pollfd p{raw.fd(), POLLIN, 0};
        if (raw.buffered().empty() && ::poll(&p, 1, 20) == 0) continue;
        auto f = c.read_frame();
        ASSERT_TRUE(f);
        got += f->payload.size();
      }
      EXPECT_GT(drains.load(), 0);
      EXPECT_GT(got, 0u);
      ASSERT_TRUE(c.send_frame(Opcode::close, ws::close_payload(1000, "")));
    }
  });
}

TEST(WebSocket, TopicsReachEverySubscriberInOrderFromAnyThread) {
  Log log;
  Harness h;
  auto config = std::make_shared<WebSocketConfig>();
  std::atomic<int> opened{0};
  config->handlers.open = [&](WebSocket& ws) {
    ws.subscribe("room");
    ++opened;
  };
  // A client's message is published to the room from the loop.
  config->handlers.message = [](WebSocket&, std::string_view m, bool) { (void)publish("room", m); };
  serve(h, config);
  h.run([&](uint16_t port) {
    constexpr int kClients = 20;
    std::vector<std::unique_ptr<RawWebSocket>> cs;
    for (int i = 0; i < kClients; ++i) {
      cs.push_back(std::make_unique<RawWebSocket>(port));
      ASSERT_TRUE(cs.back()->open());
    }
    for (int i = 0; i < 1000 && opened.load() < kClients; ++i) std::this_thread::sleep_for(10ms);
    ASSERT_EQ(opened.load(), kClients);
    // From this thread (no loop here): posted to the server's loop.
    for (int i = 0; i < 50; ++i) (void)publish("room", "m" + std::to_string(i));
    ASSERT_TRUE(cs[3]->send_frame(Opcode::text, "from a client"));
    for (auto& c : cs) {
      for (int i = 0; i < 50; ++i) {
        auto f = c->read_frame();
        ASSERT_TRUE(f);
        EXPECT_EQ(f->payload, "m" + std::to_string(i));
      }
      auto f = c->read_frame();
      ASSERT_TRUE(f);
      EXPECT_EQ(f->payload, "from a client");
    }
    EXPECT_EQ(publish("nobody-listens", "x"), 0u);
  });
}

TEST(WebSocket, SendsOfOneReadAreCorkedAndKeepTheirOrder) {
  Harness h;
  std::atomic<std::size_t> buffered{0};
  auto config = std::make_shared<WebSocketConfig>();
  config->handlers.message = [&](WebSocket& ws, std::string_view m, bool) {
    if (m == "ping-me") {
      (void)ws.send("before");
      (void)ws.ping("p");
      (void)ws.send("after");
    } else if (m == "close-me") {
      (void)ws.send("last");
      ws.close(4001, "bye");
    } else {
      (void)ws.send(m);
      buffered = ws.buffered_amount();
    }
  };
  serve(h, config);
  h.run([&](uint16_t port) {
    RawWebSocket c(port);
    ASSERT_TRUE(c.open());
    // Three messages in one write: three echoes, in order, written together after the read.
    ASSERT_TRUE(c.send(RawWebSocket::frame(Opcode::text, "m1") + RawWebSocket::frame(Opcode::text, "m2") +
                       RawWebSocket::frame(Opcode::text, "m3")));
    for (const char* m : {"m1", "m2", "m3"}) {
      auto f = c.read_frame();
      ASSERT_TRUE(f);
      EXPECT_EQ(f->payload, m);
    }
    // Corked, the three echoes (4 bytes each) were still this side's when the last send returned.
    EXPECT_EQ(buffered.load(), 12u);
    // A control frame flushes the corked bytes before it: the order on the wire is the order of the calls.
    ASSERT_TRUE(c.send_frame(Opcode::text, "ping-me"));
    auto f = c.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->payload, "before");
    f = c.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->opcode, 9);
    f = c.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->payload, "after");
    ASSERT_TRUE(c.send_frame(Opcode::text, "close-me"));
    f = c.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->payload, "last");
    f = c.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->opcode, 8);
    EXPECT_EQ(f->close_code(), 4001);
    ASSERT_TRUE(c.send_frame(Opcode::close, ws::close_payload(4001, "")));
    EXPECT_TRUE(c.closed_within(2000));
  });
}

TEST(WebSocket, GracefulShutdownClosesWith1001) {
  Log log;
  Harness h;
  serve(h, echo_config(&log));
  h.run([&](uint16_t port) {
    RawWebSocket c(port);
    ASSERT_TRUE(c.open());
    ASSERT_TRUE(log.has("open "));
    std::thread t([&] { h.server().shutdown(2000ms); });
    auto f = c.read_frame();
    t.join();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->opcode, 8);
    EXPECT_EQ(f->close_code(), 1001);
    ASSERT_TRUE(c.send_frame(Opcode::close, ws::close_payload(1001, "")));
    EXPECT_TRUE(c.closed_within(2000));
    EXPECT_TRUE(log.has("close 1001 "));
  });
}

TEST(WebSocket, IdleConnectionIsPingedThenClosed) {
  Log log;
  Harness h;
  WebSocketOptions o;
  o.idle_timeout = 300ms;
  serve(h, echo_config(&log, o));
  h.run([&](uint16_t port) {
    RawWebSocket c(port);
    ASSERT_TRUE(c.open());
    auto f = c.read_frame();  // within the sweep's second or two
    ASSERT_TRUE(f);
    EXPECT_EQ(f->opcode, 9);
    f = c.read_frame();  // no pong: closed
    ASSERT_TRUE(f);
    EXPECT_EQ(f->opcode, 8);
    EXPECT_EQ(f->close_code(), 1001);
  });
}

}  // namespace
}  // namespace waitless::http
