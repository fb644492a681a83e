// The demo's data: a shop with users, items, orders (with their lines) and per-user recommendations,
// generated deterministically (the same rows on every machine) and written on first start.
#pragma once
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "apps/demo/store.hpp"

namespace waitless::demo {

struct SeedSize {
  std::size_t users = 200;
  std::size_t items = 300;
  std::size_t orders_per_user = 8;  // on average (3..13)
  std::size_t recommendations_per_user = 8;
};

// The account POST /api/login accepts (user 1; the other users have no password).
inline constexpr const char* kDemoEmail = "ada@example.com";
inline constexpr const char* kDemoPassword = "waitless";
inline constexpr uint32_t kPasswordIterations = 20'000;

using Statements = std::vector<std::pair<std::string, std::vector<Param>>>;

// Multi-row INSERTs (at most `rows_per_statement` rows each) for every table, in dependency order.
// `password_hash` is stored for the demo account.
Statements seed_statements(const SeedSize& size, const std::string& password_hash,
                           std::size_t rows_per_statement = 100);

// "INSERT INTO <table> (<columns>) VALUES ($1, ...), (...)" for `rows` rows of `columns.size()` values.
std::string insert_sql(std::string_view table, const std::vector<std::string_view>& columns,
                       std::size_t rows);

// Creates the schema; when the data is not there yet (no 'seeded' mark), clears the tables and writes it.
// Returns whether it seeded.
Task<Result<bool>> ensure_seeded(Store& store, const SeedSize& size = {});

}  // namespace waitless::demo
