#!/usr/bin/env bash
# Runs the benchmark matrix and prints it with the libraries side by side.
#
#   ./run.sh                      # every scenario, COUNT=6 runs, CPU=2
#   COUNT=10 CPU=4 ./run.sh       # more runs, GOMAXPROCS=4 (BENCHTIME=1s is the default)
#   ./run.sh 'Log/scenario=standard/'  # only these (-bench regexp, one part per name level)
#
# Raw output: results/latest.txt (git-ignored), readable by benchstat again later.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

bench=${1:-.}
count=${COUNT:-6}
cpu=${CPU:-2}
benchtime=${BENCHTIME:-1s}

benchstat=$(go env GOPATH)/bin/benchstat
if ! [ -x "$benchstat" ]; then
	echo "installing benchstat into $(go env GOPATH)/bin" >&2
	go install golang.org/x/perf/cmd/benchstat@latest
fi

# go test -count=N runs each benchmark N times in a row, so a burst of load from elsewhere on
# the machine can hit one library's runs and none of another's. The matrix is instead run
# COUNT times with -count=1, one pass after the other: the libraries are interleaved in time and
# the ratios between them stay fair on a shared machine. benchstat reads the passes as one file.
mkdir -p results
cmd=(go test -run='^$' -bench="$bench" -benchmem -count=1 -cpu="$cpu" -benchtime="$benchtime")
echo "$ for i in \$(seq $count); do ${cmd[*]}; done" >&2
: >results/latest.txt
for i in $(seq "$count"); do
	echo "pass $i/$count" >&2
	"${cmd[@]}" | tee -a results/latest.txt >&2
done

"$benchstat" -col /lib results/latest.txt

# The goals, as ratios of medians within this run (benchstat's summary statistic is the median
# too). A goal whose benchmarks were filtered out is skipped.
median() { # scenario lib field (3: ns/op, 7: allocs/op)
	grep -E "^BenchmarkLog/scenario=$1/lib=$2(-[0-9]+)?[[:space:]]" results/latest.txt |
		awk -v f="$3" '{print $f}' | sort -g |
		awk '{a[NR] = $1} END {if (NR) print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'
}
goal() { # label numerator denominator limit
	if [ -z "$2" ] || [ -z "$3" ]; then return; fi
	awk -v l="$1" -v a="$2" -v b="$3" -v max="$4" 'BEGIN {
		r = a / b
		printf "%-58s %.2fx (%s / %s ns/op; goal <= %.2fx): %s\n", l, r, a, b, max, (r <= max ? "met" : "NOT met")
	}'
}
echo
echo "goals (medians of this run):"
goal "vlog standard / slog standard" "$(median standard vlog 3)" "$(median standard slog 3)" 0.40
goal "vlog handle-only / phuslu standard" "$(median handle-only vlog 3)" "$(median standard phuslu 3)" 1.00
allocs=$(median handle-only vlog 7)
if [ -n "$allocs" ]; then
	printf "%-58s %s allocs/op (goal 0): %s\n" "vlog handle-only allocations" "$allocs" \
		"$([ "$allocs" = 0 ] && echo met || echo 'NOT met')"
fi
