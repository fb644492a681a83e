#include "waitless/http/websocket_deflate.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "waitless/http/header.hpp"

namespace waitless::http::ws {

namespace {

constexpr char kTail[4] = {0, 0, '\xff', '\xff'};  // what a sync flush ends with; not sent (RFC 7692 7.2.1)
constexpr std::size_t kInflateStep = 16 * 1024;

// One extension offer: its name and parameters (values unquoted; empty for a parameter without one).
struct Param {
  std::string_view name, value;
  bool has_value = false;
};
struct Offer {
  std::string_view name;
  std::vector<Param> params;
};

std::vector<Offer> parse_offers(std::string_view header) {
  std::vector<Offer> offers;
  while (!header.empty()) {
    std::size_t comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    Offer offer;
    bool first = true;
    while (true) {
      std::size_t semi = item.find(';');
      std::string_view part = trim_ows(item.substr(0, semi));
      if (first) {
        offer.name = part;
        first = false;
      } else if (!part.empty()) {
        Param p;
        std::size_t eq = part.find('=');
        p.name = trim_ows(part.substr(0, eq));
        if (eq != std::string_view::npos) {
          p.has_value = true;
          p.value = trim_ows(part.substr(eq + 1));
          if (p.value.size() >= 2 && p.value.front() == '"' && p.value.back() == '"') {
            p.value = p.value.substr(1, p.value.size() - 2);
          }
        }
        offer.params.push_back(p);
      }
      if (semi == std::string_view::npos) break;
      item = item.substr(semi + 1);
    }
    if (!offer.name.empty()) offers.push_back(std::move(offer));
  }
  return offers;
}

// 8..15, or 0 when the value is not one.
int window_bits(std::string_view v) {
  if (v.size() == 1 && v[0] >= '8' && v[0] <= '9') return v[0] - '0';
  if (v.size() == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') return 10 + (v[1] - '0');
  return 0;
}

// The offer's parameters, validated (RFC 7692 7.1: a duplicate, unknown or malformed one voids the offer).
struct Requested {
  bool server_nct = false, client_nct = false;
  int server_bits = 0;  // 0: not given
  int client_bits = 0;  // 0: not given; 15 when given without a value
  bool client_bits_given = false;
};
std::optional<Requested> read_params(const Offer& offer, bool response) {
  Requested r;
  unsigned seen = 0;
  for (const Param& p : offer.params) {
    unsigned bit;
    if (iequals(p.name, "server_no_context_takeover")) {
      if (p.has_value) return std::nullopt;
      r.server_nct = true;
      bit = 1;
    } else if (iequals(p.name, "client_no_context_takeover")) {
      if (p.has_value) return std::nullopt;
      r.client_nct = true;
      bit = 2;
    } else if (iequals(p.name, "server_max_window_bits")) {
      r.server_bits = window_bits(p.value);
      if (!r.server_bits) return std::nullopt;
      bit = 4;
    } else if (iequals(p.name, "client_max_window_bits")) {
      r.client_bits_given = true;
      if (p.has_value) {
        r.client_bits = window_bits(p.value);
        if (!r.client_bits) return std::nullopt;
      } else {
        if (response) return std::nullopt;  // a server must give the value
        r.client_bits = 15;
      }
      bit = 8;
    } else {
      return std::nullopt;
    }
    if (seen & bit) return std::nullopt;
    seen |= bit;
  }
  return r;
}

// ---- zlib streams -----------------------------------------------------------------------------------

struct ZStream {
  z_stream z{};
  bool ready = false;
  bool deflating = false;
  int level = 0, mem_level = 0;
  ~ZStream() {
    if (!ready) return;
    if (deflating) {
      deflateEnd(&z);
    } else {
      inflateEnd(&z);
    }
  }
  bool init_deflate(int bits, int lvl, int mem) {
    if (ready && level == lvl && mem_level == mem) return true;
    if (ready) deflateEnd(&z);
    z = {};
    ready = deflateInit2(&z, lvl, Z_DEFLATED, -bits, mem, Z_DEFAULT_STRATEGY) == Z_OK;
    deflating = true;
    level = lvl;
    mem_level = mem;
    return ready;
  }
  bool init_inflate(int bits) {
    if (ready) return true;
    z = {};
    ready = inflateInit2(&z, -bits) == Z_OK;
    deflating = false;
    return ready;
  }
};

// The thread's shared streams for messages without context takeover, one per window size.
struct SharedStreams {
  std::array<std::unique_ptr<ZStream>, 16> deflaters, inflaters;
};
SharedStreams& shared() {
  thread_local SharedStreams s;
  return s;
}

}  // namespace

std::string DeflateParams::response() const {
  std::string r = "permessage-deflate";
  if (server_no_context_takeover) r += "; server_no_context_takeover";
  if (client_no_context_takeover) r += "; client_no_context_takeover";
  if (server_max_window_bits < 15) r += "; server_max_window_bits=" + std::to_string(server_max_window_bits);
  if (client_max_window_bits < 15) r += "; client_max_window_bits=" + std::to_string(client_max_window_bits);
  return r;
}

std::optional<DeflateParams> negotiate_deflate(std::string_view offers, const DeflateOptions& options) {
  if (!options.enabled) return std::nullopt;
  for (const Offer& offer : parse_offers(offers)) {
    if (!iequals(offer.name, "permessage-deflate")) continue;
    auto req = read_params(offer, false);
    if (!req) continue;
    DeflateParams p;
    p.server_no_context_takeover = req->server_nct || options.server_no_context_takeover;
    p.client_no_context_takeover = req->client_nct || options.client_no_context_takeover;
    p.server_max_window_bits = std::clamp(options.server_max_window_bits, 9, 15);
    if (req->server_bits) p.server_max_window_bits = std::min(p.server_max_window_bits, req->server_bits);
    if (p.server_max_window_bits < 9) continue;  // zlib cannot deflate raw with a 256-byte window
    p.client_max_window_bits = 15;
    if (req->client_bits_given) {
      p.client_max_window_bits =
          std::min(std::clamp(options.client_max_window_bits, 8, 15), req->client_bits);
    }
    return p;
  }
  return std::nullopt;
}

std::string deflate_offer(const DeflateOptions& options) {
  std::string r = "permessage-deflate; client_max_window_bits";
  if (options.server_no_context_takeover) r += "; server_no_context_takeover";
  if (options.client_no_context_takeover) r += "; client_no_context_takeover";
  if (options.server_max_window_bits < 15) {
    r += "; server_max_window_bits=" + std::to_string(std::clamp(options.server_max_window_bits, 8, 15));
  }
  return r;
}

std::optional<DeflateParams> accept_deflate_response(std::string_view response,
                                                     const DeflateOptions& options) {
  auto offers = parse_offers(response);
  if (offers.size() != 1 || !iequals(offers[0].name, "permessage-deflate")) return std::nullopt;
  auto req = read_params(offers[0], true);
  if (!req) return std::nullopt;
  DeflateParams p;
  p.server_no_context_takeover = req->server_nct;
  p.client_no_context_takeover = req->client_nct || options.client_no_context_takeover;
  p.server_max_window_bits = req->server_bits ? req->server_bits : 15;
  if (options.server_max_window_bits < 15 && p.server_max_window_bits > options.server_max_window_bits) {
    return std::nullopt;  // more than we asked for
  }
  p.client_max_window_bits = req->client_bits ? req->client_bits : 15;
  return p;
}

// ---- compressing ------------------------------------------------------------------------------------------

struct MessageDeflater::Stream : ZStream {};
struct MessageInflater::Stream : ZStream {};

MessageDeflater::MessageDeflater(int window_bits, bool no_context_takeover, int level, int mem_level) noexcept
    : window_bits_(std::clamp(window_bits, 9, 15)),
      level_(level),
      mem_level_(mem_level),
      no_context_takeover_(no_context_takeover) {}
MessageDeflater::~MessageDeflater() = default;

bool MessageDeflater::compress(std::string_view in, std::string& out) {
  ZStream* zs;
  if (no_context_takeover_) {
    auto& slot = shared().deflaters[static_cast<std::size_t>(window_bits_)];
    if (!slot) slot = std::make_unique<ZStream>();
    zs = slot.get();
  } else {
    if (!own_) own_ = std::make_unique<Stream>();
    zs = own_.get();
  }
  if (!zs->init_deflate(window_bits_, level_, mem_level_)) return false;
  z_stream& z = zs->z;
  const std::size_t start = out.size();
  std::size_t used = start;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  bool ok = true;
  do {
    const std::size_t room = deflateBound(&z, z.avail_in) + 16;
    out.resize(used + room);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    z.avail_out = static_cast<uInt>(room);
    const int r = deflate(&z, Z_SYNC_FLUSH);
    used = out.size() - z.avail_out;
    if (r != Z_OK && r != Z_BUF_ERROR) {
      ok = false;
      break;
    }
  } while (z.avail_out == 0 || z.avail_in > 0);
  if (ok && used - start >= 4 && std::memcmp(out.data() + used - 4, kTail, 4) == 0) {
    used -= 4;
  } else {
    ok = false;
  }
  out.resize(ok ? used : start);
  if (no_context_takeover_ || !ok) deflateReset(&z);
  return ok;
}

MessageInflater::MessageInflater(int window_bits, bool no_context_takeover) noexcept
    : window_bits_(std::clamp(window_bits, 9, 15)), no_context_takeover_(no_context_takeover) {}
MessageInflater::~MessageInflater() = default;

MessageInflater::Status MessageInflater::inflate(std::string_view in, std::string& out, uint64_t cap) {
  // A window larger than the peer's is always safe for inflating: 15 for the shared streams (one size
  // serves every peer), the negotiated size for a connection's own.
  ZStream* zs;
  if (no_context_takeover_) {
    auto& slot = shared().inflaters[15];
    if (!slot) slot = std::make_unique<ZStream>();
    zs = slot.get();
    if (!zs->init_inflate(15)) return Status::error;
  } else {
    if (!own_) own_ = std::make_unique<Stream>();
    zs = own_.get();
    if (!zs->init_inflate(window_bits_)) return Status::error;
  }
  z_stream& z = zs->z;
  out.clear();
  std::size_t produced = 0;
  Status status = Status::ok;
  for (int pass = 0; pass < 2 && status == Status::ok; ++pass) {
    const std::string_view data = pass == 0 ? in : std::string_view(kTail, 4);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    while (true) {
      if (produced == out.size()) {
        if (produced > cap) {
          status = Status::too_big;
          break;
        }
        out.resize(produced + kInflateStep);
      }
      z.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
      z.avail_out = static_cast<uInt>(out.size() - produced);
      const int r = ::inflate(&z, Z_SYNC_FLUSH);
      produced = out.size() - z.avail_out;
      if (r == Z_STREAM_END) {
        // A final block ended the deflate stream: the next message starts a new one (its window kept
        // only with context takeover, which a final block ends anyway).
        inflateReset(&z);
        if (z.avail_in == 0) break;
        continue;
      }
      if (r == Z_BUF_ERROR) {
        if (z.avail_in == 0 && z.avail_out > 0) break;  // all input used
        if (z.avail_out == 0) continue;                 // room needed
        status = Status::error;
        break;
      }
      if (r != Z_OK) {
        status = Status::error;
        break;
      }
      if (produced > cap) {
        status = Status::too_big;
        break;
      }
      if (z.avail_in == 0 && z.avail_out > 0) break;
    }
  }
  if (status == Status::ok && produced > cap) status = Status::too_big;
  out.resize(status == Status::ok ? produced : 0);
  if (no_context_takeover_ || status != Status::ok) inflateReset(&z);
  return status;
}

}  // namespace waitless::http::ws
