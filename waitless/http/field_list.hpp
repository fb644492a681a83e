// Comma-separated field values (RFC 9110 5.6.1): `Connection: keep-alive, Upgrade`, `Vary`, ...
#pragma once
#include <string_view>

namespace waitless::http {

// Whether the comma-separated list `value` has `token` (ASCII case-insensitive; spaces and tabs around
// each item ignored; empty items skipped).
bool list_has_token(std::string_view value, std::string_view token) noexcept;

}  // namespace waitless::http
