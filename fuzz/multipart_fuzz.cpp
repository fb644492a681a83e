// Differential fuzz target for web::MultipartParser: the same body parsed in one piece and in pieces chosen
// by the input must give the same events (part headers, each part's data joined, part ends, done or the
// error). Each piece lives in its own exact-size heap buffer, freed once the parser asked for more: a view
// kept into an old piece would be an ASan report.
//
// Invariants besides the differential: data pieces are non-empty and only inside a part; a part's data never
// exceeds its limit (field or file); no more than max_parts parts; done and error repeat (sticky); and when
// the parse succeeds, each part's data equals what a naive reference extracts from the whole body (split on
// CRLF "--" boundary, the part's header block up to its first CRLF CRLF removed).
//
// Input: byte 0 = bits 0-1 limits profile (0/3 default, 1 small, 2 tiny), bits 2-3 boundary choice,
// bits 4-7 = n. Bytes 1..n: piece lengths (cyclic, 0 = an empty piece). The rest is the body.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "waitless/web/multipart.hpp"

namespace {

using namespace waitless::web;

void check(bool ok, const char* what, const std::string& detail = {}) {
  if (ok) return;
  std::fprintf(stderr, "multipart_fuzz: invariant broken: %s\n%.2000s\n", what, detail.c_str());
  std::abort();
}

MultipartLimits limits_for(unsigned profile) {
  MultipartLimits l;
  if (profile == 1) {
    l.max_parts = 4;
    l.max_header_size = 128;
    l.max_header_lines = 3;
    l.max_field_size = 64;
    l.max_file_size = 256;
  } else if (profile == 2) {
    l.max_parts = 1;
    l.max_header_size = 48;
    l.max_header_lines = 1;
    l.max_field_size = 2;
    l.max_file_size = 5;
  }
  return l;
}

struct Parsed {
  std::string log;                // the events, data joined per part (the differential)
  std::vector<std::string> data;  // each finished part's data
  bool done = false;
};

Parsed parse(std::string_view body, const std::vector<std::size_t>& pieces, std::string_view boundary,
             const MultipartLimits& limits) {
  Parsed out;
  auto parser = MultipartParser::create(boundary, limits);
  check(parser.ok(), "a valid boundary refused");
  std::string data;
  bool in_part = false;
  std::size_t at = 0, begins = 0;
  for (std::size_t i = 0; i <= pieces.size(); ++i) {
    const std::size_t len = i < pieces.size() ? pieces[i] : body.size() - at;
    std::unique_ptr<char[]> buf(new char[len + 1]);
    std::memcpy(buf.get(), body.data() + at, len);
    at += len;
    parser->feed(std::string_view(buf.get(), len));
    if (i == pieces.size()) parser->finish();
    for (;;) {
      const MultipartEvent ev = parser->next();
      if (ev.kind == MultipartEvent::need_more) {
        check(i < pieces.size(), "need_more after finish()");
        break;
      }
      if (ev.kind == MultipartEvent::done || ev.kind == MultipartEvent::error) {
        const MultipartEvent again = parser->next();
        check(again.kind == ev.kind && again.ec == ev.ec, "done / error is not sticky");
        if (ev.kind == MultipartEvent::done) {
          check(!in_part, "done inside a part");
          out.log += "done";
          out.done = true;
        } else {
          check(ev.ec.category() == multipart_category() && ev.ec, "error of another category");
          out.log += "error " + ev.ec.message();
        }
        return out;
      }
      if (ev.kind == MultipartEvent::part_begin) {
        check(!in_part, "part_begin inside a part");
        check(++begins <= limits.max_parts, "more parts than max_parts");
        const MultipartPart& p = parser->part();
        check(p.headers.size() <= limits.max_header_lines, "more header lines than max_header_lines");
        out.log += "begin [" + std::string(p.name) + "] " +
                   (p.has_filename ? "[" + std::string(p.filename) + "]" : std::string("field")) + " [" +
                   std::string(p.content_type) + "]";
        for (const auto& h : p.headers) out.log += " " + std::string(h.name) + "=" + std::string(h.value);
        in_part = true;
        data.clear();
      } else if (ev.kind == MultipartEvent::part_data) {
        check(in_part, "data outside a part");
        check(!ev.data.empty(), "empty data piece");
        data += ev.data;
        const uint64_t limit = parser->part().is_file() ? limits.max_file_size : limits.max_field_size;
        check(data.size() <= limit, "part data beyond its limit");
      } else if (ev.kind == MultipartEvent::part_end) {
        check(in_part, "part_end outside a part");
        out.log += " data [" + data + "] end;";
        out.data.push_back(data);
        in_part = false;
      }
    }
  }
  check(false, "no done or error after finish()");
  return out;
}

// The parts' data by a naive reading of the whole body (only called when the parser succeeded).
std::vector<std::string> reference_data(std::string_view body, std::string_view boundary) {
  const std::string full = "\r\n" + std::string(body), delimiter = "\r\n--" + std::string(boundary);
  std::vector<std::string> segments;
  std::size_t from = full.find(delimiter);
  while (from != std::string::npos) {
    from += delimiter.size();
    const std::size_t to = full.find(delimiter, from);
    segments.push_back(full.substr(from, to == std::string::npos ? std::string::npos : to - from));
    from = to;
  }
  std::vector<std::string> data;
  for (const std::string& s : segments) {
    if (s.starts_with("--")) break;  // the close delimiter; the rest is epilogue
    const std::size_t line_end = s.find("\r\n");
    check(line_end != std::string::npos, "reference: no CRLF after a delimiter", s);
    const std::string rest = s.substr(line_end + 2);
    const std::size_t head_end = rest.find("\r\n\r\n");
    if (head_end == std::string::npos) {
      // The blank line's CRLF began the next delimiter: a part without a body (RFC 2046 allows it).
      check(rest.ends_with("\r\n"), "reference: a part without the end of its headers", s);
      data.emplace_back();
    } else {
      data.push_back(rest.substr(head_end + 4));
    }
  }
  return data;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, std::size_t size) {
  if (size < 1) return 0;
  static const std::string kBoundaries[] = {"b0undary", "-", "a b", std::string(70, 'Z')};
  const unsigned profile = bytes[0] & 3, n = bytes[0] >> 4;
  const std::string& boundary = kBoundaries[(bytes[0] >> 2) & 3];
  if (size < 1 + n) return 0;
  const std::string_view body(reinterpret_cast<const char*>(bytes) + 1 + n, size - 1 - n);
  std::vector<std::size_t> pieces;
  for (std::size_t at = 0, k = 0; n > 0;) {
    const std::size_t len = std::min<std::size_t>(bytes[1 + k % n], body.size() - at);
    if (at + len >= body.size()) break;
    pieces.push_back(len);
    at += len;
    if (++k > 4 * body.size() + 16) break;  // many empty pieces: enough
  }
  const MultipartLimits limits = limits_for(profile);
  const Parsed whole = parse(body, {}, boundary, limits);
  const Parsed split = parse(body, pieces, boundary, limits);
  check(whole.log == split.log, "split diverges from whole", "whole: " + whole.log + "\nsplit: " + split.log);
  if (whole.done) check(whole.data == reference_data(body, boundary), "data differs from the reference");
  return 0;
}
