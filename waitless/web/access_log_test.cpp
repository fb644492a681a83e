#include "waitless/web/access_log.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "waitless/fs/test_support.hpp"
#include "waitless/web/app.hpp"
#include "waitless/web/app_test_support.hpp"

namespace waitless::web {
namespace {

using namespace std::chrono_literals;
using test::request;
using test::serve;

class WebAccessLog : public fs::test::TempDirTest {
 protected:
  std::vector<std::string> lines(const std::string& file) {
    std::ifstream in(file);
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
};

TEST_F(WebAccessLog, SinkWritesOffTheCallerAndFlushes) {
  auto sink = LogSink::open_file(path("a.log"));
  ASSERT_TRUE(sink.ok());
  for (int i = 0; i < 1000; ++i) (*sink)->write("line " + std::to_string(i));
  (*sink)->flush();
  auto got = lines(path("a.log"));
  ASSERT_EQ(got.size(), 1000u);
  EXPECT_EQ(got[999], "line 999");
  EXPECT_EQ((*sink)->written_lines(), 1000u);
  EXPECT_EQ((*sink)->dropped(), 0u);
}

TEST_F(WebAccessLog, ASinkOverItsBoundDropsAndCounts) {
  auto sink = LogSink::open_file(path("b.log"), 64);
  ASSERT_TRUE(sink.ok());
  // Without a flush between them, the first few fill the 64-byte bound unless the writer already took
  // them: at least the lines past the bound at some instant are dropped, none is half-written.
  for (int i = 0; i < 200; ++i) (*sink)->write(std::string(30, 'x'));
  (*sink)->flush();
  const auto got = lines(path("b.log"));
  EXPECT_EQ(got.size() + (*sink)->dropped(), 200u);
  for (const auto& l : got) EXPECT_EQ(l, std::string(30, 'x'));
}

TEST_F(WebAccessLog, CombinedCommonAndJsonLines) {
  auto sink = LogSink::open_file(path("c.log"));
  ASSERT_TRUE(sink.ok());
  App app;
  app.use(logger({.format = LogFormat::combined, .sink = *sink}));
  app.use(logger({.format = LogFormat::common, .sink = *sink}));
  app.use(logger({.format = LogFormat::json, .sink = *sink}));
  app.get("/hello", [](Request&, Response& res) { res.send("Hello!"); });
  app.get("/slow", [](Request&, Response& res) -> Task<> {
    co_await sleep(5ms);
    res.status(202).send("later");
  });
  app.get("/fail", [](Request&, Response&) { throw HttpError(403, "no"); });
  serve(app, [&](uint16_t port) {
    auto r = request(port, http::testing::get("/hello?x=1", "User-Agent: t\"x\r\nX-Request-Id: rid-1\r\n"));
    EXPECT_EQ(r.header("X-Request-Id"), "rid-1");
    EXPECT_EQ(request(port, http::testing::get("/slow")).status, 202);
    EXPECT_EQ(request(port, http::testing::get("/fail")).status, 403);
    EXPECT_EQ(request(port, http::testing::get("/none")).status, 404);
  });
  (*sink)->flush();
  auto got = lines(path("c.log"));
  ASSERT_EQ(got.size(), 12u);
  // Innermost logger writes first: json, common, combined per request.
  EXPECT_NE(got[0].find("\"method\":\"GET\",\"path\":\"/hello?x=1\",\"version\":\"HTTP/1.1\",\"status\":200,"
                        "\"bytes\":6,\"duration_ms\":"),
            std::string::npos)
      << got[0];
  EXPECT_NE(got[0].find("\"request_id\":\"rid-1\""), std::string::npos);
  EXPECT_NE(got[0].find("\"user_agent\":\"t\\\"x\""), std::string::npos) << got[0];
  EXPECT_EQ(got[1].rfind("127.0.0.1 - - [", 0), 0u);
  EXPECT_NE(got[1].find("] \"GET /hello?x=1 HTTP/1.1\" 200 6 "), std::string::npos) << got[1];
  EXPECT_EQ(got[1].substr(got[1].size() - 6), " rid-1");
  EXPECT_NE(got[2].find("\" 200 6 \"\" \"t\\\"x\" "), std::string::npos) << got[2];
  EXPECT_NE(got[3].find("\"status\":202,\"bytes\":5"), std::string::npos) << got[3];
  // The slow request's duration covers its 5 ms sleep.
  const auto at = got[3].find("\"duration_ms\":");
  EXPECT_GE(std::stod(got[3].substr(at + 14)), 5.0);
  EXPECT_NE(got[6].find("\"status\":403"), std::string::npos) << got[6];
  EXPECT_NE(got[9].find("\"status\":404"), std::string::npos) << got[9];
}

}  // namespace
}  // namespace waitless::web
