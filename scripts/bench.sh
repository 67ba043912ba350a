#!/usr/bin/env bash
# Measures the figures in docs/PERFORMANCE.md. Run it on an otherwise idle
# machine; each benchmark reports its own baseline measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "# $(date -u +%FT%TZ) $(go version) $(nproc) cores $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
go test -run '^$' -bench 'BenchmarkWarmInvoke$' -benchtime 3000x -count 3 ./e2e/
go test -run '^$' -bench 'BenchmarkWarmThroughput' -benchtime 5000x ./e2e/
go test -run '^$' -bench 'BenchmarkColdStart' -benchtime 200x ./e2e/
go test -run '^$' -bench 'BenchmarkAsyncAccept' -benchtime 20000x ./e2e/
go test -run '^$' -bench 'BenchmarkAsyncLatency' -benchtime 1000x ./e2e/
go test -run '^$' -bench . -benchmem ./internal/sigv4/ ./internal/invoker/
