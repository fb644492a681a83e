// HTTP Basic authentication (RFC 7617): the credentials of an `Authorization: Basic <base64>` value, the
// `WWW-Authenticate` challenges of a 401 (Basic, and Bearer per RFC 6750 3 for the JWT middleware), and
// a constant-time comparison for checking a password.
//
//   auto creds = parse_basic_auth(authorization);   // creds->user, creds->password (UTF-8)
//   if (!creds || creds->user != "admin" || !constant_time_equal(creds->password, expected)) -> 401 with
//   www_authenticate_basic("admin area")            // Basic realm="admin area", charset="UTF-8"
#pragma once
#include <string>
#include <string_view>
#include <system_error>

#include "waitless/base/result.hpp"

namespace waitless::web {

enum class AuthError {
  ok = 0,
  missing,        // no Authorization value, or one of another scheme
  malformed,      // not strict base64, no ':' , a control character, invalid UTF-8
  bad_parameter,  // a challenge parameter that cannot be written (a control character)
};
const std::error_category& auth_category() noexcept;
inline std::error_code make_error_code(AuthError e) noexcept {
  return {static_cast<int>(e), auth_category()};
}

struct BasicCredentials {
  std::string user;      // before the first ':' (a user-id cannot hold one, RFC 7617 2)
  std::string password;  // everything after it, ':' included
};

// Scheme case-insensitive, one or more spaces, then the token68 (strict padded base64). The decoded
// text must be UTF-8 without control characters (RFC 7617 2: "MUST NOT contain any control characters").
Result<BasicCredentials> parse_basic_auth(std::string_view authorization);

// `Basic realm="<realm>", charset="UTF-8"` (RFC 7617 2.1). The realm is written as a quoted-string
// ('"' and '\' escaped); a control character in it is refused.
Result<std::string> www_authenticate_basic(std::string_view realm);
// `Bearer realm="<realm>"[, error="<error>"][, error_description="<description>"]` (RFC 6750 3); empty
// parts are left out. error is one of RFC 6750 3.1's codes ("invalid_request", "invalid_token",
// "insufficient_scope") when given.
Result<std::string> www_authenticate_bearer(std::string_view realm, std::string_view error = {},
                                            std::string_view description = {});

// a == b in time independent of where they differ and of their lengths (both are hashed with SHA-256,
// then the digests are compared with CRYPTO_memcmp).
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace waitless::web

template <>
struct std::is_error_code_enum<waitless::web::AuthError> : std::true_type {};
