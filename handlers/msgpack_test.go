package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// jsonOracle decodes js with encoding/json, numbers kept as json.Number.
func jsonOracle(js []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(js))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// sameValue compares a value decoded from msgpack (msgp.ReadIntfBytes) with one decoded from
// JSON (json.Number for numbers). Integers must be msgpack ints of exactly the literal's value,
// other numbers float64 equal to strconv.ParseFloat of the literal.
func sameValue(mp, js any) error {
	switch j := js.(type) {
	case nil, bool, string:
		if !reflect.DeepEqual(mp, js) {
			return fmt.Errorf("got %#v, want %#v", mp, js)
		}
	case json.Number:
		lit := string(j)
		isInt := !strings.ContainsAny(lit, ".eE")
		switch m := mp.(type) {
		case int64:
			v, err := strconv.ParseInt(lit, 10, 64)
			if !isInt || err != nil || v != m {
				return fmt.Errorf("int %d for %s", m, lit)
			}
		case uint64:
			v, err := strconv.ParseUint(lit, 10, 64)
			if !isInt || err != nil || v != m {
				return fmt.Errorf("uint %d for %s", m, lit)
			}
		case float64:
			want, _ := strconv.ParseFloat(lit, 64)
			if isInt {
				if _, err := strconv.ParseInt(lit, 10, 64); err == nil {
					return fmt.Errorf("float %v for the int %s", m, lit)
				}
				if _, err := strconv.ParseUint(lit, 10, 64); err == nil {
					return fmt.Errorf("float %v for the uint %s", m, lit)
				}
			}
			if m != want || math.Signbit(m) != math.Signbit(want) {
				return fmt.Errorf("float %v for %s, want %v", m, lit, want)
			}
		default:
			return fmt.Errorf("got %#v for the number %s", mp, lit)
		}
	case []any:
		m, ok := mp.([]any)
		if !ok || len(m) != len(j) {
			return fmt.Errorf("got %#v, want an array of %d", mp, len(j))
		}
		for i := range j {
			if err := sameValue(m[i], j[i]); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
	case map[string]any:
		m, ok := mp.(map[string]any)
		if !ok || len(m) != len(j) {
			return fmt.Errorf("got %#v, want a map of %d", mp, len(j))
		}
		for k, v := range j {
			if err := sameValue(m[k], v); err != nil {
				return fmt.Errorf("%q: %w", k, err)
			}
		}
	default:
		return fmt.Errorf("oracle type %T", js)
	}
	return nil
}

// transcode runs the transcoder on one JSON object and decodes the result with tinylib/msgp.
func transcode(t *testing.T, js string) (any, eventTime, error) {
	t.Helper()
	var tr jsonTranscoder
	out, rest, et, err := tr.appendRecord([]byte("prefix"), []byte(js))
	if err != nil {
		if string(out) != "prefix" {
			t.Fatalf("error %v but dst changed: %q", err, out)
		}
		return nil, et, err
	}
	if !bytes.HasPrefix(out, []byte("prefix")) {
		t.Fatalf("dst prefix lost: %q", out)
	}
	if strings.TrimSpace(string(rest)) != "" && len(rest) > 0 && isSpace(rest[0]) {
		t.Fatalf("rest %q starts with space", rest)
	}
	v, left, err := decodeMsgpack(out[len("prefix"):])
	if err != nil {
		t.Fatalf("msgpack of %s does not decode: %v (% x)", js, err, out[len("prefix"):])
	}
	if len(left) != 0 {
		t.Fatalf("%d bytes left after the msgpack value", len(left))
	}
	return v, et, nil
}

func TestTranscodeOracle(t *testing.T) {
	f := func(js string) {
		t.Helper()
		got, _, err := transcode(t, js)
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		want, err := jsonOracle([]byte(js))
		if err != nil {
			t.Fatalf("oracle: %s: %v", js, err)
		}
		if err := sameValue(got, want); err != nil {
			t.Errorf("%s: %v", js, err)
		}
	}
	f(`{}`)
	f(`{"a":1}`)
	f(` { "a" : [ 1 , 2 , { } , [ ] ] } `)
	f(`{"event_time":"2026-11-22T02:55:54.123456789Z","level":"info","msg":"order created","service":"order-api"}`)
	f(`{"s":"quote\" back\\ slash\/ \b\f\n\r\t"}`)
	f(`{"u":"\u00e9\u2028\ud83d\ude00 lone \ud800 end \udc00 x \ud800\u0041"}`)
	f("{\"utf8\":\"héllo ✓ 🎉\",\"bad\":\"\xff\xfe a\xc3\"}")
	f(`{"long":"` + strings.Repeat("x", 40) + `","longer":"` + strings.Repeat("é", 200) + `","longest":"` + strings.Repeat("y", 70000) + `"}`)
	f(`{"esc31":"` + strings.Repeat("\\n", 16) + `","esc255":"` + strings.Repeat(`\"`, 200) + `a\u00e9"}`)
	f(`{"grow":"` + strings.Repeat("\xff", 30) + `\n"}`) // 31 raw bytes decode to 91
	f(`{"i":[0,-0,1,-1,31,-32,-33,127,128,255,256,-128,-129,65535,65536,-32768,-32769,4294967295,4294967296,-2147483648,-2147483649]}`)
	f(`{"big":[9223372036854775807,-9223372036854775808,9223372036854775808,18446744073709551615,18446744073709551616,-9223372036854775809]}`)
	f(`{"f":[0.0,-0.0,1.5,-1.5,19.99,1e3,1E-3,1e+21,1e400,-1e400,1e-400,0.1,123456789012345.6,1234567890123456789.5,5e-324,2.2250738585072014e-308,1.7976931348623157e308]}`)
	f(`{"lit":[true,false,null]}`)
	f(`{"dup":1,"dup":2}`)
	many := make([]string, 70000)
	for i := range many {
		many[i] = `"k` + strconv.Itoa(i) + `":` + strconv.Itoa(i)
	}
	f(`{` + strings.Join(many, ",") + `}`)
	f(`{"a":[` + strings.Repeat("1,", 20) + `1]}`)
	f(`{"deep":` + strings.Repeat(`{"a":`, maxJSONDepth-1) + `1` + strings.Repeat(`}`, maxJSONDepth-1) + `}`)
}

func TestTranscodeErrors(t *testing.T) {
	for _, js := range []string{``, ` `, `[]`, `"s"`, `1`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{a:1}`,
		`{"a":01}`, `{"a":-}`, `{"a":1.}`, `{"a":1e}`, `{"a":.5}`, `{"a":tru}`, `{"a":nul}`,
		`{"a":"\x01"}`, `{"a":"\q"}`, `{"a":"\u12"}`, `{"a":"\u12g4"}`, `{"a":"unterminated}`,
		`{"a":[1,2}`, `{"a":1]`, `{"a":1 "b":2}`, `{"a":"\ud800\u12"}`,
		`{"deep":` + strings.Repeat(`[`, maxJSONDepth) + strings.Repeat(`]`, maxJSONDepth) + `}`,
	} {
		if _, _, err := transcode(t, js); err == nil {
			t.Errorf("%q: no error", js)
		}
	}
}

// TestTranscodeRest checks the split of a batch: the rest starts at the next record.
func TestTranscodeRest(t *testing.T) {
	var tr jsonTranscoder
	in := []byte("{\"a\":1}\n{\"b\":2} \r\n\n{\"c\":3}\n")
	var keys []string
	for len(in) > 0 {
		out, rest, _, err := tr.appendRecord(nil, in)
		if err != nil {
			t.Fatal(err)
		}
		v, _, err := decodeMsgpack(out)
		if err != nil {
			t.Fatal(err)
		}
		for k := range v.(map[string]any) {
			keys = append(keys, k)
		}
		in = rest
	}
	if strings.Join(keys, ",") != "a,b,c" {
		t.Fatalf("got %v", keys)
	}
}

func TestTranscodeEventTime(t *testing.T) {
	f := func(js string, want time.Time) {
		t.Helper()
		_, et, err := transcode(t, js)
		if err != nil {
			t.Fatal(err)
		}
		if want.IsZero() {
			if et.ok {
				t.Errorf("%s: got a time %d.%09d, want none", js, et.sec, et.nsec)
			}
			return
		}
		if !et.ok || int64(et.sec) != want.Unix() || int(et.nsec) != want.Nanosecond() {
			t.Errorf("%s: got %v %d.%09d, want %d.%09d", js, et.ok, et.sec, et.nsec, want.Unix(), want.Nanosecond())
		}
	}
	ref := time.Date(2026, 11, 22, 2, 55, 54, 123456789, time.UTC)
	f(`{"event_time":"2026-11-22T02:55:54.123456789Z"}`, ref)
	f(`{"level":"info","event_time":"2026-11-22T02:55:54.123456789Z"}`, ref)
	f(`{"event_time":"2026-11-22T03:55:54.123456789+01:00"}`, ref)
	f(`{"event_time":"2026-11-22T02:55:54.123456789000Z"}`, ref) // longer than the fixed format
	f(`{"event_time":"2026-11-22T02:55:54Z"}`, ref.Truncate(time.Second))
	f(`{"event_time":"1970-01-01T00:00:00.000000000Z"}`, time.Unix(0, 0))
	f(`{"event_time":"2106-02-07T06:28:15.999999999Z"}`, time.Unix(math.MaxUint32, 999999999))
	f(`{"event_time":"2106-02-07T06:28:16.000000000Z"}`, time.Time{}) // past uint32 seconds
	f(`{"event_time":"1969-12-31T23:59:59.999999999Z"}`, time.Time{})
	f(`{"event_time":"2026-13-22T02:55:54.123456789Z"}`, time.Time{})
	f(`{"event_time":"yesterday"}`, time.Time{})
	f(`{"event_time":1700000000}`, time.Time{})
	f(`{"g":{"event_time":"2026-11-22T02:55:54.123456789Z"}}`, time.Time{}) // not top level
	f(`{}`, time.Time{})
}

// TestEventTimeFastPath checks the fixed-format parser against time.Parse over the range
// EventTime can carry, leap days included.
func TestEventTimeFastPath(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func(tm time.Time) {
		t.Helper()
		s := tm.UTC().Format("2006-01-02T15:04:05.000000000Z")
		et := parseEventTime(appendMsgpackString(nil, s))
		if !et.ok || int64(et.sec) != tm.Unix() || int(et.nsec) != tm.Nanosecond() {
			t.Fatalf("%s: got %v %d.%09d, want %d.%09d", s, et.ok, et.sec, et.nsec, tm.Unix(), tm.Nanosecond())
		}
	}
	check(time.Unix(0, 0))
	check(time.Unix(math.MaxUint32, 999999999))
	check(time.Date(2000, 2, 29, 23, 59, 59, 1, time.UTC))
	check(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC))
	for range 100000 {
		check(time.Unix(r.Int64N(math.MaxUint32+1), r.Int64N(1e9)))
	}
	for _, bad := range []string{"2026-02-29T00:00:00.000000000Z", "2100-02-29T00:00:00.000000000Z",
		"2026-04-31T00:00:00.000000000Z", "2026-00-10T00:00:00.000000000Z", "2026-01-00T00:00:00.000000000Z",
		"2026-01-01T24:00:00.000000000Z", "2026-01-01T00:60:00.000000000Z", "2026-01-01T00:00:60.000000000Z"} {
		if et := parseEventTime(appendMsgpackString(nil, bad)); et.ok {
			t.Errorf("%s: accepted", bad)
		}
	}
}

// TestTranscodeAllocs pins the promise: transcoding a record allocates nothing.
func TestTranscodeAllocs(t *testing.T) {
	rec := []byte(`{"event_time":"2026-11-22T02:55:54.123456789Z","level":"info","msg":"order created","service":"order-api","env":"prod","version":"1.4.2","request_id":"req-7f3a9c2e4b1d","order_id":"ord-8f14e45fceea","user_id":4242,"amount":19.99,"items":3,"duration":42000000,"ok":true,"tags":["a","b"],"esc":"line\nbreak é","g":{"x":null}}` + "\n")
	var tr jsonTranscoder
	buf := make([]byte, 0, 4096)
	wantAllocs(t, 0, func() {
		if _, _, _, err := tr.appendRecord(buf[:0], rec); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzTranscode checks the transcoder against encoding/json: whatever encoding/json accepts as
// an object, the transcoder turns into one msgpack value that tinylib/msgp decodes to the same
// data; whatever encoding/json rejects, the transcoder rejects too.
func FuzzTranscode(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"event_time":"2026-11-22T02:55:54.123456789Z","msg":"m"}`,
		`{"s":"\u00e9\ud83d\ude00\ud800x\"\\\/\b\f\n\r\t"}`, `{"n":[0,-0,1.5e10,-1e-7,18446744073709551615,1e400]}`,
		`{"a":[true,false,null,{"b":[]}]}`, "{\"bad\":\"\xff\"}", `{"a":01}`, `{"a":1,}`,
		`{"` + strings.Repeat("k", 40) + `":"` + strings.Repeat("\\n", 20) + `"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, js []byte) {
		var tr jsonTranscoder
		out, rest, _, err := tr.appendRecord(nil, js)
		want, jerr := jsonOracle(js)
		_, isObj := want.(map[string]any)
		if jerr == nil && isObj {
			// encoding/json's Decoder reads one value; what follows is the next record.
			if err != nil && jsonDepth(js) < maxJSONDepth {
				t.Fatalf("%q: transcoder error %v, encoding/json accepts it", js, err)
			}
			if err != nil {
				return
			}
			got, left, derr := decodeMsgpack(out)
			if derr != nil || len(left) != 0 {
				t.Fatalf("%q: msgpack does not decode: %v, %d left", js, derr, len(left))
			}
			if err := sameValue(got, want); err != nil {
				t.Fatalf("%q: %v", js, err)
			}
			if len(rest) > 0 && isSpace(rest[0]) {
				t.Fatalf("rest %q starts with space", rest)
			}
			return
		}
		if err == nil {
			// Accepted: it must then be a valid object followed by something else.
			if jerr2 := json.Unmarshal(js[:len(js)-len(rest)], new(map[string]any)); jerr2 != nil {
				t.Fatalf("%q: transcoder accepts %q, encoding/json rejects it: %v", js, js[:len(js)-len(rest)], jerr2)
			}
		}
	})
}

// jsonDepth returns the deepest nesting of containers in the first JSON value of js.
func jsonDepth(js []byte) int {
	d := json.NewDecoder(bytes.NewReader(js))
	depth, deepest := 0, 0
	for {
		tok, err := d.Token()
		if err != nil {
			return deepest
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			deepest = max(deepest, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
			if depth == 0 {
				return deepest
			}
		}
	}
}

// decodeMsgpack decodes one msgpack value with tinylib/msgp's primitives. (msgp.ReadIntfBytes
// itself fails on maps with duplicate empty keys, such as {"":"","":""}; the primitives are
// what is being used as the oracle.)
func decodeMsgpack(b []byte) (any, []byte, error) {
	switch msgp.NextType(b) {
	case msgp.MapType:
		n, b, err := msgp.ReadMapHeaderBytes(b)
		if err != nil {
			return nil, b, err
		}
		m := make(map[string]any, n)
		for range n {
			var k string
			var v any
			if k, b, err = msgp.ReadStringBytes(b); err != nil {
				return nil, b, err
			}
			if v, b, err = decodeMsgpack(b); err != nil {
				return nil, b, err
			}
			m[k] = v
		}
		return m, b, nil
	case msgp.ArrayType:
		n, b, err := msgp.ReadArrayHeaderBytes(b)
		if err != nil {
			return nil, b, err
		}
		a := make([]any, n)
		for i := range a {
			if a[i], b, err = decodeMsgpack(b); err != nil {
				return nil, b, err
			}
		}
		return a, b, nil
	}
	return msgp.ReadIntfBytes(b)
}
