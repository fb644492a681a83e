#include "waitless/web/multipart_reader.hpp"

#include <gtest/gtest.h>

#include <string>

#include "waitless/web/app.hpp"
#include "waitless/web/app_test_support.hpp"

namespace waitless::web {
namespace {

using test::request;
using test::serve;

std::string part(std::string_view name, std::string_view filename, std::string_view data) {
  std::string p = "--b0undary\r\nContent-Disposition: form-data; name=\"" + std::string(name) + "\"";
  if (!filename.empty()) p += "; filename=\"" + std::string(filename) + "\"";
  return p + "\r\n\r\n" + std::string(data) + "\r\n";
}
std::string post(const std::string& body) {
  return test::with_body("POST", "/import", "multipart/form-data; boundary=b0undary",
                         body + "--b0undary--\r\n");
}

TEST(WebMultipartReader, PartsAsStreamsInOrder) {
  App app;
  app.post("/import", [](Request& req, Response& res) -> Task<> {
    MultipartReader parts(req, {.limit = 4 << 20});
    std::string out;
    int index = 0;
    while (const MultipartPart* p = co_await parts.next_part()) {
      out += std::string(p->name) + (p->is_file() ? "(file " + std::string(p->filename) + ")" : "") + ":";
      if (index++ == 1) continue;  // the second part is skipped without reading it
      uint64_t size = 0, sum = 0;
      for (std::string_view piece = co_await parts.read(); !piece.empty(); piece = co_await parts.read()) {
        size += piece.size();
        for (unsigned char c : piece) sum += c;
      }
      out += std::to_string(size) + "/" + std::to_string(sum) + ";";
    }
    res.send(out);
  });
  std::string big(3'000'000, 'q');  // many pieces of the server's reads
  serve(app, [&](uint16_t port) {
    auto r = request(port, post(part("a", "", "xyz") + part("skipped", "", "ignored") +
                                part("f", "d.bin", big) + part("empty", "", "")));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body,
              "a:3/363;skipped:f(file d.bin):3000000/" + std::to_string(3'000'000ull * 'q') + ";empty:0/0;");
  });
}

TEST(WebMultipartReader, BadInputAndLimitsAreHttpErrors) {
  App app;
  app.post("/import", [](Request& req, Response& res) -> Task<> {
    MultipartReaderOptions o{.limit = 10'000};
    o.limits.max_parts = 2;
    MultipartReader parts(req, o);
    int n = 0;
    while (co_await parts.next_part()) ++n;
    res.send(std::to_string(n));
  });
  serve(app, [&](uint16_t port) {
    EXPECT_EQ(request(port, post(part("a", "", "1") + part("b", "", "2"))).body, "2");
    EXPECT_EQ(request(port, post(part("a", "", "1") + part("b", "", "2") + part("c", "", "3"))).status, 413);
    EXPECT_EQ(request(port, post(part("a", "", std::string(10'000, 'x')))).status, 413);  // the whole body
    EXPECT_EQ(request(port, test::with_body("POST", "/import", "multipart/form-data; boundary=b0undary",
                                            part("a", "", "no end")))
                  .status,
              400);
    EXPECT_EQ(request(port, test::with_body("POST", "/import", "application/json", "{}")).status, 415);
  });
}

}  // namespace
}  // namespace waitless::web
