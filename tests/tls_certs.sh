#!/usr/bin/env bash
# Throwaway certificates for the TLS tests and benchmarks, made with the `openssl` command in DIR:
#   ca.crt         a CA (3 days)
#   server.{crt,key}   localhost and 127.0.0.1, signed by the CA
#   other.{crt,key}    other.test and *.other.test (a second certificate, chosen by SNI)
#   expired.{crt,key}  localhost, valid in January 2020 only
# The unit tests make the same set (waitless/net/tls_test_support.hpp).
# Usage: tests/tls_certs.sh DIR
set -eu
mkdir -p "$1"
cd "$1"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
key ca.key
openssl req -x509 -new -key ca.key -out ca.crt -days 3 -subj /CN=waitless-test-ca \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
printf '[ca]\ndefault_ca = testca\n[testca]\ndir = .\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = anything\ncopy_extensions = copy\nunique_subject = no\n[anything]\ncommonName = supplied\n' > ca.cnf
: > index.txt
echo 01 > serial
issue() {  # NAME CN SAN [START END]
  key "$1.key"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$2" -addext "subjectAltName=$3" 2>/dev/null
  if [ -n "${4:-}" ]; then dates="-startdate $4 -enddate $5"; else dates="-days 2"; fi
  # shellcheck disable=SC2086
  openssl ca -batch -notext -config ca.cnf -cert ca.crt -keyfile ca.key -in "$1.csr" -out "$1.crt" $dates 2>/dev/null
}
issue server localhost DNS:localhost,IP:127.0.0.1
issue other other.test DNS:other.test,DNS:*.other.test
issue expired localhost DNS:localhost,IP:127.0.0.1 20200101000000Z 20200102000000Z
