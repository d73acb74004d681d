package bridge

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestParseTimeValue(t *testing.T) {
	ts := func(s string) int64 {
		tt, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tt.UnixNano()
	}
	f := func(v string, want int64, ok bool) {
		t.Helper()
		got, gotOK := parseTimeValue([]byte(v))
		if gotOK != ok || ok && got != want {
			t.Errorf("parseTimeValue(%s) = %d, %v; want %d, %v (%s)", v, got, gotOK, want, ok, time.Unix(0, want).UTC())
		}
	}
	f(`"2026-12-02T04:33:20.123456789Z"`, ts("2026-12-02T04:33:20.123456789Z"), true) // vlog
	f(`"2026-12-02T05:33:20.2+01:00"`, ts("2026-12-02T04:33:20.2Z"), true)            // slog
	f(`"2026-12-02T04:33:20Z"`, ts("2026-12-02T04:33:20Z"), true)
	f(`"2026-12-02t04:33:20z"`, ts("2026-12-02T04:33:20Z"), true)
	f(`"2026-12-02 04:33:20,5-0130"`, ts("2026-12-02T06:03:20.5Z"), true) // Python's asctime with a zone
	f(`"2026-12-02T04:33:20.1234567891234Z"`, ts("2026-12-02T04:33:20.123456789Z"), true)
	f(`"2026-12-02T04:33:20+05"`, ts("2026-12-01T23:33:20Z"), true)
	f(`"2024-02-29T00:00:00Z"`, ts("2024-02-29T00:00:00Z"), true)
	f(`1796186000`, ts("2026-12-02T04:33:20Z"), true)                    // Unix seconds
	f(`1796186000.25`, ts("2026-12-02T04:33:20.25Z"), true)              // zap's ts
	f(`1796186000350`, ts("2026-12-02T04:33:20.35Z"), true)              // pino's time (ms)
	f(`1796186000350123`, ts("2026-12-02T04:33:20.350123Z"), true)       // µs
	f(`1796186000350123456`, ts("2026-12-02T04:33:20.350123456Z"), true) // ns
	f(`"1796186000350"`, ts("2026-12-02T04:33:20.35Z"), true)            // a string of ms
	f(`1.79618600025e9`, ts("2026-12-02T04:33:20.25Z"), true)
	// Not times.
	f(`"2026-12-02T04:33:20"`, 0, false) // no zone: its offset is unknown
	f(`"2023-02-29T00:00:00Z"`, 0, false)
	f(`"2026-13-02T04:33:20Z"`, 0, false)
	f(`"2026-12-02T24:00:00Z"`, 0, false)
	f(`"2026-12-02T04:33:60Z"`, 0, false)
	f(`"2026-12-02T04:33:20.Z"`, 0, false)
	f(`"2026-12-02T04:33:20Zjunk"`, 0, false)
	f(`"yesterday"`, 0, false)
	f(`"12:00"`, 0, false)
	f(`""`, 0, false)
	f(`0`, 0, false)
	f(`-1796186000`, 0, false)
	f(`17961860003501234567`, 0, false)
	f(`true`, 0, false)
	f(`null`, 0, false)
	f(`{"epochSecond":1796186000}`, 0, false)
	f(`"2026-12-02T04:33:20\u005a"`, 0, false) // escapes are not times
}

// appendTime is checked against time.Time.Format as the oracle.
func TestAppendTime(t *testing.T) {
	check := func(ns int64) {
		t.Helper()
		want := time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000000Z")
		if got := string(appendTime(nil, ns)); got != want {
			t.Fatalf("appendTime(%d) = %s, want %s", ns, got, want)
		}
		if back, ok := parseRFC3339([]byte(want)); !ok || back != ns {
			t.Fatalf("parseRFC3339(%s) = %d, %v; want %d", want, back, ok, ns)
		}
	}
	for _, ns := range []int64{0, 1, 1796186000123456789, -1, -1e9, 951782400e9, 4102444800e9 - 1, 253402300799e9 / 1000} {
		check(ns)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		check(r.Int64N(253402300799e9/40) * 4) // years 1970 to about 2220
		check(-r.Int64N(9e18))                 // back to 1685
	}
}
