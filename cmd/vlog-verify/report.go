package main

import (
	"fmt"
	"io"
	"strings"
)

// Verdicts of a check.
const (
	statusOK   = "OK"
	statusFail = "FAIL"
	statusSkip = "SKIP"
)

// result is the outcome of one check.
type result struct {
	check  string
	status string
	detail string
	// fix is the likely fix of a failure.
	fix string
}

// report collects the results in the order the checks ran.
type report struct {
	results []result
}

func (r *report) ok(check, format string, args ...any) {
	r.results = append(r.results, result{check: check, status: statusOK, detail: fmt.Sprintf(format, args...)})
}

func (r *report) skip(check, format string, args ...any) {
	r.results = append(r.results, result{check: check, status: statusSkip, detail: fmt.Sprintf(format, args...)})
}

func (r *report) fail(check, detail, fix string) {
	r.results = append(r.results, result{check: check, status: statusFail, detail: detail, fix: fix})
}

func (r *report) failed() bool {
	for _, res := range r.results {
		if res.status == statusFail {
			return true
		}
	}
	return false
}

// print writes one line per check, the fix under each failure, and the verdict.
func (r *report) print(w io.Writer) {
	width := 0
	for _, res := range r.results {
		width = max(width, len(res.check))
	}
	var ok, failed, skipped int
	for _, res := range r.results {
		fmt.Fprintf(w, "%-4s  %-*s  %s\n", res.status, width, res.check, oneLine(res.detail))
		switch res.status {
		case statusOK:
			ok++
		case statusFail:
			failed++
			if res.fix != "" {
				fmt.Fprintf(w, "      %-*s  fix: %s\n", width, "", oneLine(res.fix))
			}
		case statusSkip:
			skipped++
		}
	}
	verdict := "OK"
	if failed > 0 {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "verdict: %s (%d ok, %d failed, %d skipped)\n", verdict, ok, failed, skipped)
}

// oneLine keeps a message on one line of the report.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\r", "")
	return strings.ReplaceAll(s, "\n", " | ")
}
