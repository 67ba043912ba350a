#!/usr/bin/env bash
# Installs what the end-to-end tests use beyond Go, Python 3 and Node.js:
# the AWS CLI, from Debian's packages, when no `aws` is on PATH. Needs
# root and apt-get; elsewhere it says what to install and leaves it.
set -euo pipefail
if command -v aws >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: no aws on PATH; install the AWS CLI (Debian: apt-get install awscli) for the tests that use it" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends awscli >/dev/null
aws --version
