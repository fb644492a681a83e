#include "apps/demo/seed.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace waitless::demo {
namespace {

TEST(DemoSeed, InsertSqlNumbersEveryPlaceholderOnce) {
  EXPECT_EQ(insert_sql("t", {"a", "b"}, 2), "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)");
  EXPECT_EQ(insert_sql("t", {"a"}, 1), "INSERT INTO t (a) VALUES ($1)");
}

TEST(DemoSeed, StatementsAreDeterministicAndComplete) {
  const SeedSize size{.users = 12, .items = 30, .orders_per_user = 6, .recommendations_per_user = 4};
  const Statements a = seed_statements(size, "hash", 10);
  const Statements b = seed_statements(size, "hash", 10);
  ASSERT_EQ(a.size(), b.size());
  std::size_t users = 0, items = 0, recs = 0;
  bool lines_after_orders = true, seen_lines = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_EQ(a[i].second, b[i].second);
    const std::string& sql = a[i].first;
    const std::size_t placeholders = static_cast<std::size_t>(std::count(sql.begin(), sql.end(), '$'));
    EXPECT_EQ(placeholders, a[i].second.size()) << sql;
    if (sql.starts_with("INSERT INTO users")) users += a[i].second.size() / 6;
    if (sql.starts_with("INSERT INTO items")) items += a[i].second.size() / 7;
    if (sql.starts_with("INSERT INTO recommendations")) recs += a[i].second.size() / 4;
    if (sql.starts_with("INSERT INTO order_lines")) seen_lines = true;
    if (sql.starts_with("INSERT INTO orders") && seen_lines) lines_after_orders = false;
  }
  EXPECT_EQ(users, 12u);
  EXPECT_EQ(items, 30u);
  EXPECT_EQ(recs, 12u * 4);
  EXPECT_TRUE(seen_lines);
  EXPECT_TRUE(lines_after_orders) << "order lines reference orders: they must come after all of them";
  // The demo account is user 1, with the password hash given.
  ASSERT_TRUE(a.front().first.starts_with("INSERT INTO users"));
  EXPECT_EQ(std::get<std::string>(a.front().second[2]), kDemoEmail);
  EXPECT_EQ(std::get<std::string>(a.front().second[5]), "hash");
  EXPECT_TRUE(std::holds_alternative<std::nullptr_t>(a.front().second[11]));  // user 2: no password
}

}  // namespace
}  // namespace waitless::demo
