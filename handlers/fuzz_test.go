package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"strconv"
	"testing"
	"time"

	"go.vlog.dev/handlers/schema"
)

// FuzzString checks the string encoder against encoding/json: every message, key and value
// gives one line of valid JSON that decodes to what encoding/json makes of the same string.
func FuzzString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\"back\\", "nl\nret\r\ttab", "\x00\x1f\x7f",
		"héllo ✓ 🎉", "\u2028\u2029", "\xff\xfe", "a\xc3", "\xed\xa0\x80", "<>&", "level", "msg",
		`{"json":"inside"}`, "\\u0000", "\xf4\x90\x80\x80"} {
		f.Add(s, s, s)
	}
	h, c := newTestHandler(nil)
	f.Fuzz(func(t *testing.T, msg, key, val string) {
		c.lines = c.lines[:0]
		r := slog.NewRecord(time.Unix(0, 1), slog.LevelInfo, msg, 0)
		r.AddAttrs(slog.Group("g", slog.String(key, val)))
		if err := h.Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		line := c.lines[0]
		if !json.Valid(line) || bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
			t.Fatalf("not one line of valid JSON: %q", line)
		}
		var m struct {
			Msg string                     `json:"msg"`
			G   map[string]string          `json:"g"`
			X   map[string]json.RawMessage `json:"-"`
		}
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatal(err)
		}
		if want := roundTrip(t, msg); m.Msg != want {
			t.Fatalf("msg: got %q, want %q", m.Msg, want)
		}
		if want := roundTrip(t, val); m.G[roundTrip(t, key)] != want {
			t.Fatalf("value: got %q, want %q (record %q)", m.G[roundTrip(t, key)], want, line)
		}
	})
}

func roundTrip(t *testing.T, s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out string
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzNumbers checks ints, uints and floats against encoding/json byte for byte (finite floats)
// and the NaN/Inf placeholders.
func FuzzNumbers(f *testing.F) {
	f.Add(int64(0), uint64(0), 0.0)
	f.Add(int64(math.MinInt64), uint64(math.MaxUint64), math.MaxFloat64)
	f.Add(int64(-1), uint64(1), 1e-7)
	f.Add(int64(42), uint64(42), 1e21)
	f.Add(int64(42), uint64(42), math.Inf(-1))
	f.Add(int64(42), uint64(42), math.NaN())
	f.Add(int64(42), uint64(42), -0.0)
	f.Fuzz(func(t *testing.T, i int64, u uint64, x float64) {
		check := func(got []byte, v any) {
			want, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("got %s, want %s", got, want)
			}
		}
		check(strconv.AppendInt(nil, i, 10), i)
		check(strconv.AppendUint(nil, u, 10), u)
		got := appendFloat(nil, x)
		switch {
		case math.IsNaN(x):
			check(got, "NaN")
		case math.IsInf(x, 1):
			check(got, "+Inf")
		case math.IsInf(x, -1):
			check(got, "-Inf")
		default:
			check(got, x)
		}
	})
}

// FuzzAttrs builds records of arbitrary shape (kinds, nesting, empty groups, With, WithGroup)
// from the fuzzer's bytes and checks that each is one line of valid JSON without duplicate
// top-level keys.
func FuzzAttrs(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, "k")
	f.Add([]byte{7, 7, 7, 7, 8, 8, 8, 1}, "msg")
	f.Add([]byte{9, 9, 0, 10, 11, 12, 7, 1, 8}, "")
	h, c := newTestHandler(&Options{Service: "s", Env: "e", Version: "v",
		Metadata: []slog.Attr{slog.String("ecs_cluster", "c")}})
	f.Fuzz(func(t *testing.T, ops []byte, key string) {
		c.lines = c.lines[:0]
		var hh slog.Handler = h
		var stack [][]slog.Attr
		cur := []slog.Attr{}
		ks := []string{key, "level", "msg", "a", "", "request_id", key + "x"}
		for i, op := range ops {
			k := ks[i%len(ks)]
			switch op % 13 {
			case 0:
				cur = append(cur, slog.String(k, key))
			case 1:
				cur = append(cur, slog.Int(k, int(op)))
			case 2:
				cur = append(cur, slog.Float64(k, math.Float64frombits(uint64(op)<<56)))
			case 3:
				cur = append(cur, slog.Bool(k, op&1 == 0))
			case 4:
				cur = append(cur, slog.Duration(k, time.Duration(op)))
			case 5:
				cur = append(cur, slog.Time(k, time.Unix(int64(op), int64(op))))
			case 6:
				cur = append(cur, slog.Any(k, map[string]any{key: []any{op, key}}))
			case 7: // open a group
				stack = append(stack, cur)
				cur = []slog.Attr{}
			case 8: // close a group
				if len(stack) > 0 {
					g := slog.Attr{Key: k, Value: slog.GroupValue(cur...)}
					cur = append(stack[len(stack)-1], g)
					stack = stack[:len(stack)-1]
				}
			case 9:
				hh = hh.WithGroup(k)
			case 10:
				hh = hh.WithAttrs(cur)
				cur = []slog.Attr{}
			case 11:
				cur = append(cur, slog.Attr{})
			case 12:
				cur = append(cur, slog.Any(k, nil))
			}
		}
		r := slog.NewRecord(time.Unix(1, 0), slog.LevelInfo, key, 0)
		r.AddAttrs(cur...)
		if err := hh.Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		line := c.lines[0]
		if !json.Valid(line) || bytes.Count(line, []byte("\n")) != 1 {
			t.Fatalf("not one line of valid JSON: %q", line)
		}
		seen := map[string]bool{}
		for _, k := range keys(t, line) {
			if seen[k] && !isCallerKey(k) {
				// Duplicates among the caller's own keys are allowed (as in slog); schema keys
				// must never repeat.
				if schema.Reserved(k) {
					t.Fatalf("schema key %q repeated in %s", k, line)
				}
			}
			seen[k] = true
		}
	})
}

func isCallerKey(k string) bool { return !schema.Reserved(k) }
