// End to end against Node's http server (another implementation, in another process): Content-Length and
// chunked responses, keep-alive reuse, bodies both ways, streaming. Skipped when `node` is not installed.
#include <gtest/gtest.h>

#include <string>

#include "waitless/http/client.hpp"
#include "waitless/http/client_test_support.hpp"
#include "waitless/proc/process.hpp"

namespace waitless::http {
namespace {

using testing::run_bounded;

// Prints its port on stdout, serves until its stdin closes. /big streams 1 MB in 64 KB chunked writes.
constexpr const char* kServer = R"JS(
const http = require('http');
let connections = 0;
const srv = http.createServer((req, res) => {
  if (req.url === '/length') {
    const b = 'hello from node';
    res.writeHead(200, {'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(b)});
    res.end(b);
  } else if (req.url === '/chunked') {
    res.write('a'.repeat(1000));
    setTimeout(() => res.end('b'.repeat(1000)), 5);
  } else if (req.url === '/echo') {
    let d = '';
    req.on('data', c => d += c);
    req.on('end', () => res.end(req.method + ' ' + req.headers['x-test'] + ' ' + d));
  } else if (req.url === '/big') {
    let i = 0;
    const more = () => {
      while (i < 16) { i++; if (!res.write('x'.repeat(65536))) { res.once('drain', more); return; } }
      res.end();
    };
    more();
  } else if (req.url === '/connections') {
    res.end(String(connections));
  } else {
    res.statusCode = 404;
    res.end('nope');
  }
});
srv.on('connection', () => connections++);
srv.keepAliveTimeout = 10000;
srv.listen(0, '127.0.0.1', () => console.log(srv.address().port));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
)JS";

bool have_node() { return std::system("node --version > /dev/null 2>&1") == 0; }

TEST(HttpClientNode, AgainstNodeHttpServer) {
  if (!have_node()) GTEST_SKIP() << "node is not installed";
  Loop loop;
  {
    auto spawned = Process::spawn(
        loop, {.file = "node", .args = {"-e", kServer}, .stdio = {Stdio::pipe, Stdio::pipe, Stdio::inherit}});
    ASSERT_TRUE(spawned.ok()) << spawned.error().message();
    Process& node = **spawned;
    auto scenario = [&]() -> Task<void> {
      std::string line;
      while (line.find('\n') == std::string::npos) {
        auto piece = co_await node.stdout_pipe().read();
        if (!piece || piece->empty()) {
          ADD_FAILURE() << "node did not print its port";
          co_return;
        }
        line += *piece;
      }
      const std::string base = "http://127.0.0.1:" + line.substr(0, line.find('\n'));
      Client client(loop);

      auto length = co_await client.get(base + "/length");
      EXPECT_TRUE(length.ok());
      if (length) {
        EXPECT_EQ(length->status, 200);
        EXPECT_EQ(length->body, "hello from node");
        EXPECT_EQ(length->header("content-type"), "text/plain");
      }
      auto chunked = co_await client.get(base + "/chunked");
      EXPECT_TRUE(chunked.ok());
      if (chunked) {
        EXPECT_EQ(chunked->header("transfer-encoding"), "chunked");
        EXPECT_EQ(chunked->body, std::string(1000, 'a') + std::string(1000, 'b'));
      }
      ClientRequest echo{
          .method = "POST", .url = base + "/echo", .headers = {{"X-Test", "t"}}, .body = "ping"};
      auto echoed = co_await client.request(std::move(echo));
      EXPECT_TRUE(echoed.ok());
      if (echoed) {
        EXPECT_EQ(echoed->body, "POST t ping");
      }
      auto missing = co_await client.get(base + "/missing");
      EXPECT_TRUE(missing.ok() && missing->status == 404);

      ClientRequest big{.url = base + "/big"};
      auto s = co_await client.stream(std::move(big));
      EXPECT_TRUE(s.ok());
      if (s) {
        std::size_t total = 0;
        for (;;) {
          auto piece = co_await s->read();
          if (!piece || piece->empty()) {
            EXPECT_TRUE(piece.ok());
            break;
          }
          total += piece->size();
        }
        EXPECT_EQ(total, 16u * 65536);
      }
      // Every request so far went over one kept-alive connection, and Node agrees.
      auto count = co_await client.get(base + "/connections");
      EXPECT_TRUE(count.ok());
      if (count) {
        EXPECT_EQ(count->body, "1");
      }
      EXPECT_EQ(client.metrics().connections_opened, 1u);
      EXPECT_EQ(client.metrics().retries, 0u);

      (void)node.stdin_pipe().close();
      auto status = co_await node.wait();
      EXPECT_TRUE(status.ok() && status->success());
    };
    run_bounded(loop, scenario(), std::chrono::seconds(8));
  }
  net::test::expect_empty(loop);
}

}  // namespace
}  // namespace waitless::http
