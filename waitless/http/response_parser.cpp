#include "waitless/http/response_parser.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

namespace waitless::http {

namespace {

ResponseParser& response_of(llhttp_t* p) noexcept { return *static_cast<ResponseParser*>(p->data); }

bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

}  // namespace

// llhttp calls these with the parser as argument; they forward to ResponseParser's private state. Every
// point where parse() must act pauses llhttp (HPE_PAUSED) with pause_ saying why.
struct ResponseCallbacks {
  using P = ResponseParser;

  static int on_message_begin(llhttp_t* p) {
    P& s = response_of(p);
    s.head_.clear();
    s.trailers_.clear();
    // The caller usually takes the header storage away with each head (client responses): reserve what
    // the last head needed, so one allocation each for bytes and fields instead of a growth series.
    s.head_.headers.data_.reserve(s.hint_bytes_);
    s.head_.headers.fields_.reserve(s.hint_fields_);
    s.phase_ = P::Phase::head;
    s.field_ = P::Field::none;
    s.te_seen_ = s.interim_ = s.head_reported_ = false;
    s.trailer_count_ = s.ext_bytes_ = 0;
    s.body_received_ = 0;
    s.started_ = true;
    s.pause_ = P::Pause::begin;  // to learn where the head starts (its size and hygiene scan)
    return HPE_PAUSED;
  }
  static int on_status(llhttp_t* p, const char* at, std::size_t len) {
    P& s = response_of(p);
    // reason-phrase is HTAB, SP, VCHAR and obs-text (RFC 9112 4): llhttp lets NUL and other controls in.
    if (!is_field_value(std::string_view(at, len))) {
      s.set_user_error(Error::protocol_error, "invalid reason phrase");
      // llhttp reports the span at its end, maybe past a bare LF: the first bad byte is where it failed.
      const char* bad = at;
      while (is_field_value(std::string_view(bad, 1))) ++bad;
      s.user_pos_ = bad;
      return HPE_USER;
    }
    s.head_.reason.append(at, len);
    return 0;
  }
  static int on_header_field(llhttp_t* p, const char* at, std::size_t len) {
    P& s = response_of(p);
    if (s.phase_ == P::Phase::trailers) {
      if (s.field_ != P::Field::name && ++s.trailer_count_ > s.limits_->max_headers) {
        s.set_user_error(Error::limit_exceeded, "too many trailer fields");
        s.user_pos_ = at;
        return HPE_USER;
      }
    }
    HeaderMap& h = s.section_map();  // trailer fields are kept apart: trailers()
    if (s.field_ != P::Field::name) {
      if (s.phase_ != P::Phase::trailers && h.fields_.size() >= s.limits_->max_headers) {
        s.set_user_error(Error::limit_exceeded, "too many header fields");
        s.user_pos_ = at;  // the field that is one too many starts here
        return HPE_USER;
      }
      auto off = static_cast<uint32_t>(h.data_.size());
      h.fields_.push_back({off, 0, off, 0});
      s.field_ = P::Field::name;
    }
    h.data_.append(at, len);
    h.fields_.back().name_len += static_cast<uint32_t>(len);
    return 0;
  }
  static int on_header_value(llhttp_t* p, const char* at, std::size_t len) {
    P& s = response_of(p);
    HeaderMap& h = s.section_map();
    if (s.field_ != P::Field::value) {
      h.fields_.back().value_off = static_cast<uint32_t>(h.data_.size());
      s.field_ = P::Field::value;
    }
    h.data_.append(at, len);
    h.fields_.back().value_len += static_cast<uint32_t>(len);
    return 0;
  }
  static int on_header_value_complete(llhttp_t* p) {
    P& s = response_of(p);
    s.field_ = P::Field::none;
    HeaderMap& h = s.section_map();
    if (h.fields_.empty()) return 0;
    HeaderMap::Field& f = h.fields_.back();
    while (f.value_len > 0 && is_ows(h.data_[f.value_off + f.value_len - 1])) --f.value_len;
    while (f.value_len > 0 && is_ows(h.data_[f.value_off])) {
      ++f.value_off;
      --f.value_len;
    }
    if (f.name_len == 0) {
      s.set_user_error(Error::protocol_error, "empty header name");
      return HPE_USER;
    }
    // llhttp does not flag an empty Transfer-Encoding: note every one, head_failed() judges them.
    if (s.phase_ != P::Phase::trailers && f.name_len == 17 &&
        iequals(std::string_view(h.data_.data() + f.name_off, 17), "transfer-encoding")) {
      s.te_seen_ = true;
    }
    return 0;
  }
  static int on_headers_complete(llhttp_t* p) {
    P& s = response_of(p);
    if (s.phase_ == P::Phase::trailers) return 0;
    int status = p->status_code;
    if (status < 100) {  // llhttp takes "20" or "020": the status code is exactly three digits
      s.set_user_error(Error::protocol_error, "invalid status code");
      return HPE_USER;
    }
    if (status == 101) {
      if (!s.upgrade_allowed_) {
        s.set_user_error(Error::protocol_error, "unexpected 101 Switching Protocols");
        return HPE_USER;
      }
      // The final head: what follows is the new protocol's, never parsed here.
      s.switched_ = true;
      s.pause_ = P::Pause::head;
      return HPE_PAUSED;
    }
    if (status >= 100 && status < 200) {
      s.interim_ = true;
      return 1;  // no body; on_message_complete pauses to skip it
    }
    // No body whatever the framing fields say (llhttp would read one for 204/304 with Content-Length):
    // the head is reported with the message's end.
    if (s.head_request_ || status == 204 || status == 304) return 1;
    s.pause_ = P::Pause::head;
    return HPE_PAUSED;
  }
  static int on_body(llhttp_t* p, const char* at, std::size_t len) {
    P& s = response_of(p);
    if (len == 0) return 0;
    s.body_received_ += len;
    if (s.body_received_ > s.body_limit_) {
      s.set_user_error(Error::limit_exceeded, "response body too large");
      return HPE_USER;
    }
    s.piece_ = {at, len};
    s.pause_ = P::Pause::body;
    return HPE_PAUSED;
  }
  static int on_message_complete(llhttp_t* p) {
    P& s = response_of(p);
    if (s.interim_) {
      s.pause_ = P::Pause::interim_end;
    } else if (!s.head_reported_) {
      s.pause_ = P::Pause::head_end;  // a response without a body (HEAD, 204, 304): head and end at once
    } else {
      s.pause_ = P::Pause::end;
    }
    return HPE_PAUSED;
  }
  static int on_chunk_header(llhttp_t* p) {
    P& s = response_of(p);
    s.ext_bytes_ = 0;
    if (p->content_length != 0) return 0;
    // The last chunk: the trailer section follows; pause to learn where it starts, for its checks.
    s.phase_ = P::Phase::trailers;
    s.pause_ = P::Pause::trailers;
    return HPE_PAUSED;
  }
  static int on_chunk_extension(llhttp_t* p, const char*, std::size_t len) {
    P& s = response_of(p);
    s.ext_bytes_ += len;
    if (s.ext_bytes_ > s.limits_->max_chunk_extension) {
      s.set_user_error(Error::limit_exceeded, "chunk extensions too large");
      return HPE_USER;
    }
    return 0;
  }

  static llhttp_settings_t make() noexcept {
    llhttp_settings_t st;
    llhttp_settings_init(&st);
    st.on_message_begin = on_message_begin;
    st.on_status = on_status;
    st.on_header_field = on_header_field;
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
const llhttp_settings_t kResponseSettings = ResponseCallbacks::make();
}  // namespace

const ResponseLimits& ResponseParser::default_limits() noexcept {
  static const ResponseLimits limits;
  return limits;
}

ResponseParser::ResponseParser(const ResponseLimits& limits) : limits_(&limits) { reset(); }

void ResponseParser::reset() noexcept {
  llhttp_init(&parser_, HTTP_RESPONSE, &kResponseSettings);
  parser_.data = this;
  head_.clear();
  piece_ = {};
  phase_ = Phase::idle;
  field_ = Field::none;
  pause_ = Pause::none;
  head_request_ = interim_ = pending_end_ = started_ = te_seen_ = head_reported_ = false;
  upgrade_allowed_ = switched_ = false;
  in_section_ = false;
  scanner_.start();
  section_carried_ = interim_count_ = trailer_count_ = ext_bytes_ = 0;
  body_limit_ = ~uint64_t{0};
  body_received_ = 0;
  error_ = user_error_ = {};
  reason_ = user_reason_ = nullptr;
  user_pos_ = nullptr;
}

void ResponseParser::begin(bool head_request, uint64_t body_limit, bool upgrade_allowed) noexcept {
  head_request_ = head_request;
  upgrade_allowed_ = upgrade_allowed;
  body_limit_ = body_limit;
  started_ = pending_end_ = false;
  interim_count_ = 0;
  piece_ = {};
}

void ResponseParser::set_user_error(std::error_code ec, const char* reason) noexcept {
  user_error_ = ec;
  user_reason_ = reason;
}

ResponseParser::Event ResponseParser::fail(std::error_code ec, const char* reason) noexcept {
  error_ = ec;
  reason_ = reason;
  phase_ = Phase::idle;
  in_section_ = false;
  return Event::error;
}

void ResponseParser::start_section(char prev) noexcept {
  in_section_ = true;
  section_carried_ = 0;
  // After the last-chunk line's CRLF, a leading SP/HTAB would be an obs-fold.
  scanner_.start(prev == '\n');
}

// The section bytes [start, end) were just consumed: checks the size limit and the scan. Of the
// violations found, the one that comes first in the stream decides, whatever the split into inputs.
bool ResponseParser::section_failed(const char* start, const char* end) noexcept {
  const bool trailers = phase_ == Phase::trailers;
  const std::size_t max = limits_->max_head_size;
  const std::size_t total = section_carried_ + static_cast<std::size_t>(end - start);
  const char* over = total > max ? start + (max - section_carried_) : nullptr;
  const char* bad = scanner_.scan(start, end);
  section_carried_ = total;
  if (bad && (!over || bad < over)) {
    fail(Error::protocol_error,
         trailers ? "bare LF or obs-fold in trailer section" : "bare LF or obs-fold in response head");
    return true;
  }
  if (over) {
    fail(Error::limit_exceeded, trailers ? "trailer section too large" : "response head too large");
    return true;
  }
  return false;
}

// Checks the framing of a complete final head and records it. True (and the error set) if refused.
bool ResponseParser::head_failed() noexcept {
  auto refuse = [this](std::error_code ec, const char* reason) {
    fail(ec, reason);
    return true;
  };
  const uint16_t flags = parser_.flags;
  head_.status = parser_.status_code;
  head_.version_major = parser_.http_major;
  head_.version_minor = parser_.http_minor;
  if (head_.version_major != 1) return refuse(Error::protocol_error, "HTTP version not supported");
  if ((flags & F_CONTENT_LENGTH) && (flags & F_TRANSFER_ENCODING)) {
    return refuse(Error::protocol_error, "Content-Length with Transfer-Encoding");
  }
  if (te_seen_ || (flags & F_TRANSFER_ENCODING)) {
    // RFC 9112 6.1: faulty framing in HTTP/1.0; chunked must be the last (here: the only) coding, since
    // the client asks for no other (no TE header).
    if (head_.version_minor == 0) return refuse(Error::protocol_error, "Transfer-Encoding in HTTP/1.0");
    for (Header h : head_.headers) {
      if (iequals(h.name, "transfer-encoding") && !iequals(h.value, "chunked")) {
        return refuse(Error::protocol_error, "transfer coding other than chunked");
      }
    }
    if (!(flags & F_CHUNKED)) return refuse(Error::protocol_error, "Transfer-Encoding without chunked");
  }
  const bool bodiless = head_request_ || head_.status == 204 || head_.status == 304;
  head_.chunked = (flags & F_CHUNKED) != 0;
  head_.has_content_length = (flags & F_CONTENT_LENGTH) != 0;
  head_.content_length = head_.chunked ? 0 : parser_.content_length;
  head_.until_close = !bodiless && !head_.chunked && !head_.has_content_length;
  head_.has_body = !bodiless && (head_.chunked || head_.until_close || head_.content_length > 0);
  if (!bodiless && head_.content_length > body_limit_) {
    return refuse(Error::limit_exceeded, "response body too large");
  }
  head_.keep_alive = llhttp_should_keep_alive(&parser_) != 0;
  return false;
}

ResponseParser::Event ResponseParser::parse(const char* data, std::size_t len,
                                            std::size_t* consumed) noexcept {
  *consumed = 0;
  if (error_) return Event::error;
  if (switched_) return fail(Error::protocol_error, "parse after 101 Switching Protocols");
  if (pending_end_) {
    pending_end_ = started_ = false;
    phase_ = Phase::idle;
    return Event::end;
  }
  const char* p = data;
  const char* const end = data + len;
  // A head or trailer section continued from an earlier input is checked from this input's start.
  const char* section = in_section_ ? data : nullptr;
  for (;;) {
    llhttp_errno_t err = llhttp_execute(&parser_, p, static_cast<std::size_t>(end - p));
    if (err == HPE_OK) {
      *consumed = len;
      if (section && section_failed(section, end)) return Event::error;
      return Event::need_more;
    }
    const char* pos = llhttp_get_error_pos(&parser_);
    *consumed = static_cast<std::size_t>(pos - data);
    if (err != HPE_PAUSED) {
      // llhttp hands a span (a field name, the reason phrase...) to its callback only at the span's end or
      // the input's: one cut short by llhttp's own error is handed over now, so that its checks (a field
      // one too many, a bad reason byte) see the same bytes as when the input is split before the error.
      if (!user_error_ && parser_._span_pos0) {
        using SpanCb = int (*)(llhttp_t*, const char*, const char*);
        auto flush = reinterpret_cast<SpanCb>(parser_._span_cb0);
        (void)flush(&parser_, static_cast<const char*>(parser_._span_pos0), pos);
        pause_ = Pause::none;
        piece_ = {};
      }
      // What precedes the error in a section may hold an earlier violation: it wins.
      const char* upto = user_pos_ && user_pos_ >= p && user_pos_ <= pos ? user_pos_ : pos;
      if (section && section_failed(section, upto)) return Event::error;
      // A callback of ours failed the message (llhttp reports some as HPE_CB_*, not HPE_USER).
      if (user_error_) return fail(user_error_, user_reason_);
      return fail(Error::protocol_error, llhttp_get_error_reason(&parser_));
    }
    llhttp_resume(&parser_);
    const Pause why = std::exchange(pause_, Pause::none);
    p = pos;
    switch (why) {
      case Pause::begin:
        start_section(0);
        section = pos;
        continue;
      case Pause::trailers:
        start_section('\n');
        section = pos;
        continue;
      case Pause::body:
        return Event::body;
      case Pause::head:
      case Pause::head_end:
      case Pause::interim_end:
        if (section_failed(section ? section : pos, pos)) return Event::error;
        in_section_ = false;
        section = nullptr;
        head_.head_size = section_carried_;
        if (why == Pause::interim_end) {
          if (parser_.http_major != 1) return fail(Error::protocol_error, "HTTP version not supported");
          if (++interim_count_ > limits_->max_interim) {
            return fail(Error::protocol_error, "too many interim responses");
          }
          phase_ = Phase::idle;
          continue;
        }
        if (head_failed()) return Event::error;
        head_reported_ = true;
        if (switched_) {  // 101: no body, no further response on this connection
          head_.has_body = head_.until_close = head_.keep_alive = false;
          phase_ = Phase::done;
          return Event::head;
        }
        hint_bytes_ = std::min<std::size_t>(std::max(head_.headers.data_.size(), std::size_t{64}), kMaxHint);
        hint_fields_ = std::min<std::size_t>(std::max(head_.headers.fields_.size(), std::size_t{4}),
                                             limits_->max_headers);
        if (why == Pause::head_end) {
          pending_end_ = true;
          phase_ = Phase::done;
        } else {
          phase_ = head_.has_body ? Phase::body : Phase::done;
        }
        return Event::head;
      case Pause::end:
        if (section) {
          if (section_failed(section, pos)) return Event::error;
          in_section_ = false;
        }
        phase_ = Phase::idle;
        started_ = false;
        return Event::end;
      case Pause::none:
        continue;  // a pause we did not ask for: cannot happen, but never loop on it
    }
  }
}

ResponseParser::Event ResponseParser::finish() noexcept {
  if (error_) return Event::error;
  if (pending_end_) {
    pending_end_ = started_ = false;
    phase_ = Phase::idle;
    return Event::end;
  }
  llhttp_errno_t err = llhttp_finish(&parser_);
  if (err == HPE_PAUSED && pause_ == Pause::end) {  // a body delimited by the close
    llhttp_resume(&parser_);
    pause_ = Pause::none;
    phase_ = Phase::idle;
    started_ = false;
    return Event::end;
  }
  if (err == HPE_OK && !started_) return Event::need_more;
  return fail(Error::eof, "connection closed before the response was complete");
}

}  // namespace waitless::http
