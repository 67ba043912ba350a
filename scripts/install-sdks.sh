#!/usr/bin/env bash
# Installs the AWS SDK that Node.js functions import without bundling it,
# as they do on Lambda: the AWS SDK for JavaScript v3 clients, from the
# npm registry, into the directory the server looks in (--sdk-dir):
# ALOFT_SDK_DIR, or $XDG_DATA_HOME/aloft/sdk (~/.local/share/aloft/sdk).
# A function's own bundled copy wins over these.
set -euo pipefail
dir=${ALOFT_SDK_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/aloft/sdk}
node_dir="$dir/node"
packages=(
  @aws-sdk/client-s3@3 @aws-sdk/client-sts@3 @aws-sdk/client-lambda@3 @aws-sdk/client-dynamodb@3
  @aws-sdk/lib-dynamodb@3 @aws-sdk/client-sqs@3 @aws-sdk/client-sns@3 @aws-sdk/client-cloudwatch-logs@3
  @aws-sdk/client-iam@3 @aws-sdk/client-scheduler@3
)
if [ -f "$node_dir/.installed" ] && [ "$(cat "$node_dir/.installed")" = "${packages[*]}" ]; then
  exit 0
fi
mkdir -p "$node_dir"
npm install --prefix "$node_dir" --no-audit --no-fund --omit=dev --loglevel=error "${packages[@]}" >/dev/null
echo "${packages[*]}" > "$node_dir/.installed"
echo "install-sdks: the AWS SDK for JavaScript v3 is in $node_dir/node_modules"
