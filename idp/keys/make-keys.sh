#!/usr/bin/env bash
# Regenerates the TEST-ONLY keys and self-signed certificates in this folder (see README.md).
# Not run by install.sh: the committed keys are the fixtures the corpus was generated with;
# rerunning this changes every signature and certificate, so regenerate the corpus after it.
# OpenSSL 3.0 has no `req -not_before/-not_after`; `openssl ca -selfsign` takes explicit
# -startdate/-enddate, so each certificate is valid 2025-01-01T00:00:00Z .. 2045-01-01T00:00:00Z.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/newcerts"; : > "$tmp/index.txt"
cat > "$tmp/ca.cnf" <<CNF
[ ca ]
default_ca = test
[ test ]
dir = $tmp
database = $tmp/index.txt
new_certs_dir = $tmp/newcerts
serial = $tmp/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[ anything ]
commonName = supplied
organizationName = optional
[ ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
subjectKeyIdentifier = hash
CNF
n=1
mk() { # name keyalg subject
  local name=$1 alg=$2 subj=$3
  if [ "$alg" = ec ]; then
    openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$name-key.pem"
  else
    openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$name-key.pem"
  fi
  openssl req -new -key "$name-key.pem" -subj "$subj" -out "$tmp/$name.csr"
  printf '%02X\n' $((n + 9)) > "$tmp/serial"; n=$((n + 1))
  openssl ca -batch -config "$tmp/ca.cnf" -selfsign -keyfile "$name-key.pem" -in "$tmp/$name.csr" \
    -startdate 20250101000000Z -enddate 20450101000000Z -extensions ext -notext -out "$name-cert.pem" 2>/dev/null
  openssl x509 -in "$name-cert.pem" -noout -subject -dates
}
mk idp      rsa "/O=enterprise-sso tests/CN=test-idp"
mk idp2     rsa "/O=enterprise-sso tests/CN=test-idp-rotated"
mk attacker rsa "/O=enterprise-sso tests/CN=test-attacker"
mk sp       rsa "/O=enterprise-sso tests/CN=test-sp"
mk idp-ec   ec  "/O=enterprise-sso tests/CN=test-idp-ec-p256"
