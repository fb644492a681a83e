// multipart_body: a streamed multipart/form-data parser middleware. Fields are kept in memory (each within
// limits.max_field_size); files are written to disk as their bytes arrive, never held whole: at most one
// write buffer (256 KiB) per request, and while it is being written the connection is not read (the
// client waits: backpressure from the disk to the socket).
//
//   app.post("/upload", multipart_body({.limit = 256 << 20, .upload_dir = "/var/tmp/uploads"}),
//            [](Request& req, Response& res) -> Task<> {
//              const MultipartForm& form = multipart_form(req);
//              for (const UploadedFile& f : form.files) co_await fs::rename(f.path, final_place(f));
//              res.json(...);
//            });
//
// Uploaded files get fresh names (mode 0600) in upload_dir; `filename` is the client's, never a safe
// path. When the request ends (answered, failed or cancelled) every upload still at its path is removed:
// a handler keeps a file by moving it (fs::rename) elsewhere.
// Limits (413): the whole body over `limit` (the server refuses it from the head when announced), more
// than limits.max_parts parts, a field over max_field_size, a file over max_file_size, a part header over
// max_header_size. A malformed body or Content-Type: 400. Another Content-Type: the request goes through
// untouched (multipart_form(req) then says 415).
// The parser needs to pull the body piece by piece, so this layer is a coroutine: a route with it runs
// as one (chain.hpp).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "waitless/web/chain.hpp"
#include "waitless/web/multipart.hpp"

namespace waitless::web {

struct UploadedFile {
  std::string field;         // the form field's name
  std::string filename;      // as the client sent it (unsafe as a path)
  std::string content_type;  // the part's Content-Type (empty when absent)
  std::string path;          // where its bytes are on disk
  uint64_t size = 0;
};

struct MultipartForm {
  std::vector<std::pair<std::string, std::string>> fields;  // in order, repeated names kept
  std::vector<UploadedFile> files;
  // The first value of a field, or null.
  const std::string* field(std::string_view name) const noexcept {
    for (const auto& [k, v] : fields) {
      if (k == name) return &v;
    }
    return nullptr;
  }
};

struct MultipartOptions {
  uint64_t limit = uint64_t{64} * 1024 * 1024;  // the whole body
  MultipartLimits limits;
  std::string upload_dir;  // empty: the system's temporary directory
};

Layer multipart_body(MultipartOptions options = {});

// What multipart_body read for this request. Throws HttpError 415 when the request was not
// multipart/form-data (400 without a body), std::logic_error without multipart_body on the route.
const MultipartForm& multipart_form(const Request& req);

}  // namespace waitless::web
