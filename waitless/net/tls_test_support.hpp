// Helpers for the TLS tests (header only; not part of the library): throwaway certificates made with the
// `openssl` command once per test process, in a temp dir removed at exit. The same recipe as
// tests/tls_certs.sh (which the end-to-end scripts use):
//   ca.crt        a CA
//   server.*      localhost and 127.0.0.1, signed by the CA
//   other.*       other.test and *.other.test (the SNI certificate), signed by the CA
//   expired.*     localhost, valid in January 2020 only
#pragma once
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>

namespace waitless::net::test {

inline constexpr const char* kMakeCertsScript = R"(set -e
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
key ca.key
openssl req -x509 -new -key ca.key -out ca.crt -days 3 -subj /CN=waitless-test-ca \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
printf '[ca]\ndefault_ca = testca\n[testca]\ndir = .\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = anything\ncopy_extensions = copy\nunique_subject = no\n[anything]\ncommonName = supplied\n' > ca.cnf
: > index.txt; echo 01 > serial
issue() {
  key "$1.key"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$2" -addext "subjectAltName=$3" 2>/dev/null
  if [ -n "${4:-}" ]; then dates="-startdate $4 -enddate $5"; else dates="-days 2"; fi
  openssl ca -batch -notext -config ca.cnf -cert ca.crt -keyfile ca.key -in "$1.csr" -out "$1.crt" $dates 2>/dev/null
}
issue server localhost DNS:localhost,IP:127.0.0.1
issue other other.test DNS:other.test,DNS:*.other.test
issue expired localhost DNS:localhost,IP:127.0.0.1 20200101000000Z 20200102000000Z
)";

class TestCerts {
 public:
  static const TestCerts& get() {
    static TestCerts certs;
    return certs;
  }
  std::string path(const char* name) const { return dir_ + "/" + name; }
  bool ok() const { return ok_; }

 private:
  TestCerts() {
    char tmpl[] = "/tmp/waitless-tls-test.XXXXXX";
    if (!::mkdtemp(tmpl)) return;
    dir_ = tmpl;
    const std::string script = dir_ + "/make.sh";
    FILE* f = std::fopen(script.c_str(), "w");
    if (!f) return;
    std::fputs(kMakeCertsScript, f);
    std::fclose(f);
    ok_ = std::system(("cd " + dir_ + " && sh make.sh").c_str()) == 0;
  }
  ~TestCerts() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  std::string dir_;
  bool ok_ = false;
};

}  // namespace waitless::net::test
