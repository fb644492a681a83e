#include "waitless/net/transport.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "waitless/net/socket_test_support.hpp"
#include "waitless/net/test_support.hpp"

namespace waitless::net {
namespace {

using test::expect_empty;
using test::loopback_tcp_pair;
using test::run_until;

// Records every callback; optional hooks act inside them.
struct Probe : TransportHandler {
  std::string received;
  std::vector<const char*> buffers;  // where each on_bytes view pointed
  int eofs = 0, hangups = 0, closed = 0;
  std::vector<std::size_t> writable;  // queued() reported by each on_writable
  std::error_code error;
  std::function<void(Probe&)> after_bytes;
  Transport* self = nullptr;

  bool on_bytes(const char* data, std::size_t size) noexcept override {
    buffers.push_back(data);
    received.append(data, size);
    if (after_bytes) after_bytes(*this);
    return true;
  }
  bool on_eof() noexcept override {
    ++eofs;
    return true;
  }
  bool on_writable(std::size_t queued) noexcept override {
    writable.push_back(queued);
    return true;
  }
  bool on_error(std::error_code ec) noexcept override {
    error = ec;
    return true;
  }
  bool on_hangup() noexcept override {
    ++hangups;
    return true;
  }
  bool on_closed() noexcept override {
    ++closed;
    return true;
  }
};

std::string drain_fd(int fd) {
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

TEST(Transport, EveryTransportReadsIntoTheOneSharedReceiveBuffer) {
  Loop loop;
  {
    auto [a, pa] = loopback_tcp_pair();
    auto [b, pb] = loopback_tcp_pair();
    Probe pa_probe, pb_probe;
    Transport ta(loop, a, &pa_probe), tb(loop, b, &pb_probe);
    ASSERT_FALSE(ta.start());
    ASSERT_FALSE(tb.start());
    ASSERT_EQ(::write(pa, "one", 3), 3);
    ASSERT_EQ(::write(pb, "two", 3), 3);
    ASSERT_TRUE(run_until(loop, [&] { return pa_probe.received == "one" && pb_probe.received == "two"; }));
    EXPECT_EQ(pa_probe.buffers[0], Transport::receive_buffer());
    EXPECT_EQ(pb_probe.buffers[0], Transport::receive_buffer());
    ::close(pa);
    ::close(pb);
  }
  expect_empty(loop);
}

// The peer does not read: write() queues what the kernel does not take, on_writable reports the queue
// shrinking as the peer reads, down to 0, and every byte arrives in order.
TEST(Transport, WriteQueueDrainsInOrder) {
  Loop loop;
  {
    auto [fd, peer] = loopback_tcp_pair();
    Probe probe;
    Transport t(loop, fd, &probe);
    ASSERT_FALSE(t.start());
    std::string sent;
    for (int i = 0; t.queued() < (std::size_t{4} << 20); ++i) {
      std::string chunk(100'000, static_cast<char>('a' + i % 26));
      ASSERT_FALSE(t.write(chunk));
      sent += chunk;
    }
    EXPECT_GE(t.queued(), std::size_t{4} << 20);
    // Small writes behind a queue join it (no send until writable).
    ASSERT_FALSE(t.write("tail"));
    sent += "tail";
    std::string got;
    ASSERT_TRUE(run_until(loop, [&] {
      got += drain_fd(peer);
      return !probe.writable.empty() && probe.writable.back() == 0;
    }));
    ASSERT_TRUE(run_until(loop, [&] {
      got += drain_fd(peer);
      return got.size() >= sent.size();
    }));
    EXPECT_TRUE(got == sent);
    for (std::size_t i = 1; i < probe.writable.size(); ++i)
      EXPECT_LT(probe.writable[i], probe.writable[i - 1]);
    EXPECT_EQ(t.queued(), 0u);
    ::close(peer);
  }
  expect_empty(loop);
}

TEST(Transport, PauseStopsDeliveryAndResumeRestartsIt) {
  Loop loop;
  {
    auto [fd, peer] = loopback_tcp_pair();
    Probe probe;
    Transport t(loop, fd, &probe);
    ASSERT_FALSE(t.start());
    probe.after_bytes = [&](Probe&) { t.pause(); };
    ASSERT_EQ(::write(peer, "first", 5), 5);
    ASSERT_TRUE(run_until(loop, [&] { return probe.received == "first"; }));
    ASSERT_EQ(::write(peer, "second", 6), 6);
    test::run_for(loop, std::chrono::milliseconds(20));
    EXPECT_EQ(probe.received, "first");                  // paused: the bytes wait in the kernel
    EXPECT_EQ(t.watcher().events() & io::readable, 0u);  // the lazy pause dropped the interest
    probe.after_bytes = nullptr;
    ASSERT_FALSE(t.resume());
    ASSERT_TRUE(run_until(loop, [&] { return probe.received == "firstsecond"; }));
    ::close(peer);
  }
  expect_empty(loop);
}

// Reads per readiness are capped: a 1 MiB burst arrives over several loop iterations.
TEST(Transport, ReadsPerReadinessAreCapped) {
  Loop loop;
  {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
    int size = 4 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    Probe probe;
    Transport t(loop, sv[0], &probe);
    std::size_t written = 0;
    std::string chunk(65536, 'x');
    while (written < (std::size_t{1} << 20)) {
      ssize_t n = ::write(sv[1], chunk.data(), chunk.size());
      if (n <= 0) break;
      written += static_cast<std::size_t>(n);
    }
    uint64_t iteration = 0;
    int per = 0, max_per = 0;
    probe.after_bytes = [&](Probe&) {
      uint64_t now = loop.metrics().iterations;
      per = now == iteration ? per + 1 : 1;
      iteration = now;
      max_per = std::max(max_per, per);
    };
    ASSERT_FALSE(t.start());
    ASSERT_TRUE(run_until(loop, [&] { return probe.received.size() == written; }));
    EXPECT_LE(max_per, Transport::kMaxReadsPerReadiness);
    ::close(sv[1]);
  }
  expect_empty(loop);
}

// shutdown(): FIN after the queue; reading goes on; no write after it.
TEST(Transport, HalfCloseSendsFinAfterTheQueueAndKeepsReading) {
  Loop loop;
  {
    auto [fd, peer] = loopback_tcp_pair();
    Probe probe;
    Transport t(loop, fd, &probe);
    ASSERT_FALSE(t.start());
    std::string big;
    for (int i = 0; i < 64 && t.queued() == 0; ++i) {  // until the kernel's buffers are full
      std::string chunk(1 << 20, 'q');
      ASSERT_FALSE(t.write(chunk));
      big += chunk;
    }
    ASSERT_GT(t.queued(), 0u);
    ASSERT_FALSE(t.shutdown());
    EXPECT_EQ(t.write("late"), Error::closed);
    std::string got;
    bool eof = false;
    ASSERT_TRUE(run_until(loop, [&] {
      char buf[65536];
      ssize_t n;
      while ((n = ::read(peer, buf, sizeof buf)) > 0) got.append(buf, static_cast<std::size_t>(n));
      eof = n == 0;
      return eof;
    }));
    EXPECT_EQ(got.size(), big.size());  // everything, then the FIN
    ASSERT_EQ(::write(peer, "answer", 6), 6);
    ::shutdown(peer, SHUT_WR);
    ASSERT_TRUE(run_until(loop, [&] { return probe.eofs == 1; }));
    EXPECT_EQ(probe.received, "answer");
    EXPECT_TRUE(t.at_eof());
    ::close(peer);
  }
  expect_empty(loop);
}

// close_lingering(): FIN, then what the peer still sends is read and dropped until its EOF (on_closed).
TEST(Transport, LingeringCloseDropsInputUntilEof) {
  Loop loop;
  {
    auto [fd, peer] = loopback_tcp_pair();
    Probe probe;
    Transport t(loop, fd, &probe);
    ASSERT_FALSE(t.start());
    ASSERT_FALSE(t.write("last words"));
    ASSERT_TRUE(t.close_lingering(loop.now() + 2'000'000'000));
    EXPECT_TRUE(t.lingering());
    EXPECT_EQ(t.write("more"), Error::closed);
    std::string spam(200'000, 's');
    std::size_t off = 0;
    std::string got;
    ASSERT_TRUE(run_until(loop, [&] {
      ssize_t n = ::write(peer, spam.data() + off, spam.size() - off);  // the client is still sending
      if (n > 0) off += static_cast<std::size_t>(n);
      got += drain_fd(peer);
      return off == spam.size();
    }));
    test::run_for(loop, std::chrono::milliseconds(10));
    EXPECT_EQ(probe.received, "");  // dropped, never delivered
    EXPECT_EQ(probe.closed, 0);
    EXPECT_TRUE(t.is_open());
    ::shutdown(peer, SHUT_WR);
    ASSERT_TRUE(run_until(loop, [&] { return probe.closed == 1; }));
    EXPECT_FALSE(t.is_open());
    got += drain_fd(peer);
    EXPECT_EQ(got, "last words");
    ::close(peer);
  }
  expect_empty(loop);
}

// The deadline is a value the owner's clock checks: expired() at and after it; close() ends the linger.
TEST(Transport, DeadlineIsCheckedByTheOwner) {
  Loop loop;
  {
    auto [fd, peer] = loopback_tcp_pair();
    Probe probe;
    Transport t(loop, fd, &probe);
    EXPECT_FALSE(t.expired(loop.now()));  // 0: none
    ASSERT_TRUE(t.close_lingering(loop.now() + 5'000'000));
    EXPECT_FALSE(t.expired(loop.now()));
    test::run_for(loop, std::chrono::milliseconds(10));
    EXPECT_TRUE(t.expired(loop.now()));
    t.close();  // the owner's answer to the deadline: a silent peer does not hold the fd
    EXPECT_FALSE(t.is_open());
    EXPECT_EQ(probe.closed, 0);  // close() calls nothing back
    EXPECT_EQ(drain_fd(peer), "");
    ::close(peer);
  }
  expect_empty(loop);
}

TEST(Transport, PeerResetIsAnErrorValue) {
  Loop loop;
  {
    auto [fd, peer] = loopback_tcp_pair();
    Probe probe;
    Transport t(loop, fd, &probe);
    ASSERT_FALSE(t.start());
    linger lg{1, 0};
    setsockopt(peer, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    ::close(peer);  // RST
    ASSERT_TRUE(run_until(loop, [&] { return bool(probe.error); }));
    EXPECT_EQ(probe.error, std::errc::connection_reset);
    EXPECT_TRUE(t.failed());
    EXPECT_EQ(t.write("x"), Error::closed);  // stopped: later writes are refused, not sent
  }
  expect_empty(loop);
}

TEST(Transport, EofIsReportedOnce) {
  Loop loop;
  {
    auto [fd, peer] = loopback_tcp_pair();
    Probe probe;
    Transport t(loop, fd, &probe);
    ASSERT_FALSE(t.start());
    ASSERT_EQ(::write(peer, "bye", 3), 3);
    ::close(peer);
    ASSERT_TRUE(run_until(loop, [&] { return probe.eofs == 1; }));
    test::run_for(loop, std::chrono::milliseconds(10));
    EXPECT_EQ(probe.eofs, 1);
    EXPECT_EQ(probe.received, "bye");
    EXPECT_FALSE(probe.error);
  }
  expect_empty(loop);
}

// A write to a peer that is gone returns EPIPE as a value (no SIGPIPE, no callback from inside write()).
TEST(Transport, WriteErrorIsReturnedNotReported) {
  Loop loop;
  {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
    ::close(sv[1]);
    Probe probe;
    Transport t(loop, sv[0], &probe);
    EXPECT_EQ(t.write("into the void"), std::errc::broken_pipe);
    EXPECT_TRUE(t.failed());
    EXPECT_FALSE(probe.error);
    EXPECT_EQ(t.write("again"), Error::closed);
  }
  expect_empty(loop);
}

// The peer hangs up while reading is paused: on_hangup, so the owner can give up at once.
TEST(Transport, HangupWhilePausedIsReported) {
  Loop loop;
  {
    auto [fd, peer] = loopback_tcp_pair();
    Probe probe;
    Transport t(loop, fd, &probe);
    ASSERT_FALSE(t.start());
    t.pause();
    linger lg{1, 0};
    setsockopt(peer, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    ::close(peer);  // RST: EPOLLHUP | EPOLLERR
    ASSERT_TRUE(run_until(loop, [&] { return probe.hangups == 1; }));
    EXPECT_EQ(probe.received, "");
  }
  expect_empty(loop);
}

}  // namespace
}  // namespace waitless::net
