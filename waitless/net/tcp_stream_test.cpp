#include "waitless/net/tcp_stream.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "waitless/async/sleep.hpp"
#include "waitless/async/sync.hpp"
#include "waitless/net/tcp_listener.hpp"
#include "waitless/net/test_support.hpp"

namespace waitless::net {
namespace {

using test::expect_empty;
using test::run_task;
using Stream = std::unique_ptr<TcpStream>;

// Accepts connections as TcpStreams; echoes them unless `echo` is false. `accepted` is released once per
// connection so a test can wait for the server side to exist.
class Server {
 public:
  explicit Server(Loop& loop, ListenOptions opts = {}, bool echo = true) : loop_(loop), echo_(echo) {
    auto l = TcpListener::listen(loop, opts, [this](int fd) { on_connection(fd); });
    EXPECT_TRUE(l.ok()) << l.error().message();
    listener = std::move(*l);
  }
  uint16_t port() const { return listener->port(); }
  TcpStream& last() { return *conns.back(); }

  std::unique_ptr<TcpListener> listener;
  std::vector<Stream> conns;
  Semaphore accepted{0};

 private:
  void on_connection(int fd) {
    auto s = TcpStream::adopt(loop_, fd);
    ASSERT_TRUE(s.ok());
    TcpStream* raw = s->get();
    if (echo_) {
      raw->on_data([raw](std::string_view d) { raw->write(d); });
      raw->on_end([raw] { raw->end(); });
    }
    conns.push_back(std::move(*s));
    accepted.release();
  }
  Loop& loop_;
  bool echo_;
};

// Reads until `n` bytes, EOF or an error.
Task<std::string> read_n(TcpStream& s, std::size_t n) {
  std::string all;
  while (all.size() < n) {
    auto r = co_await s.read();
    if (!r || r->empty()) break;
    all += *r;
  }
  co_return all;
}

TEST(TcpStream, EchoRoundTrip) {
  Loop loop;
  {
    Server server(loop);
    auto got = run_task(
        [&]() -> Task<std::string> {
          auto s = co_await TcpStream::connect(loop, "127.0.0.1", server.port());
          if (!s) co_return "connect: " + s.error().message();
          EXPECT_TRUE((*s)->write("hello"));
          EXPECT_EQ((*s)->remote_address()->port(), server.port());
          co_return co_await read_n(**s, 5);
        }(),
        loop);
    EXPECT_EQ(got, "hello");
  }
  expect_empty(loop);
}

TEST(TcpStream, EchoOverIPv6AndUnixSocket) {
  Loop loop;
  auto echo_once = [&](auto connect) -> Task<std::string> {
    auto s = co_await connect();
    if (!s) co_return "connect: " + s.error().message();
    (*s)->write(std::string("over there"));
    co_return co_await read_n(**s, 10);
  };
  {
    Server server(loop, {.host = "::1"});
    if (server.listener) {
      auto got = run_task(echo_once([&] { return TcpStream::connect(loop, "::1", server.port()); }), loop);
      EXPECT_EQ(got, "over there");
    }
  }
  std::string path = "/tmp/waitless-stream-" + std::to_string(getpid()) + ".sock";
  {
    Server server(loop, {.unix_path = path});
    auto got = run_task(
        echo_once([&] { return TcpStream::connect(loop, SocketAddress::unix_path(path).value()); }), loop);
    EXPECT_EQ(got, "over there");
  }
  expect_empty(loop);
}

TEST(TcpStream, ConnectByNameTriesEachAddress) {
  std::ifstream hosts("/etc/hosts");
  std::stringstream text;
  text << hosts.rdbuf();
  if (text.str().find("localhost") == std::string::npos) GTEST_SKIP() << "no localhost in /etc/hosts";
  Loop loop;
  {
    // IPv4 only: if "localhost" also names ::1, that attempt is refused and the next address is tried.
    Server server(loop);
    auto got = run_task(
        [&]() -> Task<std::string> {
          auto s = co_await TcpStream::connect(loop, "localhost", server.port(), {.timeout = 5s});
          if (!s) co_return "connect: " + s.error().message();
          (*s)->write("by name");
          co_return co_await read_n(**s, 7);
        }(),
        loop);
    EXPECT_EQ(got, "by name");
  }
  expect_empty(loop);
}

// Many connections at once share the loop's one receive buffer; each gets its own bytes back.
TEST(TcpStream, TwoHundredConcurrentEchoClients) {
  Loop loop;
  {
    Server server(loop);
    constexpr int kClients = 200;
    int good = 0, done = 0;
    auto client = [&](int i) -> Task<> {
      auto s = co_await TcpStream::connect(loop, "127.0.0.1", server.port());
      if (s) {
        std::string msg = "client " + std::to_string(i) + std::string(static_cast<std::size_t>(i) * 100, '.');
        (*s)->write(msg);
        if (co_await read_n(**s, msg.size()) == msg) ++good;
      }
      ++done;
    };
    run_task(
        [&]() -> Task<> {
          for (int i = 0; i < kClients; ++i) spawn(client(i));
          co_return;
        }(),
        loop);
    ASSERT_TRUE(test::run_until(loop, [&] { return done == kClients; }));
    EXPECT_EQ(good, kClients);
    EXPECT_EQ(server.conns.size(), static_cast<std::size_t>(kClients));
  }
  expect_empty(loop);
}

TEST(TcpStream, LargeTransferKeepsEveryByteInOrder) {
  Loop loop;
  {
    Server server(loop);
    std::string payload(4 << 20, '\0');
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 131 % 251);
    auto got = run_task(
        [&]() -> Task<std::string> {
          auto s = co_await TcpStream::connect(loop, "127.0.0.1", server.port());
          if (!s) co_return "";
          (*s)->write(std::string_view(payload));  // what the kernel does not take at once is queued
          co_return co_await read_n(**s, payload.size());
        }(),
        loop);
    EXPECT_TRUE(got == payload) << "received " << got.size() << " bytes";
  }
  expect_empty(loop);
}

TEST(TcpStream, ConnectRefusedIsAValue) {
  Loop loop;
  // A port that was just free: bind, read it back, close.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto any = SocketAddress::parse("127.0.0.1", 0);
  ASSERT_EQ(::bind(fd, any->data(), any->size()), 0);
  uint16_t port = SocketAddress::local_of(fd)->port();
  ::close(fd);
  auto r = run_task(TcpStream::connect(loop, "127.0.0.1", port), loop);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), std::errc::connection_refused);
  auto bad = run_task(TcpStream::connect(loop, SocketAddress()), loop);
  EXPECT_EQ(bad.error(), Error::invalid_argument);
  expect_empty(loop);
}

// A listener that never accepts, with its accept queue full: a further SYN is dropped by the kernel, so a
// connect to it stays in SYN_SENT until our deadline.
class FullBacklog {
 public:
  FullBacklog() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    auto a = SocketAddress::parse("127.0.0.1", 0);
    EXPECT_EQ(::bind(fd_, a->data(), a->size()), 0);
    EXPECT_EQ(::listen(fd_, 0), 0);
    port_ = SocketAddress::local_of(fd_)->port();
    a->set_port(port_);
    for (int i = 0; i < 4; ++i) {
      int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      (void)::connect(c, a->data(), a->size());
      fillers_.push_back(c);
    }
  }
  ~FullBacklog() {
    for (int c : fillers_) ::close(c);
    ::close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  int fd_;
  uint16_t port_;
  std::vector<int> fillers_;
};

TEST(TcpStream, ConnectTimeout) {
  Loop loop;
  FullBacklog full;
  int64_t t0 = loop.now();
  auto r = run_task(TcpStream::connect(loop, "127.0.0.1", full.port(), {.timeout = 100ms}), loop);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Error::timed_out);
  EXPECT_LT(loop.now() - t0, 2'000'000'000);
  expect_empty(loop);
}

TEST(TcpStream, ConnectHonoursTheTasksCancelToken) {
  Loop loop;
  FullBacklog full;
  CancelSource source;
  auto r = run_task(
      [&]() -> Task<Result<Stream>> {
        auto canceller = [&]() -> Task<> {
          co_await sleep(20ms);
          source.cancel();
        };
        spawn(canceller());
        co_return co_await TcpStream::connect(loop, "127.0.0.1", full.port()).with_token(source.token());
      }(),
      loop);
  EXPECT_EQ(r.error(), Error::cancelled);
  expect_empty(loop);
}

// The peer does not read: write() turns false past the mark, drain() waits, and completes (with on_drain
// called once) when the peer reads everything.
TEST(TcpStream, WriteBackpressureAndDrain) {
  Loop loop;
  {
    Server server(loop, {}, /*echo=*/false);
    std::size_t received = 0, written = 0;
    int drains = 0;
    auto ec = run_task(
        [&]() -> Task<std::error_code> {
          auto c = co_await TcpStream::connect(loop, "127.0.0.1", server.port());
          if (!c) co_return c.error();
          TcpStream& s = **c;
          s.set_high_water_mark(256 * 1024);
          s.on_drain([&] { ++drains; });
          std::string chunk(64 * 1024, 'x');
          bool ok = true;
          for (int i = 0; i < 100'000 && ok; ++i) {
            ok = s.write(std::string_view(chunk));
            written += chunk.size();
          }
          EXPECT_FALSE(ok);
          EXPECT_GE(s.write_queue_size(), 256u * 1024);
          EXPECT_EQ(drains, 0);
          co_await server.accepted.acquire();
          server.last().on_data([&](std::string_view d) { received += d.size(); });
          auto drained = co_await s.drain();
          EXPECT_EQ(s.write_queue_size(), 0u);
          co_return drained;
        }(),
        loop);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(drains, 1);
    EXPECT_GT(written, 256u * 1024);
    // Everything written reaches the peer; the client is closed, so wait for the server's EOF.
    bool eof = false;
    server.last().on_end([&] { eof = true; });
    ASSERT_TRUE(test::run_until(loop, [&] { return eof; }));
    EXPECT_EQ(received, written);
  }
  expect_empty(loop);
}

// A Unix socket whose peer is gone fails the next write at once: EPIPE as a value, not SIGPIPE.
TEST(TcpStream, WriteToClosedPeerIsEpipeValue) {
  Loop loop;
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  ::close(sv[1]);
  auto s = TcpStream::adopt(loop, sv[0]);
  ASSERT_TRUE(s.ok());
  std::error_code reported;
  (*s)->on_error([&](std::error_code ec) { reported = ec; });
  EXPECT_FALSE((*s)->write("into the void"));
  EXPECT_EQ((*s)->error(), std::errc::broken_pipe);
  EXPECT_FALSE(reported);  // never from inside write()
  auto drained = run_task([&]() -> Task<std::error_code> { co_return co_await (*s)->drain(); }(), loop);
  EXPECT_EQ(drained, std::errc::broken_pipe);
  ASSERT_TRUE(test::run_until(loop, [&] { return bool(reported); }));  // from the check phase
  EXPECT_EQ(reported, std::errc::broken_pipe);
  EXPECT_FALSE((*s)->write("again"));
  s->reset();
  expect_empty(loop);
}

// TCP: the peer resets the connection (close with SO_LINGER 0): read() and later writes get ECONNRESET.
TEST(TcpStream, ResetByPeerIsAValue) {
  Loop loop;
  {
    Server server(loop, {}, /*echo=*/false);
    auto r = run_task(
        [&]() -> Task<std::error_code> {
          auto c = co_await TcpStream::connect(loop, "127.0.0.1", server.port());
          if (!c) co_return c.error();
          co_await server.accepted.acquire();
          linger lg{1, 0};
          setsockopt(server.last().fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
          server.conns.clear();  // RST
          auto got = co_await (*c)->read();
          EXPECT_FALSE((*c)->write("late"));
          co_return got.error();
        }(),
        loop);
    EXPECT_EQ(r, std::errc::connection_reset);
  }
  expect_empty(loop);
}

// shutdown(): FIN after the queued data, reading goes on; the peer answers and ends.
TEST(TcpStream, HalfClose) {
  Loop loop;
  {
    Server server(loop, {}, /*echo=*/false);
    auto got = run_task(
        [&]() -> Task<std::string> {
          auto c = co_await TcpStream::connect(loop, "127.0.0.1", server.port());
          if (!c) co_return "connect failed";
          co_await server.accepted.acquire();
          TcpStream& peer = server.last();
          std::string request;
          peer.on_data([&](std::string_view d) { request += d; });
          peer.on_end([&] {
            peer.write("got " + request);
            peer.end();  // FIN after the answer, then close
          });
          (*c)->write(std::string(100'000, 'p'));
          EXPECT_FALSE((*c)->shutdown());
          EXPECT_FALSE((*c)->write("after shutdown"));
          std::string answer = co_await read_n(**c, SIZE_MAX);  // until EOF
          EXPECT_TRUE((*c)->at_eof());
          co_return answer.substr(0, 4) + std::to_string(answer.size());
        }(),
        loop);
    EXPECT_EQ(got, "got 100004");
  }
  expect_empty(loop);
}

TEST(TcpStream, PauseResumeAndReadsPerReadinessAreCapped) {
  Loop loop;
  {
    Server server(loop, {}, /*echo=*/false);
    auto c = run_task(TcpStream::connect(loop, "127.0.0.1", server.port()), loop);
    ASSERT_TRUE(c.ok());
    run_task([&]() -> Task<> { (void)co_await server.accepted.acquire(); }(), loop);
    // 2 MiB arrive; the client counts chunks per loop iteration.
    server.last().write(std::string(2 << 20, 'd'));
    std::size_t total = 0;
    uint64_t iteration = 0;
    int per_iteration = 0, max_per_iteration = 0, calls = 0;
    TcpStream& s = **c;
    s.on_data([&](std::string_view d) {
      total += d.size();
      ++calls;
      uint64_t now = loop.metrics().iterations;
      per_iteration = now == iteration ? per_iteration + 1 : 1;
      iteration = now;
      max_per_iteration = std::max(max_per_iteration, per_iteration);
      if (calls == 1) s.pause();
    });
    test::run_for(loop, 20ms);
    EXPECT_EQ(calls, 1);  // paused inside the first callback: nothing more was read
    EXPECT_TRUE(s.paused());
    s.resume();
    ASSERT_TRUE(test::run_until(loop, [&] { return total == (2u << 20); }));
    EXPECT_LE(max_per_iteration, TcpStream::kMaxReadsPerReadiness);
    c->reset();
  }
  expect_empty(loop);
}

TEST(TcpStream, MisuseAndCloseAreErrorValues) {
  Loop loop;
  {
    Server server(loop, {}, /*echo=*/false);
    run_task(
        [&]() -> Task<> {
          auto c = co_await TcpStream::connect(loop, "127.0.0.1", server.port());
          EXPECT_TRUE(c.ok());
          TcpStream& s = **c;
          s.on_data([](std::string_view) {});
          EXPECT_EQ((co_await s.read()).error(), Error::invalid_argument);  // flowing mode is on
          s.on_data(nullptr);
          // A pending read() completes with Error::closed when the stream is closed under it.
          auto closer = [&]() -> Task<> {
            co_await sleep(1ms);
            EXPECT_FALSE(s.close());
          };
          spawn(closer());
          EXPECT_EQ((co_await s.read()).error(), Error::closed);
          EXPECT_EQ((co_await s.read()).error(), Error::closed);
          EXPECT_FALSE(s.write("x"));
          EXPECT_EQ(co_await s.drain(), Error::closed);
          EXPECT_EQ(s.shutdown(), Error::closed);
          EXPECT_EQ(s.close(), Error::already_closing);
        }(),
        loop);
  }
  EXPECT_EQ(TcpStream::adopt(loop, -1).error(), Error::invalid_argument);
  expect_empty(loop);
}

TEST(TcpStream, CallbackMayDestroyTheStream) {
  Loop loop;
  {
    Server server(loop, {}, /*echo=*/false);
    auto c = run_task(TcpStream::connect(loop, "127.0.0.1", server.port()), loop);
    ASSERT_TRUE(c.ok());
    run_task([&]() -> Task<> { (void)co_await server.accepted.acquire(); }(), loop);
    server.last().write(std::string(1 << 20, 'z'));
    int calls = 0;
    (*c)->on_data([&](std::string_view) {
      ++calls;
      c->reset();  // destroyed mid-readiness: no further callback may touch it
    });
    ASSERT_TRUE(test::run_until(loop, [&] { return calls > 0; }));
    test::run_for(loop, 5ms);
    EXPECT_EQ(calls, 1);
  }
  expect_empty(loop);
}

TEST(TcpStream, OptionsAndAddresses) {
  Loop loop;
  {
    Server server(loop, {}, /*echo=*/false);
    auto c = run_task(TcpStream::connect(loop, "127.0.0.1", server.port()), loop);
    ASSERT_TRUE(c.ok());
    EXPECT_FALSE((*c)->set_no_delay(false));
    EXPECT_FALSE((*c)->set_keep_alive(true, 30s));
    int v = 0;
    socklen_t len = sizeof v;
    getsockopt((*c)->fd(), SOL_SOCKET, SO_KEEPALIVE, &v, &len);
    EXPECT_EQ(v, 1);
    EXPECT_EQ((*c)->local_address()->host(), "127.0.0.1");
    c->reset();
  }
  expect_empty(loop);
}

}  // namespace
}  // namespace waitless::net
