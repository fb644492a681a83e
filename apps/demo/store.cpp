#include "apps/demo/store.hpp"

namespace waitless::demo {

const web::Json* first_row(const web::Json& rows) noexcept {
  const auto* a = rows.if_array();
  if (a == nullptr || a->empty()) return nullptr;
  return &a->front();
}

}  // namespace waitless::demo
