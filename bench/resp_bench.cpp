// resp_bench: the measurement behind docs/redis.md's choice of RESP parser. waitless's own RespParser
// (waitless/data/redis_parser.hpp) against hiredis 0.14's redisReader (Debian bookworm's libhiredis, the
// reader its async API parses with), on reply streams generated here, fed in 16 KiB pieces as a socket
// read delivers them:
//   ints     100 000 integer replies (":12345")                       (INCR, DEL... pipelined)
//   bulk100  100 000 bulk strings of 100 bytes                         (GET of small values)
//   array10  10 000 arrays of 10 bulk strings of 16 bytes             (MGET, LRANGE)
//   bulk64k  1 000 bulk strings of 64 KiB                             (GET of large values)
// Both build an owned reply tree per reply (hiredis: redisReply with its default functions; waitless:
// Reply), then free it. Best of ROUNDS, ns per reply and MB/s of stream. Prints a table, `figure
// resp_<stream>_<parser>_ns` lines and `ratio resp_<stream>_hiredis_over_waitless` lines.
//   ./build/resp_bench [rounds]
#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "waitless/data/redis_parser.hpp"

using Clock = std::chrono::steady_clock;
using waitless::data::RespParser;

namespace {

constexpr std::size_t kPiece = 16 * 1024;

struct Stream {
  const char* name;
  std::string bytes;
  std::size_t replies;
};

std::string bulk(std::size_t n, char c) {
  return "$" + std::to_string(n) + "\r\n" + std::string(n, c) + "\r\n";
}

std::vector<Stream> make_streams() {
  std::vector<Stream> s;
  std::string ints, b100, arr, big;
  for (int i = 0; i < 100000; ++i) ints += ":" + std::to_string(10000 + i) + "\r\n";
  for (int i = 0; i < 100000; ++i) b100 += bulk(100, 'a' + i % 26);
  for (int i = 0; i < 10000; ++i) {
    arr += "*10\r\n";
    for (int j = 0; j < 10; ++j) arr += bulk(16, 'a' + j);
  }
  for (int i = 0; i < 1000; ++i) big += bulk(64 * 1024, 'x');
  s.push_back({"ints", ints, 100000});
  s.push_back({"bulk100", b100, 100000});
  s.push_back({"array10", arr, 10000});
  s.push_back({"bulk64k", big, 1000});
  return s;
}

// Returns the replies seen (to check both parsers agree on the count).
std::size_t run_waitless(const std::string& bytes) {
  RespParser p;
  std::size_t n = 0;
  for (std::size_t i = 0; i < bytes.size(); i += kPiece) {
    p.feed(bytes.data() + i, std::min(kPiece, bytes.size() - i));
    while (true) {
      auto r = p.next();
      if (!r) std::abort();
      if (!*r) break;
      ++n;
    }
  }
  return n;
}

std::size_t run_hiredis(const std::string& bytes) {
  redisReader* reader = redisReaderCreate();
  reader->maxbuf = 0;  // as for the waitless parser: no idle-buffer trimming in the middle of a stream
  std::size_t n = 0;
  for (std::size_t i = 0; i < bytes.size(); i += kPiece) {
    if (redisReaderFeed(reader, bytes.data() + i, std::min(kPiece, bytes.size() - i)) != REDIS_OK)
      std::abort();
    while (true) {
      void* reply = nullptr;
      if (redisReaderGetReply(reader, &reply) != REDIS_OK) std::abort();
      if (!reply) break;
      freeReplyObject(reply);
      ++n;
    }
  }
  redisReaderFree(reader);
  return n;
}

template <typename F>
double best_ns_per_reply(const Stream& s, int rounds, F f) {
  double best = 1e300;
  for (int r = 0; r < rounds; ++r) {
    auto t0 = Clock::now();
    std::size_t n = f(s.bytes);
    double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
    if (n != s.replies) {
      std::fprintf(stderr, "resp_bench: %s: %zu replies, expected %zu\n", s.name, n, s.replies);
      std::exit(1);
    }
    best = std::min(best, ns / static_cast<double>(n));
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  const auto streams = make_streams();
  std::printf("%-8s %10s %12s %12s %10s %10s\n", "stream", "bytes", "waitless ns", "hiredis ns", "wl MB/s",
              "hr MB/s");
  std::vector<std::string> lines;
  for (const Stream& s : streams) {
    const double w = best_ns_per_reply(s, rounds, run_waitless);
    const double h = best_ns_per_reply(s, rounds, run_hiredis);
    const double per_reply = static_cast<double>(s.bytes.size()) / static_cast<double>(s.replies);
    std::printf("%-8s %10zu %12.1f %12.1f %10.0f %10.0f\n", s.name, s.bytes.size(), w, h, per_reply / w * 1e3,
                per_reply / h * 1e3);
    lines.push_back("figure resp_" + std::string(s.name) + "_waitless_ns " + std::to_string(w));
    lines.push_back("figure resp_" + std::string(s.name) + "_hiredis_ns " + std::to_string(h));
    lines.push_back("ratio resp_" + std::string(s.name) + "_hiredis_over_waitless " + std::to_string(h / w));
  }
  for (const auto& l : lines) std::printf("%s\n", l.c_str());
  return 0;
}
