// GET /download/:name?mb=N: a large generated CSV (N MiB, 64 by default, at most 1024), streamed in 64 KiB
// pieces with backpressure: memory stays constant whatever N is (one piece at a time; the loop waits for
// the client to drain before making the next). The rows are generated from the name, so the same name
// always gives the same bytes. Compressed on the way out when the client accepts it.
#include <cstdint>
#include <random>

#include "apps/demo/context.hpp"

namespace waitless::demo {
namespace {

constexpr std::size_t kPiece = 64 * 1024;

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// Appends CSV rows to `out` until it holds at least `want` bytes.
void generate_rows(std::string& out, std::size_t want, std::mt19937_64& rng, uint64_t& row) {
  static constexpr const char* kNotes[] = {"ok", "gift", "express", "pickup", "returned", "backorder"};
  char line[128];
  while (out.size() < want) {
    const uint64_t r = rng();
    const int n = std::snprintf(line, sizeof line, "%llu,2026-11-%02u,%u,%u,%u,%s\n",
                                static_cast<unsigned long long>(++row), unsigned(1 + r % 30),
                                unsigned(1 + (r >> 8) % 200), unsigned(1 + (r >> 16) % 300),
                                unsigned((r >> 24) % 100'000), kNotes[(r >> 40) % 6]);
    out.append(line, static_cast<std::size_t>(n));
  }
}

}  // namespace

void add_download_routes(web::App& app, DemoContext& /*ctx*/) {
  app.get("/download/:name", [](web::Request& req, web::Response& res) -> Task<> {
    const auto name = req.param("name");
    if (!valid_name(name)) bad_field("name", "1 to 64 characters of [A-Za-z0-9._-]");
    uint64_t mb = 64;
    if (auto q = req.query("mb")) {
      auto [end, ec] = std::from_chars(q->data(), q->data() + q->size(), mb);
      if (ec != std::errc{} || end != q->data() + q->size() || mb < 1 || mb > 1024) {
        bad_field("mb", "a whole number of MiB from 1 to 1024");
      }
    }
    const uint64_t total = mb * 1024 * 1024;
    std::mt19937_64 rng(std::hash<std::string_view>{}(name));
    uint64_t row = 0;
    res.type("text/csv; charset=utf-8");
    (void)res.set_header("Content-Disposition", "attachment; filename=\"" + std::string(name) + "\"");
    (void)res.set_header("Cache-Control", "no-store");
    std::string piece;
    piece.reserve(kPiece + 128);
    static constexpr std::string_view kHeader = "row,date,user_id,item_id,amount_cents,note\n";
    piece += kHeader;
    uint64_t sent = 0;
    while (sent < total) {
      generate_rows(piece, kPiece, rng, row);
      if (piece.size() > total - sent) piece.resize(static_cast<std::size_t>(total - sent));
      if (auto ec = res.write(piece)) co_return;  // the client went away: nothing more to do
      sent += piece.size();
      piece.clear();
      if (res.needs_drain()) co_await res.drain();
      if (req.cancel_token().cancelled()) co_return;
    }
    (void)res.end();
  });
}

}  // namespace waitless::demo
