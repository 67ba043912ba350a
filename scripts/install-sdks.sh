#!/usr/bin/env bash
# Installs the AWS SDKs that functions import without bundling them, as
# they do on Lambda, into the directory the server looks in (--sdk-dir):
# ALOFT_SDK_DIR, or $XDG_DATA_HOME/aloft/sdk (~/.local/share/aloft/sdk).
#   node/   the AWS SDK for JavaScript v3 clients, from the npm registry;
#   python/ boto3 and what it needs, from Debian's python3-boto3 (as root),
#           copied so that every Python version can import it.
# A function's own copy wins over these, and so does a boto3 installed for
# the interpreter itself.
set -euo pipefail
dir=${ALOFT_SDK_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/aloft/sdk}
node_dir="$dir/node"
packages=(
  @aws-sdk/client-s3@3 @aws-sdk/client-sts@3 @aws-sdk/client-lambda@3 @aws-sdk/client-dynamodb@3
  @aws-sdk/lib-dynamodb@3 @aws-sdk/client-sqs@3 @aws-sdk/client-sns@3 @aws-sdk/client-cloudwatch-logs@3
  @aws-sdk/client-iam@3 @aws-sdk/client-scheduler@3
)
if ! { [ -f "$node_dir/.installed" ] && [ "$(cat "$node_dir/.installed")" = "${packages[*]}" ]; }; then
  mkdir -p "$node_dir"
  npm install --prefix "$node_dir" --no-audit --no-fund --omit=dev --loglevel=error "${packages[@]}" >/dev/null
  echo "${packages[*]}" > "$node_dir/.installed"
  echo "install-sdks: the AWS SDK for JavaScript v3 is in $node_dir/node_modules"
fi

py_dir="$dir/python"
dist=/usr/lib/python3/dist-packages
if [ ! -d "$py_dir/boto3" ]; then
  if [ ! -d "$dist/boto3" ]; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
      echo "install-sdks: no boto3 for Python functions; as root on Debian this installs python3-boto3" >&2
      exit 0
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends python3-boto3 >/dev/null 2>&1 ||
      { apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-boto3 >/dev/null; }
  fi
  mkdir -p "$py_dir.tmp"
  # boto3 and what Debian's botocore imports (it takes requests from
  # the system rather than vendoring it).
  for p in boto3 botocore s3transfer jmespath dateutil urllib3 six.py requests certifi charset_normalizer chardet idna; do
    if [ -e "$dist/$p" ]; then cp -rL "$dist/$p" "$py_dir.tmp/"; fi
  done
  # botocore reads AWS_ENDPOINT_URL (which the server gives functions)
  # from 1.31 on; an older one is taught to, so that the SDK reaches the
  # server with no configuration.
  python3 - "$py_dir.tmp/botocore/session.py" <<'PY'
import re, sys
path = sys.argv[1]
src = open(path).read()
version = re.search(r"__version__ = '([0-9.]+)'", open(path.replace("session.py", "__init__.py")).read()).group(1)
if tuple(int(x) for x in version.split(".")[:2]) < (1, 31) and "AWS_ENDPOINT_URL" not in src:
    start = src.index("    def create_client(")
    doc_end = src.index('        """\n', src.index('        """', start) + 11) + len('        """\n')
    patch = ('        if endpoint_url is None:\n'
             '            endpoint_url = os.environ.get("AWS_ENDPOINT_URL_" + service_name.upper().replace("-", "_")) or os.environ.get("AWS_ENDPOINT_URL")\n')
    open(path, "w").write(src[:doc_end] + patch + src[doc_end:])
PY
  rm -rf "$py_dir" && mv "$py_dir.tmp" "$py_dir"
  echo "install-sdks: boto3 for Python functions is in $py_dir"
fi
