// bad_field: the demo's validation error, a 400 problem document (RFC 9457) whose `detail` starts with the
// field's name ("price_cents: must be a whole number from 0 to 100000000").
#include "apps/demo/context.hpp"

namespace waitless::demo {

void bad_field(std::string_view field, std::string_view problem) {
  std::string detail = std::string(field) + ": " + std::string(problem);
  throw web::HttpError(400, std::move(detail));
}

}  // namespace waitless::demo
