#include "waitless/web/basic_auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>

#include "waitless/http/header.hpp"
#include "waitless/web/base64.hpp"
#include "waitless/web/error_table.hpp"
#include "waitless/web/utf8.hpp"

namespace waitless::web {
namespace {

constexpr const char* kBasicAuthMessages[] = {
    "ok",
    "no Basic credentials",
    "malformed Basic credentials",
    "invalid authentication challenge parameter",
};

bool has_control(std::string_view s) noexcept {
  return std::any_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c < 0x20 || c == 0x7f;
  });
}

// Appends `name="value"` with '"' and '\' escaped; false on a control character.
bool append_quoted_param(std::string& out, std::string_view name, std::string_view value) {
  if (has_control(value)) return false;
  out.append(name).append("=\"");
  for (char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return true;
}

}  // namespace

const std::error_category& auth_category() noexcept {
  static const detail::TableCategory category("auth", kBasicAuthMessages);
  return category;
}

Result<BasicCredentials> parse_basic_auth(std::string_view authorization) {
  const std::size_t sp = authorization.find(' ');
  if (sp == std::string_view::npos || !http::iequals(authorization.substr(0, sp), "Basic")) {
    return make_error_code(AuthError::missing);
  }
  std::string_view token = authorization.substr(sp + 1);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  std::string decoded;
  if (token.empty() || !decode_base64(token, decoded)) return make_error_code(AuthError::malformed);
  const std::size_t colon = decoded.find(':');
  if (colon == std::string::npos || has_control(decoded) || !is_valid_utf8(decoded)) {
    return make_error_code(AuthError::malformed);
  }
  return BasicCredentials{decoded.substr(0, colon), decoded.substr(colon + 1)};
}

Result<std::string> www_authenticate_basic(std::string_view realm) {
  std::string out = "Basic ";
  if (!append_quoted_param(out, "realm", realm)) return make_error_code(AuthError::bad_parameter);
  out.append(", charset=\"UTF-8\"");
  return out;
}

Result<std::string> www_authenticate_bearer(std::string_view realm, std::string_view error,
                                            std::string_view description) {
  std::string out = "Bearer ";
  bool ok = append_quoted_param(out, "realm", realm);
  if (ok && !error.empty()) ok = append_quoted_param(out.append(", "), "error", error);
  if (ok && !description.empty())
    ok = append_quoted_param(out.append(", "), "error_description", description);
  if (!ok) return make_error_code(AuthError::bad_parameter);
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  unsigned char da[EVP_MAX_MD_SIZE], db[EVP_MAX_MD_SIZE];
  unsigned int na = 0, nb = 0;
  if (EVP_Digest(a.data(), a.size(), da, &na, EVP_sha256(), nullptr) != 1 ||
      EVP_Digest(b.data(), b.size(), db, &nb, EVP_sha256(), nullptr) != 1 || na != nb) {
    return false;
  }
  return CRYPTO_memcmp(da, db, na) == 0;
}

}  // namespace waitless::web
