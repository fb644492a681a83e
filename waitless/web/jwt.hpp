// JSON Web Tokens signed with HMAC-SHA256 (JWS compact form, RFC 7515; claims, RFC 7519): verification for
// bearer authentication, and signing (for a login endpoint and for tests).
//
//   auto token = bearer_token(authorization_header);               // "Bearer <token>" -> "<token>"
//   auto jwt = verify_jwt_hs256(*token, key, {.issuer = "https://id.example", .audience = "api"});
//   if (!jwt) -> 401 with WWW-Authenticate (jwt.error() is a JwtError)
//   jwt->subject, jwt->payload_json (the claims, for the app's JSON library)
//
// What verification refuses, in this order (the first failure is the error):
//   malformed        not three base64url parts (strict: no padding, no stray bits), a header or payload
//                    that is not a JSON object (strict JSON, UTF-8, no duplicate member names), a `crit`
//                    header (no extension is understood), exp / nbf / iat not numbers, iss not a string,
//                    aud not a string or an array of strings, a token longer than max_token_size;
//   alg_not_allowed  a header `alg` other than exactly "HS256": "none", "HS384", "RS256" (the RS/HS
//                    confusion attack) and a missing alg alike; checked before any signature work;
//   weak_key         a key shorter than 32 bytes (RFC 7518 3.2 requires at least the hash's size);
//   bad_signature    the HMAC-SHA256 of "header.payload" under the key differs (compared in constant
//                    time, CRYPTO_memcmp);
//   missing_expiry   no exp while require_exp (the default: a token without one never expires);
//   expired          now >= exp + clock_skew;
//   not_yet_valid    now < nbf - clock_skew, or iat later than now + clock_skew;
//   wrong_issuer     options.issuer set and iss absent or different;
//   wrong_audience   options.audience set and aud absent or not containing it.
// The signature is checked before the payload is even decoded: nothing of an unsigned payload is parsed.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "waitless/base/result.hpp"

namespace waitless::web {

enum class JwtError {
  ok = 0,
  malformed,
  alg_not_allowed,
  bad_signature,
  weak_key,
  missing_expiry,
  expired,
  not_yet_valid,
  wrong_issuer,
  wrong_audience,
};
const std::error_category& jwt_category() noexcept;
inline std::error_code make_error_code(JwtError e) noexcept { return {static_cast<int>(e), jwt_category()}; }

struct JwtVerifyOptions {
  std::string_view issuer{};    // empty: iss not checked
  std::string_view audience{};  // empty: aud not checked
  std::chrono::seconds clock_skew{0};
  bool require_exp = true;
  std::size_t max_token_size = std::size_t{8} * 1024;
  // The time to check against; the system clock when unset (tests set it).
  std::optional<std::chrono::system_clock::time_point> now{};
};

struct Jwt {
  std::string header_json;            // the decoded JOSE header
  std::string payload_json;           // the decoded claims set
  std::string subject;                // sub ("" when absent)
  std::string issuer;                 // iss ("" when absent)
  std::vector<std::string> audience;  // aud, as a list (a single string gives one element)
  std::optional<double> expires_at, not_before, issued_at;  // exp, nbf, iat (seconds since the epoch)
};

Result<Jwt> verify_jwt_hs256(std::string_view token, std::string_view key,
                             const JwtVerifyOptions& options = {});

// A compact JWS of payload_json (which must be a JSON object; not checked beyond that it starts with '{')
// with the header {"alg":"HS256","typ":"JWT"}. Error: JwtError::weak_key, JwtError::malformed.
Result<std::string> sign_jwt_hs256(std::string_view payload_json, std::string_view key);

// The token of an `Authorization: Bearer <token>` value (scheme case-insensitive, RFC 6750 2.1's b64token
// characters), or nullopt for another scheme or a malformed value.
std::optional<std::string_view> bearer_token(std::string_view authorization) noexcept;

}  // namespace waitless::web

template <>
struct std::is_error_code_enum<waitless::web::JwtError> : std::true_type {};
