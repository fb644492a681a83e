#include "apps/demo/pbkdf2.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <charconv>
#include <vector>

namespace waitless::demo {
namespace {

std::string to_hex(const unsigned char* p, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[p[i] >> 4];
    out[2 * i + 1] = kDigits[p[i] & 15];
  }
  return out;
}

}  // namespace

std::string pbkdf2_sha256_hex(std::string_view password, std::string_view salt, uint32_t iterations) {
  unsigned char key[32];
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                        static_cast<int>(iterations), EVP_sha256(), sizeof key, key) != 1) {
    return {};
  }
  return to_hex(key, sizeof key);
}

std::string hash_password(std::string_view password, std::string_view salt, uint32_t iterations) {
  std::string out = "pbkdf2_sha256$" + std::to_string(iterations) + "$";
  out += salt;
  out += '$';
  out += pbkdf2_sha256_hex(password, salt, iterations);
  return out;
}

bool verify_password(std::string_view password, std::string_view stored) {
  constexpr std::string_view kPrefix = "pbkdf2_sha256$";
  if (!stored.starts_with(kPrefix)) return false;
  stored.remove_prefix(kPrefix.size());
  const auto d1 = stored.find('$');
  if (d1 == std::string_view::npos) return false;
  uint32_t iterations = 0;
  auto [end, ec] = std::from_chars(stored.data(), stored.data() + d1, iterations);
  if (ec != std::errc{} || end != stored.data() + d1 || iterations == 0 || iterations > 10'000'000)
    return false;
  const std::string_view rest = stored.substr(d1 + 1);
  const auto d2 = rest.find('$');
  if (d2 == std::string_view::npos) return false;
  const std::string_view salt = rest.substr(0, d2), expected = rest.substr(d2 + 1);
  const std::string actual = pbkdf2_sha256_hex(password, salt, iterations);
  return actual.size() == expected.size() &&
         CRYPTO_memcmp(actual.data(), expected.data(), actual.size()) == 0;
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1) return {};
  return to_hex(buf.data(), buf.size());
}

}  // namespace waitless::demo
