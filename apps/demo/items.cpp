#include "apps/demo/items.hpp"

#include <array>
#include <cstdio>
#include <variant>

namespace waitless::demo {
namespace {

bool whole_in(const web::Json& v, int64_t lo, int64_t hi, int64_t& out) {
  if (v.is_int64()) {
    out = v.as_int64();
  } else if (v.is_uint64() && v.as_uint64() <= uint64_t(hi)) {
    out = static_cast<int64_t>(v.as_uint64());
  } else {
    return false;
  }
  return out >= lo && out <= hi;
}

}  // namespace

bool valid_category(std::string_view category) noexcept {
  for (auto c : kCategories) {
    if (c == category) return true;
  }
  return false;
}

std::variant<ItemInput, FieldError> parse_item(const web::Json& body) {
  if (!body.is_object()) return FieldError{"body", "must be a JSON object"};
  const auto& o = body.as_object();
  for (const auto& kv : o) {
    const std::string_view k = kv.key();
    if (k != "name" && k != "category" && k != "price_cents" && k != "stock") {
      return FieldError{std::string(k), "is not a field of an item (name, category, price_cents, stock)"};
    }
  }
  ItemInput item;
  const auto* name = o.if_contains("name");
  if (name == nullptr) return FieldError{"name", "is required"};
  if (!name->is_string() || name->as_string().empty() || name->as_string().size() > 100) {
    return FieldError{"name", "must be a string of 1 to 100 characters"};
  }
  item.name = std::string(name->as_string());
  const auto* category = o.if_contains("category");
  if (category == nullptr) return FieldError{"category", "is required"};
  if (!category->is_string() || !valid_category(category->as_string())) {
    return FieldError{"category",
                      "must be one of books, audio, kitchen, garden, toys, office, outdoor, games"};
  }
  item.category = std::string(category->as_string());
  const auto* price = o.if_contains("price_cents");
  if (price == nullptr) return FieldError{"price_cents", "is required"};
  if (!whole_in(*price, 0, 100'000'000, item.price_cents)) {
    return FieldError{"price_cents", "must be a whole number from 0 to 100000000"};
  }
  const auto* stock = o.if_contains("stock");
  if (stock != nullptr && !whole_in(*stock, 0, 1'000'000, item.stock)) {
    return FieldError{"stock", "must be a whole number from 0 to 1000000"};
  }
  return item;
}

std::string item_etag(int64_t id, int64_t version) {
  return "\"" + std::to_string(id) + "." + std::to_string(version) + "\"";
}

std::string weak_etag_of(std::string_view text) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "W/\"%016llx\"", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace waitless::demo
