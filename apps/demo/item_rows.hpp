// An item as the store returns it, shared by the read routes (items_routes.cpp) and the write routes
// (items_write_routes.cpp): its columns, in the order of kItemColumnList.
#pragma once
#include <string_view>
#include <utility>

#include "apps/demo/store.hpp"
#include "waitless/web/http_error.hpp"

namespace waitless::demo {

inline constexpr Column kItem[] = {{"id", Column::Kind::integer},     {"name", Column::Kind::text},
                                   {"category", Column::Kind::text},  {"price_cents", Column::Kind::integer},
                                   {"stock", Column::Kind::integer},  {"version", Column::Kind::integer},
                                   {"updated_at", Column::Kind::text}};
inline constexpr std::string_view kItemColumnList =
    "id, name, category, price_cents, stock, version, updated_at";

// The rows, or the store's error thrown as the HTTP error it maps to (the app's error handler answers it).
inline web::Json rows_or_throw(Result<web::Json> r) {
  if (!r) throw web::HttpError::from(r.error());
  return std::move(*r);
}

}  // namespace waitless::demo
