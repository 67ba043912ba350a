#!/usr/bin/env bash
# Installs what the end-to-end tests use beyond Go, Python 3 and Node.js,
# from Debian's packages, each only when it is missing: the AWS CLI (aws),
# Chromium for the console's browser tests (chromium), and Prometheus's
# promtool, which lints the /metrics exposition (package prometheus).
# Needs root and apt-get; elsewhere it says what to install and leaves it,
# and the tests that need a missing tool skip with that reason.
set -euo pipefail
want=()
command -v aws >/dev/null 2>&1 || want+=(awscli)
command -v chromium >/dev/null 2>&1 || want+=(chromium)
command -v promtool >/dev/null 2>&1 || want+=(prometheus)
if [ ${#want[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: missing ${want[*]}; install them (Debian: apt-get install ${want[*]}) for the tests that use them" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
# The prometheus package starts a server; only its promtool is wanted.
if command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
pkill -x prometheus >/dev/null 2>&1 || true
command -v aws && aws --version
command -v chromium && chromium --version
command -v promtool && promtool --version | head -1
