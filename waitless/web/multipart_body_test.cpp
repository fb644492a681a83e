#include "waitless/web/multipart_body.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "waitless/fs/file.hpp"
#include "waitless/fs/test_support.hpp"
#include "waitless/web/app.hpp"
#include "waitless/web/app_test_support.hpp"

namespace waitless::web {
namespace {

using test::request;
using test::serve;

constexpr std::string_view kBoundary = "XyZzY-boundary";

std::string part_field(std::string_view name, std::string_view value) {
  return "--" + std::string(kBoundary) + "\r\nContent-Disposition: form-data; name=\"" + std::string(name) +
         "\"\r\n\r\n" + std::string(value) + "\r\n";
}
std::string part_file(std::string_view name, std::string_view filename, std::string_view data) {
  return "--" + std::string(kBoundary) + "\r\nContent-Disposition: form-data; name=\"" + std::string(name) +
         "\"; filename=\"" + std::string(filename) + "\"\r\nContent-Type: application/octet-stream\r\n\r\n" +
         std::string(data) + "\r\n";
}
std::string closing() { return "--" + std::string(kBoundary) + "--\r\n"; }
std::string post(std::string_view path, const std::string& body) {
  return test::with_body("POST", path, "multipart/form-data; boundary=" + std::string(kBoundary), body);
}

std::string file_bytes(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + i / 7) & 0xff);
  return s;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class WebMultipartBody : public fs::test::TempDirTest {};

TEST_F(WebMultipartBody, FieldsAndAFileStreamedToDiskThenRemoved) {
  const std::string uploads = path("up");
  std::filesystem::create_directory(uploads);
  const std::string kept = path("kept.bin");
  std::string seen_path;
  App app;
  app.post("/upload", multipart_body({.upload_dir = uploads}), [&](Request& req, Response& res) -> Task<> {
    const MultipartForm& form = multipart_form(req);
    std::string out = *form.field("title") + "|" + std::to_string(form.files.size());
    for (const UploadedFile& f : form.files)
      out += "|" + f.field + ":" + f.filename + ":" + std::to_string(f.size);
    seen_path = form.files.at(0).path;
    auto moved = co_await fs::rename(form.files.at(0).path, kept);  // keep the first one
    EXPECT_TRUE(moved.ok());
    res.send(out);
  });
  const std::string big = file_bytes(3 * 1024 * 1024 + 17);  // several 256 KiB writes, a ragged end
  const std::string body = part_field("title", "holiday") + part_file("photo", "a b.jpg", big) +
                           part_file("other", "../x", "tiny") + closing();
  serve(app, [&](uint16_t port) {
    auto r = request(port, post("/upload", body));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "holiday|2|photo:a b.jpg:" + std::to_string(big.size()) + "|other:../x:4");
  });
  EXPECT_EQ(read_all(kept), big);
  EXPECT_EQ(seen_path.rfind(uploads + "/waitless-upload-", 0), 0u);
  // The file the handler did not move is gone.
  EXPECT_TRUE(std::filesystem::is_empty(uploads));
}

TEST_F(WebMultipartBody, LimitsAnswer413AndLeaveNoFileBehind) {
  const std::string uploads = path("up");
  std::filesystem::create_directory(uploads);
  App app;
  auto handler = [](Request& req, Response& res) {
    res.send(std::to_string(multipart_form(req).files.size()));
  };
  MultipartOptions small{.limit = 1 << 20, .upload_dir = uploads};
  small.limits.max_file_size = 1000;
  small.limits.max_field_size = 10;
  small.limits.max_parts = 3;
  app.post("/small", multipart_body(small), handler);
  app.post("/plain", handler);
  serve(app, [&](uint16_t port) {
    EXPECT_EQ(request(port, post("/small", part_file("f", "a", std::string(1000, 'a')) + closing())).body,
              "1");
    EXPECT_EQ(request(port, post("/small", part_file("f", "a", std::string(1001, 'a')) + closing())).status,
              413);
    EXPECT_EQ(request(port, post("/small", part_field("t", std::string(11, 'a')) + closing())).status, 413);
    EXPECT_EQ(request(port, post("/small", part_field("a", "1") + part_field("b", "2") +
                                               part_field("c", "3") + part_field("d", "4") + closing()))
                  .status,
              413);
    // The whole body over the route's limit, announced: refused from the head.
    EXPECT_EQ(request(port, post("/small", part_file("f", "a", std::string((1 << 20) + 1, 'a')) + closing()))
                  .status,
              413);
    // Malformed: no final delimiter.
    EXPECT_EQ(request(port, post("/small", part_file("f", "a", "abc"))).status, 400);
    EXPECT_EQ(request(port, test::with_body("POST", "/small", "multipart/form-data", "x")).status, 400);
    EXPECT_EQ(request(port, test::with_body("POST", "/small", "text/plain", "x")).status, 415);
    EXPECT_EQ(request(port, post("/plain", closing())).status, 500);  // no multipart_body on the route
  });
  EXPECT_TRUE(std::filesystem::is_empty(uploads));
}

}  // namespace
}  // namespace waitless::web
