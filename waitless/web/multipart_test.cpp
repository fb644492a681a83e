#include "waitless/web/multipart.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "waitless/web/test_support.hpp"

namespace waitless::web {
namespace {

// Feeds `body` cut at `cuts` (ascending offsets) and writes every event into a log; data pieces of one
// part are joined, so the log does not depend on where the body was cut. An error ends the log with its
// message (the data of the failing part before it is left out: how much of it came out before a limit
// was crossed depends on the cuts).
struct Outcome {
  std::string log;
  std::error_code ec;
  std::size_t pieces = 0;
};
Outcome run(std::string_view body, const std::vector<std::size_t>& cuts, MultipartLimits limits = {},
            std::string_view boundary = "b0undary") {
  Outcome r;
  auto parser = MultipartParser::create(boundary, limits);
  EXPECT_TRUE(parser.ok());
  std::string data;
  std::size_t from = 0;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    const std::size_t to = i < cuts.size() ? cuts[i] : body.size();
    parser->feed(body.substr(from, to - from));
    from = to;
    if (i == cuts.size()) parser->finish();
    for (;;) {
      auto ev = parser->next();
      if (ev.kind == MultipartEvent::need_more) break;
      switch (ev.kind) {
        case MultipartEvent::part_begin: {
          const MultipartPart& p = parser->part();
          r.log += "begin(" + std::string(p.name) + "," +
                   (p.has_filename ? "file:" + std::string(p.filename) : std::string("field")) + "," +
                   std::string(p.content_type) + ")";
          data.clear();
          break;
        }
        case MultipartEvent::part_data:
          EXPECT_FALSE(ev.data.empty());
          data += ev.data;
          ++r.pieces;
          break;
        case MultipartEvent::part_end:
          r.log += "data(" + data + ")end;";
          break;
        case MultipartEvent::done:
          r.log += "done";
          return r;
        case MultipartEvent::error:
          r.ec = ev.ec;
          r.log += "error:" + ev.ec.message();
          return r;
        default:
          break;
      }
    }
  }
  ADD_FAILURE() << "no done or error after finish()";
  return r;
}
Outcome run_whole(std::string_view body, MultipartLimits limits = {}) { return run(body, {}, limits); }

// A form a browser would send: two fields and a file, with CRLF and a near-delimiter inside the file.
const std::string kForm =
    "--b0undary\r\n"
    "Content-Disposition: form-data; name=\"title\"\r\n"
    "\r\n"
    "Hello world\r\n"
    "--b0undary\r\n"
    "Content-Disposition: form-data; name=\"empty\"\r\n"
    "\r\n"
    "\r\n"
    "--b0undary\r\n"
    "content-disposition: form-data; name=\"upload\"; filename=\"a b.txt\"\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "line1\r\nline2\r\n--b0undar\r\r\n-\r\n--b0undary-x\r\n"  // the last one: see below
    "--b0undary--\r\n";

TEST(MultipartBoundary, FromContentType) {
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=abc").value(), "abc");
  EXPECT_EQ(multipart_boundary("Multipart/Form-Data;boundary=\"a b:c?\"").value(), "a b:c?");
  EXPECT_EQ(multipart_boundary("multipart/form-data ; charset=utf-8; BOUNDARY=x ; y=\"z\"").value(), "x");
  const std::string seventy(70, 'a'), seventy_one(71, 'a');
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=" + seventy).value(), seventy);
  auto err = [](std::string_view ct) { return multipart_boundary(ct).error(); };
  EXPECT_EQ(err("multipart/form-data; boundary=" + seventy_one), MultipartError::bad_boundary);
  EXPECT_EQ(err("multipart/mixed; boundary=abc"), MultipartError::not_multipart);
  EXPECT_EQ(err("text/plain"), MultipartError::not_multipart);
  EXPECT_EQ(err("multipart/form-data"), MultipartError::missing_boundary);
  EXPECT_EQ(err("multipart/form-data; charset=utf-8"), MultipartError::missing_boundary);
  EXPECT_EQ(err("multipart/form-data; boundary="), MultipartError::bad_content_type);
  EXPECT_EQ(err("multipart/form-data; boundary=\"\""), MultipartError::bad_boundary);
  EXPECT_EQ(err("multipart/form-data; boundary=\"ab \""), MultipartError::bad_boundary);  // ends in SP
  EXPECT_EQ(err("multipart/form-data; boundary=\"a\\\"b\""), MultipartError::bad_boundary);
  EXPECT_EQ(err("multipart/form-data; boundary=a*b"), MultipartError::bad_boundary);  // '*' is no bchar
  EXPECT_EQ(err("multipart/form-data; boundary=\"abc"), MultipartError::bad_content_type);
  EXPECT_EQ(err("multipart/form-data; boundary=a; boundary=b"), MultipartError::bad_content_type);
  EXPECT_EQ(err("multipart/form-data; boundary=a b"), MultipartError::bad_content_type);
  EXPECT_EQ(MultipartParser::create("a\rb").error(), MultipartError::bad_boundary);
  EXPECT_TRUE(MultipartParser::from_content_type("multipart/form-data; boundary=\"x y\"").ok());
}

TEST(Multipart, ParsesFieldsAndFiles) {
  // "\r\n--b0undary-x" inside the file is a delimiter followed by 'x': malformed (RFC 2046 forbids the
  // boundary inside a part). Without it the form parses.
  std::string form = kForm;
  form.replace(form.find("\r\n--b0undary-x"), 14, "\r\n--b0undarz-x");
  auto r = run_whole(form);
  EXPECT_EQ(
      r.log,
      "begin(title,field,)data(Hello world)end;"
      "begin(empty,field,)data()end;"
      "begin(upload,file:a b.txt,text/plain)data(line1\r\nline2\r\n--b0undar\r\r\n-\r\n--b0undarz-x)end;"
      "done");
  EXPECT_EQ(run_whole(kForm).ec, MultipartError::bad_delimiter);
}

TEST(Multipart, PreambleEpiloguePaddingAndEmptyFilename) {
  auto r = run_whole(
      "this is a preamble--b0undary-- not\r\n"  // no CRLF before "--b0undary": preamble
      "--b0undary \t\r\n"                       // transport padding
      "Content-Disposition: form-data; name=\"f\"; filename=\"\"\r\n"
      "X-Other: v\r\n"
      "\r\n"
      "\r\n--b0undary--epilogue \x01 anything");
  EXPECT_EQ(r.log, "begin(f,file:,)data()end;done");
  // A part without a body: the blank line's CRLF is also the next delimiter's (RFC 2046 body-part :=
  // MIME-part-headers [CRLF *OCTET]); a lone CRLF after the headers is the blank line, not data.
  const std::string cd = "Content-Disposition: form-data; name=\"a\"\r\n";
  EXPECT_EQ(run_whole("--b0undary\r\n" + cd + "\r\n--b0undary--").log, "begin(a,field,)data()end;done");
  EXPECT_EQ(run_whole("--b0undary\r\n" + cd + "\r\n\r\n--b0undary--").log, "begin(a,field,)data()end;done");
  EXPECT_EQ(run_whole("--b0undary\r\n" + cd + "\r\n\r\n\r\n--b0undary--").log,
            "begin(a,field,)data(\r\n)end;done");
  EXPECT_EQ(run_whole("--b0undary\r\n" + cd + "\r\n--b0undarX\r\n--b0undary--").log,
            "begin(a,field,)data(--b0undarX)end;done");
  // An empty form is accepted; a delimiter opening the body needs no CRLF.
  EXPECT_EQ(run_whole("--b0undary--").log, "done");
  EXPECT_EQ(run_whole("\r\n--b0undary--").log, "done");
}

TEST(Multipart, HeaderDetails) {
  auto parser = MultipartParser::create("b0undary");
  ASSERT_TRUE(parser.ok());
  const std::string body =
      "--b0undary\r\n"
      "Content-Type:image/png \r\n"
      "Content-Disposition: FORM-DATA ; filename=\"C:\\\\dir\\\\x \\\"q\\\".png\"; name=n%22;\r\n"
      "\r\n"
      "PNG";
  parser->feed(body);
  auto ev = parser->next();
  ASSERT_EQ(ev.kind, MultipartEvent::part_begin);
  const MultipartPart& p = parser->part();
  EXPECT_EQ(p.name, "n%22");  // percent-encoding is the client's (browsers encode '"'): kept as sent
  EXPECT_EQ(p.filename, "C:\\dir\\x \"q\".png");
  EXPECT_TRUE(p.is_file());
  EXPECT_EQ(p.content_type, "image/png");
  ASSERT_EQ(p.headers.size(), 2u);
  EXPECT_EQ(p.headers[0].name, "Content-Type");
  EXPECT_EQ(p.headers[1].value,
            "FORM-DATA ; filename=\"C:\\\\dir\\\\x \\\"q\\\".png\"; name=n%22;");  // raw value untouched
  ev = parser->next();
  ASSERT_EQ(ev.kind, MultipartEvent::part_data);
  EXPECT_EQ(ev.data, "PNG");
  EXPECT_EQ(parser->next().kind, MultipartEvent::need_more);
  parser->finish();
  EXPECT_EQ(parser->next().ec, MultipartError::missing_final_delimiter);
  EXPECT_EQ(parser->next().ec, MultipartError::missing_final_delimiter);  // sticky
}

TEST(Multipart, FeedBeforeTheChunkIsConsumedIsAnError) {
  auto parser = MultipartParser::create("b0undary");
  ASSERT_TRUE(parser.ok());
  parser->feed("--b0undary\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue");
  EXPECT_EQ(parser->next().kind, MultipartEvent::part_begin);
  parser->feed("more");  // "value" was not taken yet
  EXPECT_EQ(parser->next().ec, MultipartError::feed_while_pending);
}

TEST(Multipart, MalformedInput) {
  auto err = [](std::string_view body) { return run_whole(body).ec; };
  const std::string cd = "Content-Disposition: form-data; name=\"a\"\r\n";
  EXPECT_EQ(err(""), MultipartError::missing_first_delimiter);
  EXPECT_EQ(err("no delimiter at all\r\n--b0undar"), MultipartError::missing_first_delimiter);
  EXPECT_EQ(err("--b0undary\r\n" + cd + "\r\nvalue"), MultipartError::missing_final_delimiter);
  EXPECT_EQ(err("--b0undary\r\n" + cd + "\r\nvalue\r\n--b0undary"), MultipartError::missing_final_delimiter);
  EXPECT_EQ(err("--b0undary\r\n" + cd + "\r\nvalue\r\n--b0undary-"), MultipartError::missing_final_delimiter);
  EXPECT_EQ(err("--b0undary\r\n" + cd), MultipartError::missing_final_delimiter);
  EXPECT_EQ(err("--b0undary\r\n" + cd + "\r\nv\r\n--b0undary--"), std::error_code{});
  EXPECT_EQ(err("--b0undaryX\r\n"), MultipartError::bad_delimiter);
  EXPECT_EQ(err("--b0undary\n" + cd + "\r\nv\r\n--b0undary--"), MultipartError::bad_delimiter);
  EXPECT_EQ(err("--b0undary\r\r\n"), MultipartError::bad_delimiter);
  EXPECT_EQ(err("--b0undary -\r\n"), MultipartError::bad_delimiter);  // "--" only right after
  EXPECT_EQ(err("--b0undary-x"), MultipartError::bad_delimiter);
  auto headers = [](std::string_view h) {
    return run_whole("--b0undary\r\n" + std::string(h) + "\r\nv\r\n--b0undary--").ec;
  };
  EXPECT_EQ(headers(cd), std::error_code{});
  EXPECT_EQ(headers(""), MultipartError::bad_part_headers);  // no Content-Disposition
  EXPECT_EQ(headers("Content-Type: text/plain\r\n"), MultipartError::bad_part_headers);
  EXPECT_EQ(headers("Content-Disposition: attachment; name=\"a\"\r\n"), MultipartError::bad_part_headers);
  EXPECT_EQ(headers("Content-Disposition: form-data\r\n"), MultipartError::bad_part_headers);  // no name
  EXPECT_EQ(headers("Content-Disposition: form-data; filename=\"x\"\r\n"), MultipartError::bad_part_headers);
  EXPECT_EQ(headers("Content-Disposition: form-data; name=\"a\r\n"), MultipartError::bad_part_headers);
  EXPECT_EQ(headers("Content-Disposition: form-data; name=a b\r\n"), MultipartError::bad_part_headers);
  EXPECT_EQ(headers("Content-Disposition: form-data; name=a; name=b\r\n"), MultipartError::bad_part_headers);
  EXPECT_EQ(headers(cd + cd), MultipartError::bad_part_headers);
  EXPECT_EQ(headers(cd + "Content-Type: a\r\nContent-Type: b\r\n"), MultipartError::bad_part_headers);
  EXPECT_EQ(headers(cd + "No colon\r\n"), MultipartError::bad_part_headers);
  EXPECT_EQ(headers(cd + "Bad Name: v\r\n"), MultipartError::bad_part_headers);
  EXPECT_EQ(headers(cd + "X-Fold: a\r\n b\r\n"), MultipartError::bad_part_headers);  // obs-fold
  EXPECT_EQ(headers(cd + "X-LF: a\nb\r\n"), MultipartError::bad_part_headers);       // bare LF
  EXPECT_EQ(headers(cd + "X-CR: a\rb\r\n"), MultipartError::bad_part_headers);
  EXPECT_EQ(headers(cd + std::string("X-Nul: a\0b\r\n", 12)), MultipartError::bad_part_headers);
  EXPECT_EQ(headers(cd + "X-Utf8: caf\xc3\xa9\r\n"), std::error_code{});  // obs-text is allowed
  // A delimiter inside a header block ends the part early: refused, even where it would make a valid line.
  EXPECT_EQ(headers(cd + "--b0undary-x: y\r\n"), MultipartError::bad_part_headers);
  EXPECT_EQ(headers("--b0undary-x: y\r\n" + cd), MultipartError::bad_part_headers);
  EXPECT_EQ(headers(cd + "--b0undar: y\r\n"), std::error_code{});
  EXPECT_EQ(headers(cd + "X: --b0undary\r\n"), std::error_code{});
  EXPECT_FALSE(is_multipart_limit(make_error_code(MultipartError::bad_part_headers)));
  EXPECT_FALSE(is_multipart_limit(make_error_code(Error::limit_exceeded)));
}

std::string part(std::string_view name, std::string_view content, bool file = false) {
  return "--b0undary\r\nContent-Disposition: form-data; name=\"" + std::string(name) + "\"" +
         (file ? "; filename=\"f.bin\"" : "") + "\r\n\r\n" + std::string(content) + "\r\n";
}

TEST(Multipart, LimitsAtTheirEdges) {
  MultipartLimits limits;
  limits.max_parts = 3;
  limits.max_field_size = 10;
  limits.max_file_size = 20;
  auto outcome = [&](const std::string& body) {
    // Whole, and byte by byte: the limit is crossed at the same byte however the body is cut.
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < body.size(); ++i) every.push_back(i);
    auto whole = run(body, {}, limits), split = run(body, every, limits);
    EXPECT_EQ(whole.log, split.log);
    return whole.ec;
  };
  const std::string end = "--b0undary--";
  EXPECT_EQ(outcome(part("a", std::string(10, 'x')) + end), std::error_code{});
  EXPECT_EQ(outcome(part("a", std::string(11, 'x')) + end), MultipartError::field_too_large);
  EXPECT_EQ(outcome(part("a", std::string(20, 'x'), true) + end), std::error_code{});
  EXPECT_EQ(outcome(part("a", std::string(21, 'x'), true) + end), MultipartError::file_too_large);
  EXPECT_EQ(outcome(part("a", "") + part("b", "") + part("c", "") + end), std::error_code{});
  EXPECT_EQ(outcome(part("a", "") + part("b", "") + part("c", "") + part("d", "") + end),
            MultipartError::too_many_parts);
  // A field's limit applies per part: three parts of 10 bytes each pass.
  EXPECT_EQ(outcome(part("a", std::string(10, 'x')) + part("b", std::string(10, 'x')) + end),
            std::error_code{});

  const std::string header = "Content-Disposition: form-data; name=\"a\"\r\nX: ";
  auto block = [&](std::size_t size) {  // a header block of exactly `size` bytes, final CRLF CRLF included
    return "--b0undary\r\n" + header + std::string(size - header.size() - 4, 'h') + "\r\n\r\nv\r\n" + end;
  };
  limits.max_header_size = 100;
  EXPECT_EQ(outcome(block(100)), std::error_code{});
  EXPECT_EQ(outcome(block(101)), MultipartError::header_too_large);
  limits.max_header_lines = 2;
  EXPECT_EQ(outcome(part("a", "", false).insert(12, "X: 1\r\n") + end), std::error_code{});
  EXPECT_EQ(outcome(part("a", "", false).insert(12, "X: 1\r\nY: 2\r\n") + end),
            MultipartError::header_too_large);
  EXPECT_TRUE(is_multipart_limit(make_error_code(MultipartError::header_too_large)));
  EXPECT_TRUE(is_multipart_limit(make_error_code(MultipartError::file_too_large)));
}

// Every way of cutting a small body in two and in three pieces, and byte by byte, gives the same events
// as the whole body; so does a larger body full of near-delimiters cut at random.
TEST(Multipart, SplitIndependence) {
  std::string form = kForm;
  form.replace(form.find("\r\n--b0undary-x"), 14, "\r\n--b0undarz-x");
  for (const std::string& body :
       {form, kForm,
        std::string("--b0undary\r\nContent-Disposition: form-data; name=\"e\"\r\n\r\n--b0undary--"),
        std::string("pre\r\n--b0undary\r\n") +
            "Content-Disposition: form-data; name=\"q\"\r\n\r\n\r\r\n\r\n--b0undary--"}) {
    const Outcome whole = run_whole(body);
    const std::size_t n = body.size();
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < n; ++i) every.push_back(i);
    EXPECT_EQ(run(body, every).log, whole.log);
    for (std::size_t i = 0; i <= n; ++i) {
      ASSERT_EQ(run(body, {i}).log, whole.log) << "cut at " << i;
      for (std::size_t j = i; j <= n; j += 7) ASSERT_EQ(run(body, {i, j}).log, whole.log) << i << "," << j;
    }
  }
}

TEST(Multipart, RandomSplitsOfALargeBody) {
  std::mt19937_64 rng(42);
  const std::string near[] = {"\r",          "\r\n",          "\r\n-",           "\r\n--",
                              "\r\n--b0und", "\r\n--b0undar", "\r\r\n--b0undary"};
  std::string body = "preamble";
  std::string expected;
  for (int p = 0; p < 20; ++p) {
    std::string content;
    for (int k = 0; k < 2000; ++k) {
      if (rng() % 8 == 0) content += near[rng() % std::size(near)];
      content.push_back(static_cast<char>(rng() % 256));
    }
    // "\r\r\n--b0undary" holds a real delimiter: keep it out of content by changing its last byte.
    for (std::size_t at; (at = content.find("\r\n--b0undary")) != std::string::npos;) content[at + 11] = 'Y';
    body += "\r\n" + part("p" + std::to_string(p), content, p % 2 == 1);
    body.resize(body.size() - 2);  // part() ends with the CRLF of the next delimiter
    expected += content;
  }
  body += "\r\n--b0undary--";
  MultipartLimits limits;
  const Outcome whole = run(body, {}, limits);
  ASSERT_EQ(whole.ec, std::error_code{}) << whole.log.substr(0, 200);
  for (int round = 0; round < 50; ++round) {
    std::vector<std::size_t> cuts;
    for (std::size_t at = 0; (at += 1 + rng() % (round < 25 ? 16 : 4096)) < body.size();) cuts.push_back(at);
    ASSERT_EQ(run(body, cuts, limits).log, whole.log) << "round " << round;
  }
}

std::size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * 4096;
}

// 200 MB of file content streams through with the heap and RSS flat: the parser holds nothing of the body.
TEST(Multipart, TwoHundredMegabytesInConstantMemory) {
  std::mt19937_64 rng(7);
  std::string block(64 * 1024, '\0');
  for (char& c : block) c = static_cast<char>(rng());  // '\r' bytes included: candidate delimiters
  constexpr std::size_t kBlocks = 200 * 1024 * 1024 / (64 * 1024);
  const std::string head =
      "--b0undary\r\nContent-Disposition: form-data; name=\"big\"; filename=\"big.bin\"\r\n"
      "Content-Type: application/octet-stream\r\n\r\n";
  const std::string tail =
      "\r\n--b0undary\r\nContent-Disposition: form-data; name=\"after\"\r\n\r\nok\r\n--b0undary--";
  MultipartLimits limits;
  limits.max_file_size = kBlocks * block.size();
  auto parser = MultipartParser::create("b0undary", limits);
  ASSERT_TRUE(parser.ok());

  const std::size_t heap0 = test::heap_in_use(), rss0 = rss_bytes();
  std::size_t heap_max = heap0, rss_max = rss0;
  uint64_t file_bytes = 0, file_sum = 0, events = 0;
  std::string last_field;
  bool done = false;
  auto drain = [&] {
    for (;;) {
      auto ev = parser->next();
      ++events;
      if (ev.kind == MultipartEvent::need_more) return;
      ASSERT_NE(ev.kind, MultipartEvent::error) << ev.ec.message();
      if (ev.kind == MultipartEvent::done) {
        done = true;
        return;
      }
      if (ev.kind == MultipartEvent::part_data && parser->part().is_file()) {
        file_bytes += ev.data.size();
        for (unsigned char c : ev.data) file_sum += c;
      } else if (ev.kind == MultipartEvent::part_data) {
        last_field += ev.data;
      }
    }
  };
  parser->feed(head);
  drain();
  // Chunks of 50 000 bytes that straddle the 64 KiB blocks (the chunk views point into `block`).
  for (std::size_t b = 0; b < kBlocks; ++b) {
    for (std::size_t at = 0; at < block.size(); at += 50'000) {
      parser->feed(std::string_view(block).substr(at, 50'000));
      drain();
    }
    if (b % 256 == 0) {
      heap_max = std::max(heap_max, test::heap_in_use());
      rss_max = std::max(rss_max, rss_bytes());
    }
  }
  parser->feed(tail);
  parser->finish();
  drain();
  uint64_t block_sum = 0;
  for (unsigned char c : block) block_sum += c;
  EXPECT_TRUE(done);
  EXPECT_EQ(file_bytes, kBlocks * block.size());
  EXPECT_EQ(file_sum, block_sum * kBlocks);
  EXPECT_EQ(last_field, "ok");
  EXPECT_EQ(parser->part_count(), 2u);
  // The parser allocated nothing while streaming (its buffers were reserved at construction); the
  // margins absorb the test's own bookkeeping and other threads of the test binary.
  EXPECT_LT(heap_max - heap0, 64u * 1024) << "heap grew while streaming";
  EXPECT_LT(rss_max - rss0, 8u * 1024 * 1024) << "RSS grew while streaming";
  RecordProperty("events", static_cast<int>(events));
}

}  // namespace
}  // namespace waitless::web
