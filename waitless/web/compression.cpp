#include "waitless/web/compression.hpp"

#include <brotli/encode.h>
#include <zlib.h>

#include <vector>

namespace waitless::web {

std::string_view encoding_name(Encoding e) noexcept {
  switch (e) {
    case Encoding::gzip:
      return "gzip";
    case Encoding::br:
      return "br";
    case Encoding::identity:
      break;
  }
  return "identity";
}

// One state for both libraries: input and pending operation are common, the library state is either.
struct Compressor::State {
  enum class Pending { none, flush, finish };

  Encoding encoding = Encoding::identity;
  std::vector<unsigned char> out;
  std::string_view in;
  Pending pending = Pending::none;
  bool finished = false;
  bool failed = false;
  int stalls = 0;
  uint64_t bytes_in = 0, bytes_out = 0;
  z_stream zs{};
  bool zs_ready = false;
  BrotliEncoderState* br = nullptr;

  ~State() {
    if (zs_ready) deflateEnd(&zs);
    if (br != nullptr) BrotliEncoderDestroyInstance(br);
  }

  // One library call into `out`; returns the bytes produced. Sets `done` when the pending operation
  // (and all input) is complete: nothing more comes until the next write / flush / finish.
  std::size_t step(bool& done) {
    done = false;
    if (encoding == Encoding::gzip) {
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
      zs.avail_in = static_cast<uInt>(in.size());
      zs.next_out = out.data();
      zs.avail_out = static_cast<uInt>(out.size());
      const int mode = pending == Pending::finish  ? Z_FINISH
                       : pending == Pending::flush ? Z_SYNC_FLUSH
                                                   : Z_NO_FLUSH;
      const int rc = deflate(&zs, mode);
      if (rc == Z_STREAM_ERROR) {
        failed = true;
        return 0;
      }
      in.remove_prefix(in.size() - zs.avail_in);
      const std::size_t produced = out.size() - zs.avail_out;
      if (rc == Z_STREAM_END) {
        finished = done = true;
      } else if (zs.avail_out != 0) {
        // Room was left: zlib took all input and, for a flush, output all of it (Z_BUF_ERROR is "no
        // progress possible", the same here).
        done = in.empty();
      }
      return produced;
    }
    const BrotliEncoderOperation op = pending == Pending::finish  ? BROTLI_OPERATION_FINISH
                                      : pending == Pending::flush ? BROTLI_OPERATION_FLUSH
                                                                  : BROTLI_OPERATION_PROCESS;
    std::size_t avail_in = in.size(), avail_out = out.size();
    const uint8_t* next_in = reinterpret_cast<const uint8_t*>(in.data());
    uint8_t* next_out = out.data();
    if (!BrotliEncoderCompressStream(br, op, &avail_in, &next_in, &avail_out, &next_out, nullptr)) {
      failed = true;
      return 0;
    }
    in.remove_prefix(in.size() - avail_in);
    if (pending == Pending::finish && BrotliEncoderIsFinished(br)) {
      finished = done = true;
    } else if (in.empty() && !BrotliEncoderHasMoreOutput(br)) {
      done = true;
    }
    return out.size() - avail_out;
  }
};

Result<Compressor> Compressor::create(Encoding encoding, const CompressorOptions& o) {
  if (o.out_buffer == 0 || o.out_buffer > (1u << 30)) return Error::invalid_argument;
  auto s = std::make_unique<State>();
  s->encoding = encoding;
  if (encoding == Encoding::gzip) {
    if (o.gzip_level < 1 || o.gzip_level > 9) return Error::invalid_argument;
    // windowBits 15 + 16: a gzip header and trailer around the deflate stream.
    if (deflateInit2(&s->zs, o.gzip_level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      return Error::limit_exceeded;
    }
    s->zs_ready = true;
  } else if (encoding == Encoding::br) {
    if (o.brotli_quality < BROTLI_MIN_QUALITY || o.brotli_quality > BROTLI_MAX_QUALITY ||
        o.brotli_window_bits < BROTLI_MIN_WINDOW_BITS || o.brotli_window_bits > BROTLI_MAX_WINDOW_BITS) {
      return Error::invalid_argument;
    }
    s->br = BrotliEncoderCreateInstance(nullptr, nullptr, nullptr);
    if (s->br == nullptr) return Error::limit_exceeded;
    BrotliEncoderSetParameter(s->br, BROTLI_PARAM_QUALITY, static_cast<uint32_t>(o.brotli_quality));
    BrotliEncoderSetParameter(s->br, BROTLI_PARAM_LGWIN, static_cast<uint32_t>(o.brotli_window_bits));
  } else {
    return Error::invalid_argument;
  }
  s->out.resize(o.out_buffer);
  return Compressor(std::move(s));
}

Compressor::Compressor(std::unique_ptr<State> state) noexcept : s_(std::move(state)) {}
Compressor::Compressor(Compressor&&) noexcept = default;
Compressor& Compressor::operator=(Compressor&&) noexcept = default;
Compressor::~Compressor() = default;

Encoding Compressor::encoding() const noexcept { return s_->encoding; }
bool Compressor::finished() const noexcept { return s_->finished; }
uint64_t Compressor::bytes_in() const noexcept { return s_->bytes_in; }
uint64_t Compressor::bytes_out() const noexcept { return s_->bytes_out; }

void Compressor::write(std::string_view input) noexcept {
  if (s_->finished || s_->pending == State::Pending::finish) return;
  s_->in = input;
  s_->bytes_in += input.size();
}

void Compressor::flush() noexcept {
  if (s_->pending == State::Pending::none && !s_->finished) s_->pending = State::Pending::flush;
}

void Compressor::finish() noexcept {
  if (!s_->finished) s_->pending = State::Pending::finish;
}

Result<std::string_view> Compressor::next() noexcept {
  State& s = *s_;
  for (;;) {
    if (s.failed) return Error::protocol_error;
    if (s.finished) return std::string_view();
    if (s.pending == State::Pending::none && s.in.empty()) return std::string_view();
    bool done = false;
    const std::size_t before = s.in.size();
    const std::size_t produced = s.step(done);
    if (!s.failed && produced == 0 && !done && s.in.size() == before && ++s.stalls > 8) {
      s.failed = true;  // the library made no progress, repeatedly: never spin
    }
    if (produced > 0 || s.in.size() != before) s.stalls = 0;
    if (s.failed) return Error::protocol_error;
    if (done && !s.finished) s.pending = State::Pending::none;
    if (produced > 0) {
      s.bytes_out += produced;
      return std::string_view(reinterpret_cast<const char*>(s.out.data()), produced);
    }
    if (done) return std::string_view();
  }
}

}  // namespace waitless::web
