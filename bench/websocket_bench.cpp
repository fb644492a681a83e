// WebSocket benchmark (bench/websocket_bench.sh runs it against the waitless server and a Node `ws` server):
//
//   websocket_bench serve PORT                      the waitless side: one loop; GET / answers
//                                                   "Hello, World!" (the peer check), /echo echoes, /room
//                                                   subscribes to "room", a message on /pub is published
//                                                   to "room" (framed once for every subscriber)
//   websocket_bench echo PORT CLIENTS SECONDS WINDOW       echo throughput
//   websocket_bench broadcast PORT SUBSCRIBERS SECONDS     1 message per ms to every subscriber
//
// The load generator is C++ on raw loopback sockets and epoll, with waitless's frame writer and parser
// (websocket_frame.hpp), rather than the waitless WebSocket client or Node: a loader on the WebSocket
// client does per message what the server does (the same class: UTF-8 check, callbacks, a fresh random
// mask and a masked copy per send), so on the one core left to it it would share the bottleneck; Node
// is slower still, and several Node processes would need cores this 2-core machine gives to the server.
// Here a connection writes every frame it owes with one write per readiness, reads many frames per
// read, and reuses one masked frame (masking is not what is measured), so it spends a fraction of the
// server's work per message and the server is what is measured. Its own CPU share is printed
// (`loader_cpu`: CPU seconds / wall seconds; near 1.0 would mean it limits the figure).
//
// echo: each of CLIENTS connections keeps WINDOW text messages of 32 bytes in flight (a new one for each
// echo received); after a 1 s warm-up, echoes received in SECONDS are counted: `echo msgs_per_s N`.
// broadcast: SUBSCRIBERS connections on /room, one publisher on /pub sending a message every millisecond
// whose payload is its send time (CLOCK_MONOTONIC, ns, same machine); each subscriber computes the
// delivery latency of every message. After a 1 s warm-up, deliveries received in SECONDS are counted and
// their latencies kept: `broadcast delivered_per_s N p50_us N p99_us N sent N`.
// Everything is bounded: connect and handshake 5 s, runs SECONDS + 2 s at most; the process ends by itself.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "waitless/http/server.hpp"
#include "waitless/http/websocket.hpp"
#include "waitless/http/websocket_frame.hpp"
#include "waitless/http/websocket_topics.hpp"

using namespace waitless;
namespace ws = waitless::http::ws;

namespace {

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

double cpu_seconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "websocket_bench: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

// ---- the waitless server ------------------------------------------------------------------------------

int serve(uint16_t port) {
  auto echo = std::make_shared<http::WebSocketConfig>();
  echo->handlers.message = [](http::WebSocket& w, std::string_view m, bool binary) {
    (void)w.send(m, binary);
  };
  auto room = std::make_shared<http::WebSocketConfig>();
  room->handlers.open = [](http::WebSocket& w) { w.subscribe("room"); };
  auto pub = std::make_shared<http::WebSocketConfig>();
  pub->handlers.message = [](http::WebSocket&, std::string_view m, bool binary) {
    (void)http::publish("room", m, binary);
  };
  http::Server server([=](http::Request& req, http::Response& res) {
    const std::string_view path = req.path();
    if (path == "/echo") {
      (void)http::accept_websocket(req, res, echo);
    } else if (path == "/room") {
      (void)http::accept_websocket(req, res, room);
    } else if (path == "/pub") {
      (void)http::accept_websocket(req, res, pub);
    } else {
      (void)res.send("Hello, World!");
    }
  });
  auto bound = server.listen(port, {.threads = 1});
  if (!bound) {
    std::fprintf(stderr, "listen: %s\n", bound.error().message().c_str());
    return 1;
  }
  return server.wait();
}

// ---- the load generator -------------------------------------------------------------------------------

constexpr uint8_t kMask[4] = {0x12, 0x34, 0x56, 0x78};

struct Conn {
  int fd = -1;
  ws::FrameParser parser{ws::ParserOptions{.server = false}};
  std::string out;  // bytes owed to the server
  bool want_out = false;
};

// A blocking connect + handshake (5 s bound), then the socket is made non-blocking.
int open_websocket(uint16_t port, const char* path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("connect");
  std::string req = std::string("GET ") + path +
                    " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) die("send");
  // Reads the head byte by byte: nothing of the WebSocket stream may be consumed here (the server sends
  // nothing before our first frame anyway on these routes).
  std::string head;
  char c;
  while (head.size() < 4096 && head.find("\r\n\r\n") == std::string::npos) {
    if (::recv(fd, &c, 1, 0) != 1) die("handshake read");
    head.push_back(c);
  }
  if (head.compare(0, 12, "HTTP/1.1 101") != 0) {
    std::fprintf(stderr, "websocket_bench: %s answered: %.40s\n", path, head.c_str());
    std::exit(1);
  }
  tv = {0, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (fcntl(fd, F_SETFL, O_NONBLOCK) != 0) die("fcntl");
  return fd;
}

void raise_fd_limit() {
  rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
}

class Loader {
 public:
  Loader() : ep_(epoll_create1(0)) {
    if (ep_ < 0) die("epoll_create1");
  }
  ~Loader() {
    for (auto& c : conns_) ::close(c->fd);
    ::close(ep_);
  }
  Conn& add(int fd) {
    conns_.push_back(std::make_unique<Conn>());
    Conn& c = *conns_.back();
    c.fd = fd;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &c;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
    return c;
  }
  void add_timer(int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl timer");
  }
  // Writes what `c` owes; asks for EPOLLOUT while the kernel takes less.
  void flush(Conn& c) {
    while (!c.out.empty()) {
      ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n > 0) {
        c.out.erase(0, static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EAGAIN) break;
      die("send");
    }
    const bool want = !c.out.empty();
    if (want != c.want_out) {
      c.want_out = want;
      epoll_event ev{};
      ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
      ev.data.ptr = &c;
      epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
    }
  }
  // Runs until `until_ns`: on_message(conn, payload) for each message, on_tick() for the timer.
  template <typename OnMessage, typename OnTick>
  void run(int64_t until_ns, OnMessage on_message, OnTick on_tick) {
    epoll_event evs[256];
    char buf[256 * 1024];
    while (now_ns() < until_ns) {
      const int n = epoll_wait(ep_, evs, 256, 50);
      if (n < 0 && errno != EINTR) die("epoll_wait");
      for (int i = 0; i < n; ++i) {
        auto* c = static_cast<Conn*>(evs[i].data.ptr);
        if (!c) {
          on_tick();
          continue;
        }
        if (evs[i].events & EPOLLOUT) flush(*c);
        if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
        ssize_t r = ::recv(c->fd, buf, sizeof buf, 0);
        if (r == 0) {
          std::fprintf(stderr, "websocket_bench: the server closed a connection\n");
          std::exit(1);
        }
        if (r < 0) {
          if (errno == EAGAIN) continue;
          die("recv");
        }
        std::size_t at = 0;
        const auto size = static_cast<std::size_t>(r);
        while (at < size) {
          std::size_t used = 0;
          auto ev = c->parser.next(buf + at, size - at, &used);
          at += used;
          if (ev == ws::FrameParser::Event::message) {
            on_message(*c, c->parser.message().payload);
          } else if (ev == ws::FrameParser::Event::error) {
            std::fprintf(stderr, "websocket_bench: bad frame from the server: %s\n",
                         c->parser.error_reason());
            std::exit(1);
          } else if (ev == ws::FrameParser::Event::need_more) {
            break;
          }
        }
        if (!c->out.empty()) flush(*c);
      }
    }
  }
  std::vector<std::unique_ptr<Conn>>& conns() { return conns_; }

 private:
  int ep_;
  std::vector<std::unique_ptr<Conn>> conns_;
};

int echo(uint16_t port, int clients, double seconds, int window) {
  raise_fd_limit();
  Loader loader;
  std::string frame;
  ws::append_frame(frame, ws::Opcode::text, "0123456789abcdef0123456789abcdef", true, false, kMask);
  for (int i = 0; i < clients; ++i) loader.add(open_websocket(port, "/echo"));
  for (auto& c : loader.conns()) {
    for (int w = 0; w < window; ++w) c->out += frame;
    loader.flush(*c);
  }
  uint64_t counted = 0;
  bool counting = false;
  auto on_message = [&](Conn& c, std::string_view) {
    counted += counting;
    c.out += frame;
  };
  const int64_t start = now_ns();
  loader.run(start + 1'000'000'000, on_message, [] {});
  counting = true;
  const double cpu0 = cpu_seconds();
  const int64_t t0 = now_ns();
  loader.run(t0 + static_cast<int64_t>(seconds * 1e9), on_message, [] {});
  const double wall = static_cast<double>(now_ns() - t0) / 1e9;
  std::printf("echo msgs_per_s %.0f clients %d window %d loader_cpu %.2f\n",
              static_cast<double>(counted) / wall, clients, window, (cpu_seconds() - cpu0) / wall);
  return 0;
}

int broadcast(uint16_t port, int subscribers, double seconds) {
  raise_fd_limit();
  Loader loader;
  for (int i = 0; i < subscribers; ++i) loader.add(open_websocket(port, "/room"));
  Conn& pub = loader.add(open_websocket(port, "/pub"));
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  if (tfd < 0) die("timerfd_create");
  itimerspec spec{};
  spec.it_interval.tv_nsec = 1'000'000;
  spec.it_value.tv_nsec = 1'000'000;
  timerfd_settime(tfd, 0, &spec, nullptr);
  loader.add_timer(tfd);
  uint64_t sent = 0;
  bool sending = true;
  auto on_tick = [&] {
    uint64_t expirations = 0;
    if (::read(tfd, &expirations, sizeof expirations) != sizeof expirations) return;
    if (!sending) return;
    // One message per elapsed millisecond, even if the loader was late (the rate stays 1/ms).
    for (uint64_t i = 0; i < expirations; ++i) {
      char payload[32];
      const int len = std::snprintf(payload, sizeof payload, "%lld", static_cast<long long>(now_ns()));
      ws::append_frame(pub.out, ws::Opcode::text, std::string_view(payload, static_cast<std::size_t>(len)),
                       true, false, kMask);
      ++sent;
    }
    loader.flush(pub);
  };
  bool counting = false;
  uint64_t delivered = 0;
  std::vector<uint32_t> latency_us;
  latency_us.reserve(static_cast<std::size_t>(seconds * 1000 * subscribers * 1.1));
  auto on_message = [&](Conn&, std::string_view payload) {
    if (!counting) return;
    const int64_t sent_at = std::strtoll(std::string(payload).c_str(), nullptr, 10);
    ++delivered;
    latency_us.push_back(
        static_cast<uint32_t>(std::clamp<int64_t>((now_ns() - sent_at) / 1000, 0, INT32_MAX)));
  };
  loader.run(now_ns() + 1'000'000'000, on_message, on_tick);
  counting = true;
  const uint64_t sent0 = sent;
  const double cpu0 = cpu_seconds();
  const int64_t t0 = now_ns();
  loader.run(t0 + static_cast<int64_t>(seconds * 1e9), on_message, on_tick);
  const double wall = static_cast<double>(now_ns() - t0) / 1e9;
  const double cpu = (cpu_seconds() - cpu0) / wall;
  sending = false;
  ::close(tfd);
  auto pct = [&](double q) -> unsigned {
    if (latency_us.empty()) return 0;
    auto k = static_cast<std::size_t>(q * static_cast<double>(latency_us.size() - 1));
    std::nth_element(latency_us.begin(), latency_us.begin() + static_cast<std::ptrdiff_t>(k),
                     latency_us.end());
    return latency_us[k];
  };
  const unsigned p50 = pct(0.50), p99 = pct(0.99);
  std::printf(
      "broadcast delivered_per_s %.0f p50_us %u p99_us %u offered_per_s %.0f subscribers %d loader_cpu "
      "%.2f\n",
      static_cast<double>(delivered) / wall, p50, p99, static_cast<double>(sent - sent0) * subscribers / wall,
      subscribers, cpu);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "serve" && argc == 3) return serve(static_cast<uint16_t>(std::atoi(argv[2])));
  if (mode == "echo" && argc == 6)
    return echo(static_cast<uint16_t>(std::atoi(argv[2])), std::atoi(argv[3]), std::atof(argv[4]),
                std::atoi(argv[5]));
  if (mode == "broadcast" && argc == 5)
    return broadcast(static_cast<uint16_t>(std::atoi(argv[2])), std::atoi(argv[3]), std::atof(argv[4]));
  std::fprintf(stderr,
               "usage: websocket_bench serve PORT | echo PORT CLIENTS SECONDS WINDOW | "
               "broadcast PORT SUBSCRIBERS SECONDS\n");
  return 2;
}
