// PBKDF2-HMAC-SHA256 through OpenSSL: the demo's CPU-heavy job (POST /api/hash) and its password check.
// Plain functions that block for as long as the iterations take: call them on the `cpu` pool.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace waitless::demo {

// The derived key (32 bytes) as lowercase hex.
std::string pbkdf2_sha256_hex(std::string_view password, std::string_view salt, uint32_t iterations);

// A stored password: "pbkdf2_sha256$<iterations>$<salt>$<hex key>".
std::string hash_password(std::string_view password, std::string_view salt, uint32_t iterations);
// Whether `password` matches a stored hash (constant-time comparison of the keys); false for a malformed one.
bool verify_password(std::string_view password, std::string_view stored);

// 16 random bytes as hex (OpenSSL's RAND_bytes).
std::string random_hex(std::size_t bytes);

}  // namespace waitless::demo
