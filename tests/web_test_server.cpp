// The server tests/web_e2e.sh drives: a small App on 127.0.0.1:<port> (argv[1]) that keeps uploads in
// <dir> (argv[2]). Serves until SIGTERM.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "waitless/fs/file.hpp"
#include "waitless/web/app.hpp"

using namespace waitless;
using namespace waitless::web;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: web_test_server PORT UPLOAD_DIR\n");
    return 2;
  }
  const auto port = static_cast<uint16_t>(std::atoi(argv[1]));
  const std::string dir = argv[2];
  App app;
  app.use(errors());
  app.get("/hello", [](Request&, Response& res) { res.send("hello"); });
  app.get("/async/:ms", [](Request& req, Response& res) -> Task<> {
    co_await sleep(std::chrono::milliseconds(req.param<uint32_t>("ms")));
    res.json(json::object{{"slept", req.param<int64_t>("ms")}});
  });
  app.post("/json", json_body({.limit = 1000}), [](Request& req, Response& res) { res.json(req.json()); });
  MultipartOptions upload{.limit = uint64_t{300} * 1024 * 1024, .upload_dir = dir};
  upload.limits.max_file_size = uint64_t{256} * 1024 * 1024;
  app.post("/upload", multipart_body(upload), [dir](Request& req, Response& res) -> Task<> {
    const MultipartForm& form = multipart_form(req);
    if (form.files.empty()) throw HttpError(400, "no file");
    const UploadedFile& f = form.files.front();
    auto moved = co_await fs::rename(f.path, dir + "/kept.bin");
    if (!moved) throw HttpError::from(moved.error());
    res.json(json::object{{"field", f.field}, {"filename", f.filename}, {"size", f.size}});
  });
  return app.listen(port, {.threads = 1});
}
