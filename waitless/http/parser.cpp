#include "waitless/http/parser.hpp"

#include <algorithm>
#include <cstring>

namespace waitless::http {

namespace {

RequestParser& self(llhttp_t* p) noexcept { return *static_cast<RequestParser*>(p->data); }

}  // namespace

// llhttp calls these with the parser as argument; they forward to RequestParser's private state.
struct ParserCallbacks {
  static int on_message_begin(llhttp_t* p) {
    RequestParser& s = self(p);
    s.head_.clear();
    s.phase_ = RequestParser::Phase::head;
    s.field_ = RequestParser::Field::none;
    s.msg_start_ = nullptr;
    s.head_carried_ = 0;
    s.host_count_ = s.trailer_count_ = s.ext_bytes_ = 0;
    s.te_seen_ = false;
    s.line_scan_ = RequestParser::LineScan::method;
    s.scanner_.start();
    s.sink_ = nullptr;
    s.body_limit_ = s.limits_->max_body_size;
    s.body_received_ = 0;
    s.arena_size_ = 0;
    return 0;
  }
  static int on_method(llhttp_t* p, const char* at, std::size_t len) {
    RequestParser& s = self(p);
    if (!s.msg_start_) s.msg_start_ = at;  // the method's first byte is the message's first byte
    s.append(s.head_.method, at, len);
    return 0;
  }
  static int on_url(llhttp_t* p, const char* at, std::size_t len) {
    RequestParser& s = self(p);
    s.append(s.head_.target, at, len);
    return 0;
  }
  static int on_header_field(llhttp_t* p, const char* at, std::size_t len) {
    RequestParser& s = self(p);
    if (s.phase_ == RequestParser::Phase::trailers) {
      s.field_ = RequestParser::Field::name;
      return 0;  // trailers are checked, counted and dropped
    }
    auto& headers = s.head_.headers;
    if (s.field_ != RequestParser::Field::name) {
      headers.emplace_back();
      s.field_ = RequestParser::Field::name;
    }
    s.append(headers.back().name, at, len);
    return 0;
  }
  // Counted when the name is complete (its colon), not when a piece of it is reported: that depends on
  // where the input was split, and an error found in between must not change the answer.
  static int on_header_field_complete(llhttp_t* p) {
    RequestParser& s = self(p);
    if (s.phase_ == RequestParser::Phase::trailers) {
      if (++s.trailer_count_ > s.limits_->max_headers) {
        s.set_user_error(431, "too many trailer fields");
        return HPE_USER;
      }
      return 0;
    }
    if (s.head_.headers.size() > s.limits_->max_headers) {
      s.set_user_error(431, "too many header fields");
      return HPE_USER;
    }
    return 0;
  }
  static int on_header_value(llhttp_t* p, const char* at, std::size_t len) {
    RequestParser& s = self(p);
    s.field_ = RequestParser::Field::value;
    if (s.phase_ == RequestParser::Phase::trailers) return 0;
    s.append(s.head_.headers.back().value, at, len);
    return 0;
  }
  static int on_header_value_complete(llhttp_t* p) {
    RequestParser& s = self(p);
    s.field_ = RequestParser::Field::none;
    if (s.phase_ == RequestParser::Phase::trailers || s.head_.headers.empty()) return 0;
    Header& h = s.head_.headers.back();
    h.value = trim_ows(h.value);
    // Only the fields the parser itself must act on; the length test keeps the common case cheap.
    switch (h.name.size()) {
      case 0:
        s.set_user_error(400, "empty header name");
        return HPE_USER;
      case 4:
        if (iequals(h.name, "host")) {
          ++s.host_count_;
          if (!is_host(h.value)) {
            s.set_user_error(400, "invalid Host");
            return HPE_USER;
          }
        }
        break;
      case 6:
        if (iequals(h.name, "expect")) {
          if (!iequals(h.value, "100-continue")) {
            s.set_user_error(417, "unsupported expectation");
            return HPE_USER;
          }
          s.head_.expect_continue = true;
        }
        break;
      case 17:
        // llhttp does not flag an empty Transfer-Encoding: note every one, on_head_paused judges them.
        if (iequals(h.name, "transfer-encoding")) s.te_seen_ = true;
        break;
      default:
        break;
    }
    return 0;
  }
  static int on_headers_complete(llhttp_t* p) {
    RequestParser& s = self(p);
    if (s.phase_ == RequestParser::Phase::trailers) return 0;
    s.paused_for_head_ = true;
    return HPE_PAUSED;  // parse() measures the head and validates it at the exact end position
  }
  static int on_body(llhttp_t* p, const char* at, std::size_t len) {
    RequestParser& s = self(p);
    s.body_received_ += len;
    if (s.body_received_ > s.body_limit_) {
      s.set_user_error(413, "request body too large");
      return HPE_USER;
    }
    if (s.sink_) s.sink_->append(at, len);
    return 0;
  }
  static int on_message_complete(llhttp_t* p) {
    RequestParser& s = self(p);
    bool had_body = s.phase_ != RequestParser::Phase::done;
    s.ended_in_trailers_ = s.phase_ == RequestParser::Phase::trailers;
    s.phase_ = RequestParser::Phase::idle;
    if (!had_body) return 0;  // already reported at its head event
    s.paused_for_end_ = true;
    return HPE_PAUSED;
  }
  static int on_chunk_header(llhttp_t* p) {
    RequestParser& s = self(p);
    s.ext_bytes_ = 0;
    if (p->content_length != 0) return 0;
    // The last chunk: the trailer section follows; pause to learn where it starts, for its hygiene scan.
    s.phase_ = RequestParser::Phase::trailers;
    s.paused_for_trailers_ = true;
    return HPE_PAUSED;
  }
  static int on_chunk_extension(llhttp_t* p, const char*, std::size_t len) {
    RequestParser& s = self(p);
    s.ext_bytes_ += len;
    if (s.ext_bytes_ > s.limits_->max_chunk_extension) {
      s.set_user_error(400, "chunk extensions too large");
      return HPE_USER;
    }
    return 0;
  }

  static llhttp_settings_t make() noexcept {
    llhttp_settings_t st;
    llhttp_settings_init(&st);
    st.on_message_begin = on_message_begin;
    st.on_method = on_method;
    st.on_url = on_url;
    st.on_header_field = on_header_field;
    st.on_header_field_complete = on_header_field_complete;
    st.on_header_value = on_header_value;
    st.on_header_value_complete = on_header_value_complete;
    st.on_headers_complete = on_headers_complete;
    st.on_body = on_body;
    st.on_message_complete = on_message_complete;
    st.on_chunk_header = on_chunk_header;
    st.on_chunk_extension_name = on_chunk_extension;
    st.on_chunk_extension_value = on_chunk_extension;
    return st;
  }
};

namespace {
const llhttp_settings_t kSettings = ParserCallbacks::make();
}  // namespace

const Limits& RequestParser::default_limits() noexcept {
  static const Limits limits;
  return limits;
}

RequestParser::RequestParser(const Limits& limits) : limits_(&limits) { reset(); }

void RequestParser::reset() noexcept {
  llhttp_init(&parser_, HTTP_REQUEST, &kSettings);
  parser_.data = this;
  head_.clear();
  phase_ = Phase::idle;
  field_ = Field::none;
  paused_for_head_ = paused_for_end_ = paused_for_trailers_ = false;
  error_status_ = user_status_ = 0;
  error_reason_ = user_reason_ = nullptr;
  msg_start_ = nullptr;
  head_carried_ = 0;
  line_scan_ = LineScan::method;
  sink_ = nullptr;
  body_received_ = 0;
  arena_size_ = 0;
}

void RequestParser::release_memory() noexcept {
  arena_.reset();
  arena_cap_ = arena_size_ = 0;
  std::vector<Header>().swap(head_.headers);
}

void RequestParser::set_user_error(int status, const char* reason) noexcept {
  user_status_ = status;
  user_reason_ = reason;
}

RequestParser::Event RequestParser::fail(int status, const char* reason) noexcept {
  error_status_ = status;
  error_reason_ = reason;
  phase_ = Phase::idle;
  return Event::error;
}

// The head (or trailer) bytes [start, end) were just consumed: checks the size limit and the scan. Of the
// violations found, the one that comes first in the stream decides the answer, so the status never
// depends on how the bytes were split into reads.
bool RequestParser::section_failed(const char* start, const char* end, bool trailers) noexcept {
  const std::size_t max = limits_->max_head_size;
  const std::size_t total = head_carried_ + static_cast<std::size_t>(end - start);
  const char* over = total > max ? start + (max - head_carried_) : nullptr;  // first byte past the limit
  const char* bad = scanner_.scan(start, end);
  head_carried_ = total;
  if (bad && (!over || bad < over)) {
    fail(400, trailers ? "bare LF or obs-fold in trailer section" : "bare LF or obs-fold in request head");
    return true;
  }
  if (over) {
    // RFC 9112 3: a request-target longer than the server wishes to parse MUST get 414; the rest of an
    // oversized head is the field section: 431 (RFC 6585).
    if (!trailers && target_holds(start, over)) {
      fail(414, "request target too long");
    } else {
      fail(431, trailers ? "trailer section too large" : "request head too large");
    }
    return true;
  }
  return false;
}

// Follows the request line over head bytes [p, end): method, its SP, the target, what ended the target.
// Run only where a head spans inputs or crosses the limit: never on the path of a request read whole.
void RequestParser::scan_request_line(const char* p, const char* end) noexcept {
  for (; p < end && line_scan_ != LineScan::past_target; ++p) {
    if (line_scan_ == LineScan::method) {
      if (*p == ' ') line_scan_ = LineScan::target;
    } else if (*p == ' ' || *p == '\r' || *p == '\n') {
      line_scan_ = LineScan::past_target;
    }
  }
}

// Whether the head's first byte past the limit, `over` (in this input, which starts at `start`), is a
// request-target byte. Read from the bytes themselves, since llhttp reports target bytes late (at the
// end of an input, or of the target) and not at all before an error: the same byte decides whatever
// the split.
bool RequestParser::target_holds(const char* start, const char* over) noexcept {
  scan_request_line(start, over);
  return line_scan_ == LineScan::target && *over != ' ' && *over != '\r' && *over != '\n';
}

RequestParser::Event RequestParser::on_head_paused(const char* pos) noexcept {
  paused_for_head_ = false;
  if (section_failed(msg_start_ ? msg_start_ : pos, pos, false)) return Event::error;
  head_.head_size = head_carried_;

  const uint16_t flags = parser_.flags;
  head_.version_major = parser_.http_major;
  head_.version_minor = parser_.http_minor;
  head_.method_id = parser_.method;
  if (head_.version_major != 1) return fail(505, "HTTP version not supported");
  if (host_count_ > 1 || (head_.version_minor >= 1 && host_count_ == 0)) {
    return fail(400, host_count_ ? "more than one Host" : "missing Host");
  }
  if ((flags & F_CONTENT_LENGTH) && (flags & F_TRANSFER_ENCODING)) {
    return fail(400, "Content-Length with Transfer-Encoding");
  }
  // RFC 9110 9.3.6: a CONNECT request has no content; llhttp ends it at the head whatever its framing
  // says, so a declared body would be taken as the next request's bytes.
  if (parser_.method == HTTP_CONNECT && (flags & (F_CONTENT_LENGTH | F_TRANSFER_ENCODING))) {
    return fail(400, "CONNECT with a body");
  }
  if (te_seen_ || (flags & F_TRANSFER_ENCODING)) {
    // RFC 9112 6.1: in HTTP/1.0 the framing is faulty; otherwise chunked must be the last coding.
    if (head_.version_minor == 0) return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (!(flags & F_CHUNKED)) return fail(400, "Transfer-Encoding does not end with chunked");
    for (const Header& h : head_.headers) {
      if (iequals(h.name, "transfer-encoding") && !iequals(h.value, "chunked")) {
        return fail(501, "transfer coding not implemented");
      }
    }
  }
  head_.chunked = (flags & F_CHUNKED) != 0;
  head_.has_content_length = (flags & F_CONTENT_LENGTH) != 0;
  head_.content_length = head_.chunked ? 0 : parser_.content_length;
  // llhttp_should_keep_alive() for a request, inline (it runs for every request).
  head_.keep_alive =
      head_.version_minor >= 1 ? !(flags & F_CONNECTION_CLOSE) : (flags & F_CONNECTION_KEEP_ALIVE) != 0;
  head_.upgrade = parser_.upgrade != 0;
  phase_ = head_.has_body() ? Phase::body : Phase::done;
  return Event::head;
}

RequestParser::Event RequestParser::parse(const char* data, std::size_t len, std::size_t* consumed) noexcept {
  if (error_status_) {
    *consumed = 0;
    return Event::error;
  }
  const char* p = data;
  const char* end = data + len;
  // A head or trailer section continued from an earlier input is checked from this input's start.
  if (phase_ == Phase::head) msg_start_ = data;
  const char* trailer_from = data;
  for (;;) {
    llhttp_errno_t err = llhttp_execute(&parser_, p, static_cast<std::size_t>(end - p));
    if (err == HPE_OK) {
      *consumed = len;
      // msg_start_ is null when only leading CRLFs arrived: no message has begun.
      if (phase_ == Phase::head && msg_start_) {
        if (section_failed(msg_start_, end, false)) return Event::error;
        scan_request_line(msg_start_, end);  // the head goes on in the next input
      }
      if (phase_ == Phase::trailers && section_failed(trailer_from, end, true)) return Event::error;
      return Event::need_more;
    }
    const char* pos = llhttp_get_error_pos(&parser_);
    *consumed = static_cast<std::size_t>(pos - data);
    if (err == HPE_PAUSED) {
      llhttp_resume(&parser_);
      if (paused_for_head_) return on_head_paused(pos);
      if (paused_for_trailers_) {
        paused_for_trailers_ = false;
        trailer_from = pos;
        head_carried_ = 0;     // now counts trailer bytes
        scanner_.start(true);  // after the last-chunk line's CRLF: a leading SP/HTAB would be a fold
        p = pos;
        continue;
      }
      if (paused_for_end_) {
        paused_for_end_ = false;
        if (ended_in_trailers_ && section_failed(trailer_from, pos, true)) return Event::error;
        return Event::message_end;
      }
      p = pos;  // a pause we did not ask for: cannot happen, but never loop on it
      continue;
    }
    // What precedes the error in a head or trailer section may hold an earlier violation: it wins.
    if (phase_ == Phase::head && msg_start_ && section_failed(msg_start_, pos, false)) return Event::error;
    if (phase_ == Phase::trailers && section_failed(trailer_from, pos, true)) return Event::error;
    // A callback of ours failed the message (llhttp reports some as HPE_CB_*, not HPE_USER).
    if (user_status_) return fail(user_status_, user_reason_);
    if (err == HPE_PAUSED_H2_UPGRADE) return fail(505, "HTTP/2 prior knowledge is not supported");
    if (err == HPE_PAUSED_UPGRADE) return fail(400, "data after an upgrade request");
    // llhttp knows every registered method: one that stops at a token character is a method this server
    // does not implement, or one longer than any it does (RFC 9110 9.1, RFC 9112 3: 501). Any other byte
    // there (a space, a control) makes the request line invalid: 400. The byte decides, not where the
    // input was split.
    if (err == HPE_INVALID_METHOD && pos < end && is_token_char(static_cast<unsigned char>(*pos))) {
      return fail(501, "method not implemented");
    }
    return fail(400, llhttp_get_error_reason(&parser_));
  }
}

// ---- views and the arena -----------------------------------------------------------------------------

bool RequestParser::in_arena(const char* p) const noexcept {
  auto b = reinterpret_cast<uintptr_t>(arena_.get());
  auto x = reinterpret_cast<uintptr_t>(p);
  return arena_ && x >= b && x < b + arena_size_;
}

void RequestParser::rebase(const char* old_base, const char* new_base, std::size_t old_size) noexcept {
  auto move = [&](std::string_view& v) {
    auto b = reinterpret_cast<uintptr_t>(old_base);
    auto x = reinterpret_cast<uintptr_t>(v.data());
    if (v.data() && x >= b && x <= b + old_size) v = {new_base + (x - b), v.size()};
  };
  move(head_.method);
  move(head_.target);
  for (Header& h : head_.headers) {
    move(h.name);
    move(h.value);
  }
}

void RequestParser::append_across_inputs(std::string_view& view, const char* at, std::size_t len) {
  // A piece of a field that began in an earlier input: the view must end the arena so the new piece can
  // follow it there. spill() leaves the open view last; if the caller kept its input alive instead of
  // spilling, the view is copied now.
  bool at_end = in_arena(view.data()) && view.data() + view.size() == arena_.get() + arena_size_;
  std::size_t need = arena_size_ + len + (at_end ? 0 : view.size());
  if (need > arena_cap_) {
    std::size_t cap = std::max<std::size_t>({need, arena_cap_ * 2, 256});
    auto bigger = std::make_unique<char[]>(cap);
    if (arena_size_) std::memcpy(bigger.get(), arena_.get(), arena_size_);
    const char* old = arena_.get();
    rebase(old, bigger.get(), arena_size_);
    arena_ = std::move(bigger);
    arena_cap_ = cap;
  }
  if (!at_end) {
    std::memcpy(arena_.get() + arena_size_, view.data(), view.size());
    view = {arena_.get() + arena_size_, view.size()};
    arena_size_ += view.size();
  }
  std::memcpy(arena_.get() + arena_size_, at, len);
  arena_size_ += len;
  view = {view.data(), view.size() + len};
}

void RequestParser::spill() {
  if (phase_ != Phase::head) return;
  std::size_t need = arena_size_;
  auto count = [&](const std::string_view& v) {
    if (!v.empty() && !in_arena(v.data())) need += v.size();
  };
  count(head_.method);
  count(head_.target);
  for (const Header& h : head_.headers) {
    count(h.name);
    count(h.value);
  }
  if (need == arena_size_) return;
  if (need > arena_cap_) {
    std::size_t cap = std::max<std::size_t>({need, arena_cap_ * 2, 256});
    auto bigger = std::make_unique<char[]>(cap);
    if (arena_size_) std::memcpy(bigger.get(), arena_.get(), arena_size_);
    rebase(arena_.get(), bigger.get(), arena_size_);
    arena_ = std::move(bigger);
    arena_cap_ = cap;
  }
  // In parse order, so the field still open (the last one) ends the arena.
  auto copy = [&](std::string_view& v) {
    if (v.empty() || in_arena(v.data())) return;
    std::memcpy(arena_.get() + arena_size_, v.data(), v.size());
    v = {arena_.get() + arena_size_, v.size()};
    arena_size_ += v.size();
  };
  copy(head_.method);
  copy(head_.target);
  for (Header& h : head_.headers) {
    copy(h.name);
    copy(h.value);
  }
}

}  // namespace waitless::http
