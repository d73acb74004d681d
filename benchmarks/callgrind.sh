#!/usr/bin/env bash
# Instructions per op of benchmarks, counted by valgrind's callgrind: a measure that does not
# move with the machine's load. Each benchmark runs twice, with N and 2N iterations; the
# difference of the two totals divided by N is the cost of one op (setup cancels out).
#
#   ./callgrind.sh 'BenchmarkLog/scenario=handle-only/lib=vlog$' 'BenchmarkRedact/case=standard/redact=on$'
#
# Needs valgrind (apt-get install valgrind). Go's asynchronous preemption signals confuse
# callgrind, hence GODEBUG=asyncpreemptoff=1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
n=${N:-20000}
bin=$(mktemp -d)/bench.test
go test -c -o "$bin" .
for bench in "$@"; do
	total=()
	for iters in "$n" $((2 * n)); do
		out=$(GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
			"$bin" -test.run='^$' -test.bench="$bench" -test.benchtime="${iters}x" -test.cpu=1 2>&1 >/dev/null)
		total+=("$(grep -o 'Collected : [0-9]*' <<<"$out" | awk '{print $3}')")
	done
	echo "$bench $(((total[1] - total[0]) / n)) instructions/op"
done
