#include "waitless/web/json.hpp"

#include <algorithm>

namespace waitless::web {

std::string JsonError::message() const {
  std::string m = "invalid JSON";
  if (offset > 0 || line > 1 || column > 1)
    m += " at line " + std::to_string(line) + ", column " + std::to_string(column);
  m += ": " + code.message();
  return m;
}

Result<Json> parse_json(std::string_view text, JsonError* where, const JsonOptions& options) {
  json::parse_options po;
  po.max_depth = options.max_depth;
  json::parser p(json::storage_ptr(), po);
  p.reset(options.storage);
  boost::system::error_code ec;
  // write() parses the whole text as one value (cut short or followed by more: an error) or stops at the
  // first error, returning how much it read.
  std::size_t n = p.write(text.data(), text.size(), ec);
  if (ec) {
    std::error_code code = ec;
    if (where != nullptr) {
      n = std::min(n, text.size());
      std::string_view before = text.substr(0, n);
      std::size_t nl = before.rfind('\n');
      *where =
          JsonError{code, n, 1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n')),
                    1 + (nl == std::string_view::npos ? n : n - nl - 1)};
    }
    return code;
  }
  return p.release();
}

void append_json(const Json& value, std::string& out) {
  json::serializer sr;
  sr.reset(&value);
  while (!sr.done()) {
    const std::size_t at = out.size();
    out.resize(std::max(out.capacity(), at + 512));  // write into the spare capacity, grow when it is full
    std::string_view wrote = sr.read(out.data() + at, out.size() - at);
    out.resize(at + wrote.size());
  }
}

std::string to_json(const Json& value) {
  std::string out;
  append_json(value, out);
  return out;
}

}  // namespace waitless::web
