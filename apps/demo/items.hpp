// The item resource's rules, apart from its routes so they can be tested alone: what a valid item body
// is, and its validators (ETags).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "waitless/web/json.hpp"

namespace waitless::demo {

struct ItemInput {
  std::string name;         // 1..100 characters
  std::string category;     // one of the shop's categories
  int64_t price_cents = 0;  // 0..100 000 000
  int64_t stock = 0;        // 0..1 000 000
};

struct FieldError {
  std::string field;
  std::string problem;
};

// The item in a JSON body (an object with exactly these members), or the first field that is wrong.
std::variant<ItemInput, FieldError> parse_item(const web::Json& body);

// The shop's categories: what the seed data uses and what a written item may name.
inline constexpr std::array<std::string_view, 8> kCategories = {"books", "audio",  "kitchen", "garden",
                                                                "toys",  "office", "outdoor", "games"};
bool valid_category(std::string_view category) noexcept;
// "\"<id>.<version>\"": strong, changes with every write of the item.
std::string item_etag(int64_t id, int64_t version);
// W/"<64-bit FNV-1a of the text, hex>": a weak validator for a computed representation (a page of items).
std::string weak_etag_of(std::string_view text);

}  // namespace waitless::demo
