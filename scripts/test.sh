#!/usr/bin/env bash
# Runs every check a change must pass: formatting, vet, the unit and
# end-to-end tests with the race detector, and each benchmark once.
# Needs Go, Python 3 and Node.js on PATH; the AWS CLI, which some
# end-to-end tests drive, is installed by scripts/install-test-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
# The AWS SDK that Node.js functions import unbundled, from the npm
# registry; a test says so if it could not be installed.
bash scripts/install-sdks.sh || echo "install-sdks failed: the tests of the unbundled SDK will fail" >&2

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...
go test -race -count=1 -timeout 30m ./...
# Benchmarks run once, so they cannot rot; their figures come from
# scripts/bench.sh on an otherwise idle machine.
go test -run '^$' -bench . -benchtime 1x -timeout 20m ./...
if [ -n "$(git status --porcelain 2>/dev/null)" ]; then
  echo "the tests changed tracked files:"; git status --porcelain; exit 1
fi
echo "all checks passed"
