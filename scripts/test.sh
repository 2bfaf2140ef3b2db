#!/usr/bin/env bash
# The one test command (see README): installs the Debian packages the tests need when they are
# missing, then checks formatting, runs clippy with warnings as errors, and runs every test
# (unit, integration on SQLite and PostgreSQL, ipptool conformance).
#
# Usage: scripts/test.sh            (from anywhere; root, or a user with sudo, for installs)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# ipptool and its suites (cups-ipp-utils), PostgreSQL for the second backend, Ghostscript for the
# conformance sample documents, build dependencies, dbus for ippeveprinter (copier tests), and
# OpenLDAP (slapd, ldap-utils, openssl for its throwaway CA) for the directory tests.
PACKAGES="cups-ipp-utils postgresql libpq-dev ghostscript pkg-config libssl-dev build-essential dbus slapd ldap-utils openssl chromium chromium-driver"

installed() {
  dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'
}

missing=()
for pkg in $PACKAGES; do
  installed "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "test.sh: installing missing packages: ${missing[*]}"
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      as_root=(sudo)
    else
      echo "test.sh: not root and no sudo: install these packages first: ${missing[*]}" >&2
      exit 1
    fi
  fi
  ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update
  ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
fi

echo "test.sh: cargo fmt --check"
cargo fmt --check

echo "test.sh: cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

if cargo nextest --version >/dev/null 2>&1; then
  # nextest does not run doctests: run them first, so the suite's summary is the last word.
  echo "test.sh: cargo test --doc"
  cargo test --doc
  echo "test.sh: cargo nextest run --no-fail-fast"
  cargo nextest run --no-fail-fast
else
  echo "test.sh: cargo test --no-fail-fast (cargo-nextest not installed)"
  cargo test --no-fail-fast
fi

echo "test.sh: all checks passed"
