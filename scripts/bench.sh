#!/usr/bin/env bash
# Measures the figures in docs/PERFORMANCE.md. Run it on an otherwise idle
# machine, as root for the linux sandbox's rows; each benchmark reports its
# own baseline measured in the same run. This machine's speed can vary over
# the hour, so the start time of an empty Go program is printed before and
# after, with each benchmark's figures.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "# $(date -u +%FT%TZ) $(go version) $(nproc) cores $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"

speed() {
	local d
	d=$(mktemp -d)
	printf 'package main\nfunc main() {}\n' >"$d/main.go"
	(cd "$d" && go mod init empty >/dev/null 2>&1 && go build -o empty .)
	local t0 t1
	t0=$(date +%s%N)
	for _ in $(seq 50); do "$d/empty"; done
	t1=$(date +%s%N)
	echo "# empty Go program: $(((t1 - t0) / 50000)) µs per start (50 runs)"
	rm -rf "$d"
}

bench() {
	speed
	echo "\$ go test -run '^\$' $*"
	go test -run '^$' "$@"
}

bench -bench 'BenchmarkWarmInvoke$' -benchtime 3000x -count 2 ./e2e/
bench -bench 'BenchmarkWarmThroughput' -benchtime 5000x ./e2e/
bench -bench 'BenchmarkColdStart' -benchtime 48x ./e2e/
bench -bench 'BenchmarkBurst' -benchtime 1x -count 2 ./e2e/
bench -bench 'BenchmarkDensity' -benchtime 1x ./e2e/
bench -bench 'BenchmarkGatewayInvoke' -benchtime 4000x ./e2e/
bench -bench 'BenchmarkAsyncAccept' -benchtime 20000x ./e2e/
bench -bench 'BenchmarkAsyncLatency' -benchtime 1000x ./e2e/
bench -bench 'BenchmarkS3Throughput' -benchtime 2s ./e2e/
bench -bench 'BenchmarkS3NotifyLatency' -benchtime 1000x ./e2e/
if [ "$(id -u)" = 0 ]; then
	bench -bench 'BenchmarkStart' -benchtime 160x ./internal/sandbox/linux/
	bench -bench 'BenchmarkThaw' -benchtime 200x ./internal/sandbox/linux/
fi
bench -bench . -benchmem ./internal/sigv4/ ./internal/invoker/ ./internal/gateway/
speed
