#include "waitless/web/multipart.hpp"

#include <algorithm>
#include <cstring>

#include "waitless/web/error_table.hpp"
#include "waitless/web/header_params.hpp"

namespace waitless::web {
namespace {

constexpr const char* kMultipartMessages[] = {
    "ok",
    "not multipart/form-data",
    "multipart Content-Type without boundary",
    "invalid multipart boundary",
    "malformed multipart Content-Type",
    "too many multipart parts",
    "multipart part header block too large",
    "multipart field too large",
    "multipart file too large",
    "malformed multipart delimiter line",
    "malformed multipart part headers",
    "multipart body without a delimiter",
    "multipart body ended before its close delimiter",
    "multipart feed() before the previous chunk was consumed",
};

// RFC 2046 5.1.1: bcharsnospace := DIGIT / ALPHA / "'" / "(" / ")" / "+" / "_" / "," / "-" / "." / "/" /
// ":" / "=" / "?"; bchars add SP (but not last).
bool is_bchar(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

bool valid_boundary(std::string_view b) noexcept {
  return !b.empty() && b.size() <= 70 && b.back() != ' ' && std::all_of(b.begin(), b.end(), is_bchar);
}

}  // namespace

const std::error_category& multipart_category() noexcept {
  static const detail::TableCategory category("multipart", kMultipartMessages);
  return category;
}

bool is_multipart_limit(std::error_code ec) noexcept {
  if (ec.category() != multipart_category()) return false;
  auto e = static_cast<MultipartError>(ec.value());
  return e == MultipartError::too_many_parts || e == MultipartError::header_too_large ||
         e == MultipartError::field_too_large || e == MultipartError::file_too_large;
}

Result<std::string_view> multipart_boundary(std::string_view content_type) {
  std::size_t semi = std::min(content_type.find(';'), content_type.size());
  if (!http::iequals(trim_ows(content_type.substr(0, semi)), "multipart/form-data")) {
    return make_error_code(MultipartError::not_multipart);
  }
  std::string_view boundary;
  bool seen = false, duplicate = false;
  bool ok = for_each_param(content_type.substr(semi), [&](const HeaderParam& p) {
    if (!http::iequals(p.name, "boundary")) return;
    duplicate |= seen;
    seen = true;
    boundary = p.raw_value;
  });
  if (!ok || duplicate) return make_error_code(MultipartError::bad_content_type);
  if (!seen) return make_error_code(MultipartError::missing_boundary);
  // A quoted boundary with a quoted-pair holds a '\', which is no bchar: refused below, no unescaping.
  if (!valid_boundary(boundary)) return make_error_code(MultipartError::bad_boundary);
  return boundary;
}

Result<MultipartParser> MultipartParser::create(std::string_view boundary, MultipartLimits limits) {
  if (!valid_boundary(boundary)) return make_error_code(MultipartError::bad_boundary);
  return MultipartParser(boundary, limits);
}

Result<MultipartParser> MultipartParser::from_content_type(std::string_view content_type,
                                                           MultipartLimits limits) {
  auto boundary = multipart_boundary(content_type);
  if (!boundary) return boundary.error();
  return MultipartParser(*boundary, limits);
}

MultipartParser::MultipartParser(std::string_view boundary, MultipartLimits limits)
    : limits_(limits), delimiter_("\r\n--") {
  delimiter_ += boundary;
  head_.reserve(limits_.max_header_size);
  values_.reserve(limits_.max_header_size);
  header_lines_.reserve(limits_.max_header_lines);
  // The body is read as if it began with CRLF: the first delimiter may then open the body as
  // "--boundary" (RFC 2046 allows it without a preceding CRLF), and everything before it is preamble.
  match_ = 2;
  virtual_crlf_ = true;
}

void MultipartParser::feed(std::string_view chunk) {
  if (pos_ != in_.size() && state_ != State::failed && state_ != State::done) {
    fail(MultipartError::feed_while_pending);
    return;
  }
  in_ = chunk;
  pos_ = 0;
}

MultipartEvent MultipartParser::fail(MultipartError e) {
  if (state_ != State::failed) {
    state_ = State::failed;
    error_ = make_error_code(e);
  }
  return {MultipartEvent::error, {}, error_};
}

// Consumes input up to the next delimiter. Returns data (the bytes before a delimiter or before a
// possible one at the chunk's end; never empty), delimiter (the whole CRLF "--" boundary consumed), or
// need_more (the chunk is consumed; a prefix of the delimiter at its end is held back in match_).
// A held-back prefix that turns out not to be a delimiter is returned as data, as a view into delimiter_
// (those bytes were exactly the delimiter's first bytes). The delimiter holds a CR only at its start
// (bchars exclude CR), so after a mismatch a new delimiter can only begin at the mismatching byte.
// When virtual_crlf_ is set, the first two held-back bytes are a CRLF that is no data (the CRLF the body is
// read as starting with, or the blank line ending a part's headers): dropped on a mismatch.
MultipartParser::ScanResult MultipartParser::scan(std::string_view& data) {
  const std::string_view d = delimiter_;
  if (match_ > 0) {
    const std::size_t avail = in_.size() - pos_, want = d.size() - match_;
    const std::size_t n = std::min(avail, want);
    std::size_t i = 0;
    while (i < n && in_[pos_ + i] == d[match_ + i]) ++i;
    pos_ += i;
    if (i == want) {
      match_ = 0;
      virtual_crlf_ = false;
      return ScanResult::delimiter;
    }
    if (i == avail) {
      match_ += i;
      return ScanResult::need_more;
    }
    const std::size_t held = match_ + i, skip = virtual_crlf_ ? 2 : 0;
    match_ = 0;
    virtual_crlf_ = false;
    if (held > skip) {
      data = d.substr(skip, held - skip);
      return ScanResult::data;
    }
  }
  if (pos_ == in_.size()) return ScanResult::need_more;
  const std::size_t start = pos_;
  std::size_t p = pos_;
  for (;;) {
    const void* cr = std::memchr(in_.data() + p, '\r', in_.size() - p);
    if (cr == nullptr) {
      pos_ = in_.size();
      data = in_.substr(start);
      return ScanResult::data;
    }
    p = static_cast<std::size_t>(static_cast<const char*>(cr) - in_.data());
    const std::size_t n = std::min(in_.size() - p, d.size());
    if (std::memcmp(in_.data() + p, d.data(), n) == 0) {
      if (p > start) {  // the data before the candidate first; the next call looks at the candidate again
        pos_ = p;
        data = in_.substr(start, p - start);
        return ScanResult::data;
      }
      pos_ = p + n;
      if (n == d.size()) return ScanResult::delimiter;
      match_ = n;
      return ScanResult::need_more;
    }
    ++p;
  }
}

MultipartEvent MultipartParser::next() {
  for (;;) {
    switch (state_) {
      case State::failed:
        return {MultipartEvent::error, {}, error_};
      case State::done:
        return {MultipartEvent::done, {}, {}};
      case State::preamble:
      case State::data: {
        std::string_view piece;
        switch (scan(piece)) {
          case ScanResult::data: {
            if (state_ == State::preamble) continue;  // preamble bytes are discarded
            part_size_ += piece.size();
            if (part_.has_filename && part_size_ > limits_.max_file_size) {
              return fail(MultipartError::file_too_large);
            }
            if (!part_.has_filename && part_size_ > limits_.max_field_size) {
              return fail(MultipartError::field_too_large);
            }
            return {MultipartEvent::part_data, piece, {}};
          }
          case ScanResult::delimiter: {
            const bool ends_part = state_ == State::data;
            state_ = State::after_delimiter;
            if (ends_part) return {MultipartEvent::part_end, {}, {}};
            continue;
          }
          case ScanResult::need_more:
            if (!finished_) return {MultipartEvent::need_more, {}, {}};
            return fail(state_ == State::preamble ? MultipartError::missing_first_delimiter
                                                  : MultipartError::missing_final_delimiter);
        }
        continue;
      }
      case State::after_delimiter:
      case State::dash:
      case State::padding:
      case State::cr: {
        if (pos_ == in_.size()) {
          if (!finished_) return {MultipartEvent::need_more, {}, {}};
          return fail(MultipartError::missing_final_delimiter);
        }
        const char c = in_[pos_++];
        switch (state_) {
          case State::after_delimiter:
          case State::padding:
            if (c == '-' && state_ == State::after_delimiter) {
              state_ = State::dash;
            } else if (c == ' ' || c == '\t') {
              state_ = State::padding;
            } else if (c == '\r') {
              state_ = State::cr;
            } else {
              return fail(MultipartError::bad_delimiter);
            }
            break;
          case State::dash:
            if (c != '-') return fail(MultipartError::bad_delimiter);
            state_ = State::done;  // the close delimiter: the rest is epilogue
            pos_ = in_.size();
            return {MultipartEvent::done, {}, {}};
          default:  // State::cr
            if (c != '\n') return fail(MultipartError::bad_delimiter);
            if (++parts_ > limits_.max_parts) return fail(MultipartError::too_many_parts);
            head_.clear();
            state_ = State::headers;
            break;
        }
        continue;
      }
      case State::headers: {
        auto ev = header_bytes();
        if (ev.kind == MultipartEvent::need_more && finished_) {
          return fail(MultipartError::missing_final_delimiter);
        }
        return ev;
      }
    }
  }
}

// Copies header bytes until the block's end (CRLF CRLF, or a lone CRLF for an empty block).
MultipartEvent MultipartParser::header_bytes() {
  while (pos_ < in_.size()) {
    if (head_.size() == limits_.max_header_size) return fail(MultipartError::header_too_large);
    const char c = in_[pos_++];
    head_.push_back(c);
    const std::string_view h = head_;
    // A delimiter inside the header block (at its start, after the delimiter line's CRLF, or after a
    // header line's CRLF) ends the part before its headers ended: refused, as a reader splitting the
    // whole body on delimiters would see a part cut short where this one sees header lines.
    if (c == delimiter_.back() &&
        ((h.size() + 2 == delimiter_.size() && delimiter_.ends_with(h)) || h.ends_with(delimiter_))) {
      return fail(MultipartError::bad_part_headers);
    }
    if (c != '\n') continue;
    if (h == "\r\n" || h.ends_with("\r\n\r\n")) {
      if (auto ec = parse_headers()) {
        state_ = State::failed;
        error_ = ec;
        return {MultipartEvent::error, {}, error_};
      }
      // The blank line's CRLF may also begin a delimiter: RFC 2046 makes a part's body optional
      // (body-part := MIME-part-headers [CRLF *OCTET]), so "headers CRLF CRLF --boundary" is a part
      // without a body, as a reader splitting the whole body on delimiters sees it.
      state_ = State::data;
      match_ = 2;
      virtual_crlf_ = true;
      part_size_ = 0;
      return {MultipartEvent::part_begin, {}, {}};
    }
  }
  return {MultipartEvent::need_more, {}, {}};
}

std::error_code MultipartParser::parse_headers() {
  header_lines_.clear();
  values_.clear();
  part_ = MultipartPart{};
  std::string_view block = head_;
  block.remove_suffix(2);  // the blank line's CRLF: every remaining line ends in CRLF
  while (!block.empty()) {
    const std::size_t eol = block.find("\r\n");
    const std::string_view line = block.substr(0, eol);
    block.remove_prefix(eol + 2);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return MultipartError::bad_part_headers;
    const std::string_view name = line.substr(0, colon), value = trim_ows(line.substr(colon + 1));
    // A name with spaces, an obs-fold continuation (leading SP) or a bare CR / LF in a value is refused.
    if (!http::is_token(name) || !http::is_field_value(value)) return MultipartError::bad_part_headers;
    if (header_lines_.size() == limits_.max_header_lines) return MultipartError::header_too_large;
    header_lines_.push_back({name, value});
  }
  bool disposition = false, type = false;
  for (const http::Header& h : header_lines_) {
    if (http::iequals(h.name, "Content-Type")) {
      if (type) return MultipartError::bad_part_headers;
      type = true;
      part_.content_type = h.value;
      continue;
    }
    if (!http::iequals(h.name, "Content-Disposition")) continue;
    if (disposition) return MultipartError::bad_part_headers;
    disposition = true;
    const std::size_t semi = std::min(h.value.find(';'), h.value.size());
    if (!http::iequals(trim_ows(h.value.substr(0, semi)), "form-data"))
      return MultipartError::bad_part_headers;
    bool has_name = false, duplicate = false;
    const bool ok = for_each_param(h.value.substr(semi), [&](const HeaderParam& p) {
      const bool is_name = http::iequals(p.name, "name"), is_filename = http::iequals(p.name, "filename");
      if (!is_name && !is_filename) return;  // filename* and others: RFC 7578 4.2 says not to use them
      // Quoted-pairs are resolved into values_ (reserved as large as the header block, which holds more
      // than every resolved value together: no reallocation, the views stay valid).
      std::string_view v = p.raw_value;
      if (p.quoted && v.find('\\') != std::string_view::npos) {
        const std::size_t at = values_.size();
        append_unquoted(v, values_);
        v = std::string_view(values_).substr(at);
      }
      if (is_name) {
        duplicate |= has_name;
        has_name = true;
        part_.name = v;
      } else {
        duplicate |= part_.has_filename;
        part_.has_filename = true;
        part_.filename = v;
      }
    });
    if (!ok || duplicate || !has_name) return MultipartError::bad_part_headers;
  }
  if (!disposition) return MultipartError::bad_part_headers;
  part_.headers = header_lines_;
  return {};
}

}  // namespace waitless::web
