#include "apps/demo/seed.hpp"

#include <array>
#include <cstdio>
#include <random>
#include <string_view>

#include "apps/demo/items.hpp"
#include "apps/demo/pbkdf2.hpp"

namespace waitless::demo {
namespace {

constexpr std::array<std::string_view, 24> kFirst = {
    "Ada",   "Grace",  "Alan",    "Edsger", "Barbara", "Ken",     "Dennis",    "Margaret",
    "Linus", "Donald", "Frances", "John",   "Radia",   "Niklaus", "Leslie",    "Tim",
    "Shafi", "Joan",   "Guido",   "Bjarne", "Anita",   "Hedy",    "Katherine", "Sophie"};
constexpr std::array<std::string_view, 20> kLast = {
    "Lovelace", "Hopper",   "Turing",     "Dijkstra", "Liskov", "Thompson", "Ritchie",
    "Hamilton", "Torvalds", "Knuth",      "Allen",    "Backus", "Perlman",  "Wirth",
    "Lamport",  "Berners",  "Goldwasser", "Clarke",   "Rossum", "Wilson"};
constexpr std::array<std::string_view, 12> kCities = {"Lisbon",  "Berlin", "Nairobi", "Osaka",
                                                      "Toronto", "Lyon",   "Austin",  "Porto",
                                                      "Seoul",   "Krakow", "Bogota",  "Perth"};
constexpr std::array<std::string_view, 16> kAdjectives = {
    "Compact", "Solar",   "Wooden", "Wireless", "Folding", "Classic", "Smart",    "Travel",
    "Ceramic", "Vintage", "Quiet",  "Ultra",    "Modular", "Pocket",  "Electric", "Handmade"};
constexpr std::array<std::string_view, 16> kNouns = {
    "Lamp", "Kettle",  "Speaker", "Notebook", "Chair",      "Backpack", "Puzzle",  "Trowel",
    "Mug",  "Headset", "Clock",   "Tent",     "Board game", "Pen set",  "Planter", "Radio"};
constexpr std::array<std::string_view, 4> kStatuses = {"delivered", "shipped", "processing", "returned"};
constexpr std::array<std::string_view, 4> kReasons = {"bought together with your last order",
                                                      "popular in your city", "similar to items you viewed",
                                                      "back in stock"};

// "2026-MM-DDTHH:MM:SSZ", `minutes` before 2026-12-01T00:00:00Z (month lengths of 2026).
std::string timestamp_before(long minutes) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30};  // Jan..Nov
  long total = 334L * 24 * 60 - minutes;  // minutes since 2026-01-01T00:00
  if (total < 0) total = 0;
  int month = 0;
  long day_minutes = total;
  while (month < 11 && day_minutes >= long(kDays[month]) * 24 * 60)
    day_minutes -= long(kDays[month++]) * 24 * 60;
  char buf[32];
  std::snprintf(buf, sizeof buf, "2026-%02d-%02ldT%02ld:%02ld:00Z", month + 1, day_minutes / (24 * 60) + 1,
                (day_minutes / 60) % 24, day_minutes % 60);
  return buf;
}

// Appends rows to multi-row INSERTs of at most `per` rows each.
class Inserter {
 public:
  Inserter(Statements& out, std::string_view table, std::vector<std::string_view> columns, std::size_t per)
      : out_(out), table_(table), columns_(std::move(columns)), per_(per) {}
  ~Inserter() { flush(); }
  void row(std::vector<Param> values) {
    for (auto& v : values) params_.push_back(std::move(v));
    if (++rows_ == per_) flush();
  }
  void flush() {
    if (rows_ == 0) return;
    out_.emplace_back(insert_sql(table_, columns_, rows_), std::move(params_));
    params_.clear();
    rows_ = 0;
  }

 private:
  Statements& out_;
  std::string_view table_;
  std::vector<std::string_view> columns_;
  std::size_t per_;
  std::vector<Param> params_;
  std::size_t rows_ = 0;
};

}  // namespace

std::string insert_sql(std::string_view table, const std::vector<std::string_view>& columns,
                       std::size_t rows) {
  std::string sql = "INSERT INTO ";
  sql += table;
  sql += " (";
  for (std::size_t c = 0; c < columns.size(); ++c) {
    if (c) sql += ", ";
    sql += columns[c];
  }
  sql += ") VALUES ";
  std::size_t n = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    sql += r ? ", (" : "(";
    for (std::size_t c = 0; c < columns.size(); ++c) {
      if (c) sql += ", ";
      sql += '$';
      sql += std::to_string(++n);
    }
    sql += ')';
  }
  return sql;
}

Statements seed_statements(const SeedSize& size, const std::string& password_hash, std::size_t per) {
  std::mt19937_64 rng(20261204);
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  Statements out;
  {
    Inserter users(out, "users", {"id", "name", "email", "city", "joined_at", "password_hash"}, per);
    for (std::size_t id = 1; id <= size.users; ++id) {
      std::string first(id == 1 ? "Ada" : kFirst[pick(kFirst.size())]);
      std::string last(id == 1 ? "Lovelace" : kLast[pick(kLast.size())]);
      std::string email =
          id == 1 ? std::string(kDemoEmail) : first + "." + last + std::to_string(id) + "@example.com";
      for (auto& ch : email) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      Param hash = id == 1 ? Param(password_hash) : Param(nullptr);
      users.row({int64_t(id), first + " " + last, email, std::string(kCities[pick(kCities.size())]),
                 timestamp_before(long(60 * 24 * (30 + pick(300)))), hash});
    }
  }
  std::vector<int64_t> prices(size.items + 1);
  {
    Inserter items(out, "items", {"id", "name", "category", "price_cents", "stock", "version", "updated_at"},
                   per);
    for (std::size_t id = 1; id <= size.items; ++id) {
      prices[id] = int64_t(199 + pick(25'000));
      items.row({int64_t(id),
                 std::string(kAdjectives[pick(kAdjectives.size())]) + " " +
                     std::string(kNouns[pick(kNouns.size())]),
                 std::string(kCategories[pick(kCategories.size())]), prices[id], int64_t(pick(400)),
                 int64_t{1}, timestamp_before(long(pick(60 * 24 * 60)))});
    }
  }
  // The lines reference their orders (a foreign key): they go in after every order.
  Statements line_statements;
  {
    Inserter orders(out, "orders", {"id", "user_id", "created_at", "status", "total_cents"}, per);
    Inserter lines(line_statements, "order_lines", {"order_id", "item_id", "quantity", "price_cents"}, per);
    int64_t order_id = 0;
    for (std::size_t user = 1; user <= size.users; ++user) {
      const std::size_t n = size.orders_per_user - 5 + pick(11);
      for (std::size_t k = 0; k < n; ++k) {
        ++order_id;
        int64_t total = 0;
        const std::size_t line_count = 1 + pick(4);
        for (std::size_t l = 0; l < line_count; ++l) {
          const std::size_t item = 1 + pick(size.items);
          const int64_t qty = int64_t(1 + pick(3));
          total += qty * prices[item];
          lines.row({order_id, int64_t(item), qty, prices[item]});
        }
        orders.row({order_id, int64_t(user), timestamp_before(long(pick(60 * 24 * 300))),
                    std::string(kStatuses[k == 0 ? 2 : pick(2)]), total});
      }
    }
  }
  for (auto& st : line_statements) out.push_back(std::move(st));
  {
    Inserter recs(out, "recommendations", {"user_id", "item_id", "score", "reason"}, per);
    for (std::size_t user = 1; user <= size.users; ++user) {
      for (std::size_t k = 0; k < size.recommendations_per_user; ++k) {
        recs.row({int64_t(user), int64_t(1 + pick(size.items)), double(pick(1000)) / 1000.0,
                  std::string(kReasons[pick(kReasons.size())])});
      }
    }
  }
  return out;
}

Task<Result<bool>> ensure_seeded(Store& store, const SeedSize& size) {
  Statements setup;
  for (auto& sql : store.schema()) setup.emplace_back(std::move(sql), std::vector<Param>{});
  setup.emplace_back("CREATE TABLE IF NOT EXISTS demo_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                     std::vector<Param>{});
  if (auto r = co_await store.batch(std::move(setup)); !r) co_return r.error();
  static constexpr Column kValue[] = {{"value", Column::Kind::text}};
  auto mark =
      co_await store.rows("SELECT value FROM demo_meta WHERE key = $1", {std::string("seeded")}, kValue);
  if (!mark) co_return mark.error();
  if (!mark->as_array().empty()) co_return false;
  // Not (completely) seeded: start from empty tables, children first.
  Statements clear;
  for (const char* t : {"recommendations", "order_lines", "orders", "items", "users"}) {
    clear.emplace_back(std::string("DELETE FROM ") + t, std::vector<Param>{});
  }
  if (auto r = co_await store.batch(std::move(clear)); !r) co_return r.error();
  const std::string hash = hash_password(kDemoPassword, random_hex(16), kPasswordIterations);
  if (auto r = co_await store.batch(seed_statements(size, hash)); !r) co_return r.error();
  Statements done;
  for (auto& sql : store.after_seed()) done.emplace_back(std::move(sql), std::vector<Param>{});
  done.emplace_back("INSERT INTO demo_meta (key, value) VALUES ($1, $2)",
                    std::vector<Param>{std::string("seeded"), timestamp_before(0)});
  if (auto r = co_await store.batch(std::move(done)); !r) co_return r.error();
  co_return true;
}

}  // namespace waitless::demo
