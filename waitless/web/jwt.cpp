#include "waitless/web/jwt.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cmath>

#include "waitless/http/header.hpp"
#include "waitless/web/base64.hpp"
#include "waitless/web/error_table.hpp"
#include "waitless/web/jwt_json.hpp"

namespace waitless::web {
namespace {

constexpr const char* kJwtMessages[] = {
    "ok",
    "malformed token",
    "token algorithm not allowed",
    "bad token signature",
    "HMAC key shorter than 32 bytes",
    "token without expiry",
    "token expired",
    "token not yet valid",
    "wrong token issuer",
    "wrong token audience",
};

constexpr std::size_t kMinKeySize = 32;  // RFC 7518 3.2: a key at least as long as the SHA-256 output
constexpr std::size_t kMacSize = 32;

bool hmac_sha256(std::string_view key, std::string_view data, unsigned char (&mac)[kMacSize]) {
  unsigned int size = 0;
  const unsigned char* r = HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                                reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &size);
  return r != nullptr && size == kMacSize;
}

using detail::JsonMember;

}  // namespace

const std::error_category& jwt_category() noexcept {
  static const detail::TableCategory category("jwt", kJwtMessages);
  return category;
}

Result<Jwt> verify_jwt_hs256(std::string_view token, std::string_view key, const JwtVerifyOptions& options) {
  if (token.size() > options.max_token_size) return make_error_code(JwtError::malformed);
  const std::size_t dot1 = token.find('.');
  const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return make_error_code(JwtError::malformed);
  }
  const std::string_view header_b64 = token.substr(0, dot1),
                         payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1),
                         signature_b64 = token.substr(dot2 + 1);
  Jwt jwt;
  std::string signature;
  if (!decode_base64url(header_b64, jwt.header_json) || !decode_base64url(signature_b64, signature) ||
      payload_b64.empty()) {
    return make_error_code(JwtError::malformed);
  }

  // The header: alg must be exactly "HS256"; crit names extensions we would have to understand.
  bool alg_ok = false, alg_seen = false, crit = false;
  const bool header_ok =
      detail::read_json_object(jwt.header_json, [&](std::string_view name, const JsonMember& m) {
        if (name == "alg") {
          alg_seen = true;
          alg_ok = m.kind == JsonMember::Kind::string && m.text == "HS256";
        }
        crit |= name == "crit";
      });
  if (!header_ok || crit) return make_error_code(JwtError::malformed);
  if (!alg_seen || !alg_ok) return make_error_code(JwtError::alg_not_allowed);
  if (key.size() < kMinKeySize) return make_error_code(JwtError::weak_key);

  unsigned char mac[kMacSize];
  if (!hmac_sha256(key, token.substr(0, dot2), mac)) return make_error_code(JwtError::bad_signature);
  if (signature.size() != kMacSize || CRYPTO_memcmp(mac, signature.data(), kMacSize) != 0) {
    return make_error_code(JwtError::bad_signature);
  }

  // Signed: now the claims.
  if (!decode_base64url(payload_b64, jwt.payload_json)) return make_error_code(JwtError::malformed);
  bool types_ok = true;
  const bool payload_ok =
      detail::read_json_object(jwt.payload_json, [&](std::string_view name, const JsonMember& m) {
        if (name == "exp" || name == "nbf" || name == "iat") {
          if (m.kind != JsonMember::Kind::number) {
            types_ok = false;
            return;
          }
          (name == "exp" ? jwt.expires_at : name == "nbf" ? jwt.not_before : jwt.issued_at) = m.number;
        } else if (name == "iss" || name == "sub") {
          if (m.kind != JsonMember::Kind::string) {
            types_ok = false;
            return;
          }
          (name == "iss" ? jwt.issuer : jwt.subject) = m.text;
        } else if (name == "aud") {
          if (m.kind == JsonMember::Kind::string) {
            jwt.audience.push_back(m.text);
          } else if (m.kind == JsonMember::Kind::array && m.all_strings) {
            jwt.audience = m.strings;
          } else {
            types_ok = false;
          }
        }
      });
  if (!payload_ok || !types_ok) return make_error_code(JwtError::malformed);

  const auto now_tp = options.now ? *options.now : std::chrono::system_clock::now();
  const double now = std::chrono::duration<double>(now_tp.time_since_epoch()).count();
  const auto skew = static_cast<double>(options.clock_skew.count());
  if (!jwt.expires_at && options.require_exp) return make_error_code(JwtError::missing_expiry);
  // RFC 7519 4.1.4: the current time must be before exp.
  if (jwt.expires_at && now >= *jwt.expires_at + skew) return make_error_code(JwtError::expired);
  if (jwt.not_before && now < *jwt.not_before - skew) return make_error_code(JwtError::not_yet_valid);
  if (jwt.issued_at && *jwt.issued_at > now + skew) return make_error_code(JwtError::not_yet_valid);
  if (!options.issuer.empty() && jwt.issuer != options.issuer) return make_error_code(JwtError::wrong_issuer);
  if (!options.audience.empty() &&
      std::find(jwt.audience.begin(), jwt.audience.end(), options.audience) == jwt.audience.end()) {
    return make_error_code(JwtError::wrong_audience);
  }
  return jwt;
}

Result<std::string> sign_jwt_hs256(std::string_view payload_json, std::string_view key) {
  if (key.size() < kMinKeySize) return make_error_code(JwtError::weak_key);
  const std::size_t first = payload_json.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || payload_json[first] != '{')
    return make_error_code(JwtError::malformed);
  std::string token;
  append_base64url(R"({"alg":"HS256","typ":"JWT"})", token);
  token.push_back('.');
  append_base64url(payload_json, token);
  unsigned char mac[kMacSize];
  if (!hmac_sha256(key, token, mac)) return make_error_code(JwtError::bad_signature);
  token.push_back('.');
  append_base64url(std::string_view(reinterpret_cast<const char*>(mac), kMacSize), token);
  return token;
}

std::optional<std::string_view> bearer_token(std::string_view authorization) noexcept {
  const std::size_t sp = authorization.find(' ');
  if (sp == std::string_view::npos || !http::iequals(authorization.substr(0, sp), "Bearer"))
    return std::nullopt;
  std::string_view token = authorization.substr(sp + 1);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  // b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
  const std::size_t body =
      token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/");
  if (body == 0 || token.empty()) return std::nullopt;
  if (body != std::string_view::npos && token.find_first_not_of('=', body) != std::string_view::npos) {
    return std::nullopt;
  }
  return token;
}

}  // namespace waitless::web
