// Vary (RFC 9110 12.5.5) for middleware that make a response depend on a request field (compression on
// Accept-Encoding, CORS on Origin), as Express's `vary` package: the field is added once, to one Vary
// line holding every field already named (several Vary lines are merged; a name is not repeated, compared
// case-insensitively), and nothing is added to "Vary: *".
#pragma once
#include <string_view>

namespace waitless::http {
class Response;
}

namespace waitless::web {

void add_vary(http::Response& res, std::string_view field);

}  // namespace waitless::web
