package forward

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.vlog.dev/internal/vtest"
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
	v, left, err := vtest.DecodeMsgpack(out[len("prefix"):])
	if err != nil {
		t.Fatalf("msgpack of %s does not decode: %v (% x)", js, err, out[len("prefix"):])
	}
	if err := checkMinimal(out[len("prefix"):]); err != nil {
		t.Fatalf("msgpack of %s: %v", js, err)
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
		v, _, err := vtest.DecodeMsgpack(out)
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
		et, taken := parseFixedTime((*[30]byte)([]byte(s)))
		if !taken || !et.ok || int64(et.sec) != tm.Unix() || int(et.nsec) != tm.Nanosecond() {
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
		if et, taken := parseFixedTime((*[30]byte)([]byte(bad))); taken && et.ok {
			t.Errorf("%s: accepted by the fast path", bad)
		}
	}
}

// TestTranscodeAllocs pins the promise: transcoding a record allocates nothing.
func TestTranscodeAllocs(t *testing.T) {
	rec := []byte(`{"event_time":"2026-11-22T02:55:54.123456789Z","level":"info","msg":"order created","service":"order-api","env":"prod","version":"1.4.2","request_id":"req-7f3a9c2e4b1d","order_id":"ord-8f14e45fceea","user_id":4242,"amount":19.99,"items":3,"duration":42000000,"ok":true,"tags":["a","b"],"esc":"line\nbreak é","g":{"x":null}}` + "\n")
	var tr jsonTranscoder
	buf := make([]byte, 0, 4096)
	vtest.WantAllocs(t, 0, func() {
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
		`{"` + strings.Repeat("k", 40) + `":"` + strings.Repeat("\\n", 20) + `"}`,
		`{"` + strings.Repeat("k", 31) + `":"` + strings.Repeat("v", 32) + `","x":"` + strings.Repeat("w", 7) + `\n"}`,
		`{"a":12345678901234567,"b":-123456789012345678,"c":1234567890.12345,"d":0.1234567890123456,"e":00}`,
		`{"event_time":"2026-11-22T02:55:54.12345678Z","event_time":"2026-11-22T02:55:54.123456789Z"}`,
		"{\"s\":\"" + strings.Repeat("x", 9) + "\x7f\x80\"}"} {
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
			got, left, derr := vtest.DecodeMsgpack(out)
			if derr != nil || len(left) != 0 {
				t.Fatalf("%q: msgpack does not decode: %v, %d left", js, derr, len(left))
			}
			if err := sameValue(got, want); err != nil {
				t.Fatalf("%q: %v", js, err)
			}
			if err := checkMinimal(out); err != nil {
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

// checkMinimal checks that the msgpack values in b use the smallest header for each length,
// count and integer (non-negative integers as uint): with sameValue, this pins the
// transcoder's output byte for byte.
func checkMinimal(b []byte) error {
	for len(b) > 0 {
		var err error
		if b, err = checkMinimalValue(b, 0); err != nil {
			return err
		}
	}
	return nil
}

func checkMinimalValue(b []byte, depth int) ([]byte, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("truncated")
	}
	if depth > maxJSONDepth+1 {
		return nil, fmt.Errorf("too deep")
	}
	c := b[0]
	// size returns the big-endian unsigned number of n bytes after the code.
	size := func(n int) (uint64, error) {
		if len(b) < 1+n {
			return 0, fmt.Errorf("truncated header % x", b)
		}
		var v uint64
		for _, x := range b[1 : 1+n] {
			v = v<<8 | uint64(x)
		}
		return v, nil
	}
	elems := func(count uint64, hdr, per int) ([]byte, error) {
		b := b[hdr:]
		var err error
		for range count * uint64(per) {
			if b, err = checkMinimalValue(b, depth+1); err != nil {
				return nil, err
			}
		}
		return b, nil
	}
	str := func(n uint64, hdr int) ([]byte, error) {
		if uint64(len(b)-hdr) < n {
			return nil, fmt.Errorf("truncated str")
		}
		return b[hdr+int(n):], nil
	}
	// min[c] is the smallest value the code c may carry (ints: the largest magnitude bound).
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return b[1:], nil
	case c&0xf0 == 0x80:
		return elems(uint64(c&0x0f), 1, 2)
	case c&0xf0 == 0x90:
		return elems(uint64(c&0x0f), 1, 1)
	case c&0xe0 == 0xa0:
		return str(uint64(c&0x1f), 1)
	case c == 0xcb:
		if len(b) < 9 {
			return nil, fmt.Errorf("truncated float")
		}
		return b[9:], nil
	}
	type form struct {
		n    int    // header bytes after the code
		min  uint64 // smallest value (or magnitude, for negative ints) the form may carry
		kind byte   // 'u' uint, 'i' negative int, 's' str, 'a' array, 'm' map
	}
	forms := map[byte]form{
		0xcc: {1, 1 << 7, 'u'}, 0xcd: {2, 1 << 8, 'u'}, 0xce: {4, 1 << 16, 'u'}, 0xcf: {8, 1 << 32, 'u'},
		0xd0: {1, 33, 'i'}, 0xd1: {2, 1<<7 + 1, 'i'}, 0xd2: {4, 1<<15 + 1, 'i'}, 0xd3: {8, 1<<31 + 1, 'i'},
		0xd9: {1, 32, 's'}, 0xda: {2, 1 << 8, 's'}, 0xdb: {4, 1 << 16, 's'},
		0xdc: {2, 16, 'a'}, 0xdd: {4, 1 << 16, 'a'}, 0xde: {2, 16, 'm'}, 0xdf: {4, 1 << 16, 'm'},
	}
	f, ok := forms[c]
	if !ok {
		return nil, fmt.Errorf("unexpected code %#x", c)
	}
	v, err := size(f.n)
	if err != nil {
		return nil, err
	}
	if f.kind == 'i' {
		// Sign-extend, then take the magnitude.
		shift := 64 - 8*f.n
		v = uint64(-(int64(v<<shift) >> shift))
		if int64(v) <= 0 && v != 1<<63 {
			return nil, fmt.Errorf("code %#x carries a non-negative int", c)
		}
	}
	if v < f.min {
		return nil, fmt.Errorf("code %#x for %d: a smaller form fits", c, v)
	}
	switch f.kind {
	case 's':
		return str(v, 1+f.n)
	case 'a':
		return elems(v, 1+f.n, 1)
	case 'm':
		return elems(v, 1+f.n, 2)
	}
	return b[1+f.n:], nil
}

func TestCheckMinimal(t *testing.T) {
	for _, good := range [][]byte{{0x00}, {0x7f}, {0xe0}, {0xcc, 0x80}, {0xcd, 0x01, 0x00}, {0xd0, 0xdf},
		{0xd1, 0xff, 0x7f}, {0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0}, appendMsgpackString(nil, strings.Repeat("x", 32)),
		{0x81, 0xa1, 'a', 0x90}} {
		if err := checkMinimal(good); err != nil {
			t.Errorf("% x: %v", good, err)
		}
	}
	for _, bad := range [][]byte{{0xcc, 0x7f}, {0xcd, 0x00, 0xff}, {0xd0, 0xe0}, {0xd0, 0x01}, {0xd1, 0xff, 0x80},
		{0xd9, 0x1f}, {0xdc, 0x00, 0x0f}, {0xde, 0x00, 0x00}, {0xc4, 0x00}, {0x81, 0xa1}} {
		if err := checkMinimal(bad); err == nil {
			t.Errorf("% x: accepted", bad)
		}
	}
}

// TestTranscodeStringFastPath checks keys and values of every length up to 300 bytes (the fixstr
// limit 31/32 and the str8 limit 255/256 included), plain or with an escape, a control byte or
// a non-ASCII byte at different places, with the input ending right after the record or not,
// into buffers with and without spare capacity: the output must be the msgpack str of the
// decoded string, byte for byte.
func TestTranscodeStringFastPath(t *testing.T) {
	var tr jsonTranscoder
	run := func(js string, want []byte) {
		t.Helper()
		for _, pad := range []string{"", "\n" + strings.Repeat(`{"next":1}`, 8)} {
			for _, lc := range [][2]int{{0, 0}, {0, 1}, {3, 40}, {0, 1 << 16}} {
				dst := make([]byte, lc[0], lc[1])
				out, rest, _, err := tr.appendRecord(dst, []byte(js+pad))
				if want == nil {
					if err == nil {
						t.Fatalf("%q: no error", js)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%q: %v", js, err)
				}
				if !bytes.Equal(out[len(dst):], want) {
					t.Fatalf("%q (pad %d, cap %d):\n got % x\nwant % x", js, len(pad), cap(dst), out[len(dst):], want)
				}
				if string(rest) != strings.TrimPrefix(pad, "\n") {
					t.Fatalf("%q: rest %q", js, rest)
				}
			}
		}
	}
	for n := range 301 {
		plain := strings.Repeat("abcdefghij", 31)[:n]
		// A plain string, as a value and as a key.
		run(`{"k":"`+plain+`"}`, appendMsgpackString([]byte{0x81, 0xa1, 'k'}, plain))
		run(`{"`+plain+`":1}`, append(appendMsgpackString([]byte{0x81}, plain), 0x01))
		run(`{"a":[1,"`+plain+`"]}`, appendMsgpackString([]byte{0x81, 0xa1, 'a', 0x92, 0x01}, plain))
		for _, at := range []int{0, 1, 7, 8, 9, 15, 16, 23, 24, 30, 31, 32, 33, 254, 255, 256} {
			if at > n {
				continue
			}
			for _, c := range []struct{ raw, dec string }{{`\n`, "\n"}, {`\"`, `"`}, {`\u00e9`, "é"}, {"é", "é"},
				{"\xff", "\ufffd"}, {"\x7f", "\x7f"}, {"\x01", ""}} {
				s := plain[:at] + c.raw + plain[at:]
				var want []byte
				if c.dec != "" {
					want = append(appendMsgpackString([]byte{0x81}, plain[:at]+c.dec+plain[at:]), 0xc3)
				}
				run(`{"`+s+`":true}`, want)
			}
		}
	}
	// Unterminated strings, at the end of the input and not.
	for n := range 40 {
		s := strings.Repeat("x", n)
		for _, js := range []string{`{"` + s, `{"k":"` + s, `{"k":"` + s + `\`, `{"` + s + `\"`} {
			for _, pad := range []string{"", strings.Repeat(" ", 40)} {
				if out, _, _, err := tr.appendRecord([]byte("x"), []byte(js+pad)); err == nil || string(out) != "x" {
					t.Fatalf("%q: %v %q", js+pad, err, out)
				}
			}
		}
	}
}

// TestTranscodeNumbers checks the number fast paths byte for byte against strconv: integers up
// to the 18 digits of the fast path and past them, leading zeros, and numbers with a fraction
// of up to 15 digits in all (the fast path) and more.
func TestTranscodeNumbers(t *testing.T) {
	var tr jsonTranscoder
	lits := []string{"0", "-0", "1", "9", "10", "127", "128", "255", "256", "65535", "65536", "4294967295",
		"4294967296", "-1", "-32", "-33", "-128", "-129", "-32768", "-32769", "-2147483648", "-2147483649",
		"99999999999999999", "999999999999999999", "1000000000000000000", "9223372036854775807",
		"9223372036854775808", "18446744073709551615", "18446744073709551616", "-999999999999999999",
		"-9223372036854775808", "-9223372036854775809", "0.0", "-0.0", "0.5", "19.99", "-19.99",
		"0.000000000000001", "0.0000000000000001", "123456789012345", "12345678901234.5", "1234567890123456.5",
		"1.23456789012345", "1.234567890123456", "9007199254740993.0", "0.1", "0.30000000000000004",
		"1e0", "1E+2", "1e-2", "0e5", "-0e5", "1.5e3", "123456789012345678901234567890"}
	for _, lit := range lits {
		var want []byte
		if !strings.ContainsAny(lit, ".eE") {
			if v, err := strconv.ParseInt(lit, 10, 64); err == nil {
				want = appendMsgpackInt(nil, v)
			} else if v, err := strconv.ParseUint(lit, 10, 64); err == nil {
				want = appendMsgpackUint(nil, v)
			}
		}
		if want == nil {
			f, _ := strconv.ParseFloat(lit, 64)
			want = binary.BigEndian.AppendUint64([]byte{0xcb}, math.Float64bits(f))
		}
		for _, js := range []string{`{"n":` + lit + `}`, `{"n":` + lit + `,"m":0}`, `{"n":[` + lit + `]}`} {
			out, _, _, err := tr.appendRecord(nil, []byte(js))
			if err != nil {
				t.Fatalf("%s: %v", js, err)
			}
			got := out[3:]
			if js[5] == '[' {
				got = got[1:]
			}
			if !bytes.HasPrefix(got, want) {
				t.Errorf("%s: got % x, want % x", js, got, want)
			}
		}
	}
	for _, bad := range []string{"01", "-01", "00", "-", "--1", "1.", "-.5", ".5", "1.e5", "1e", "1e+", "0x10",
		"1.5.5", "+1", "012345678901234567890", "1.5e", "-a"} {
		for _, js := range []string{`{"n":` + bad + `}`, `{"n":` + bad} {
			if _, _, _, err := tr.appendRecord(nil, []byte(js)); err == nil {
				t.Errorf("%s: no error", js)
			}
		}
	}
}

// TestParseFixedTime checks the fixed-format time parser against the general one (time.Parse)
// on every one-byte change of a valid time and on random field values, valid or not, and that it
// does take the valid times.
func TestParseFixedTime(t *testing.T) {
	check := func(s string) {
		t.Helper()
		got := parseEventTime(appendMsgpackString(nil, s))
		if want := parseRFC3339([]byte(s)); got != want {
			t.Fatalf("%q: got %+v, want %+v", s, got, want)
		}
		if got.ok && s[19] == '.' { // time.Parse also takes a comma, the fast path does not
			if _, ok := parseFixedTime((*[30]byte)([]byte(s))); !ok {
				t.Fatalf("%q: not taken by the fast path", s)
			}
		}
	}
	base := "2024-02-29T23:59:59.999999999Z"
	for i := range len(base) {
		for c := range 256 {
			b := []byte(base)
			b[i] = byte(c)
			check(string(b))
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 200000 {
		s := fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d.%09dZ", r.IntN(10000), r.IntN(14), r.IntN(33),
			r.IntN(26), r.IntN(62), r.IntN(62), r.IntN(1e9))
		if r.IntN(2) == 0 {
			// Mostly valid: a year the forward protocol can carry.
			s = fmt.Sprintf("%04d", 1969+r.IntN(140)) + s[4:]
		}
		check(s)
	}
	for _, s := range []string{"1970-01-01T00:00:00.000000000Z", "2106-02-07T06:28:15.999999999Z",
		"2106-02-07T06:28:16.000000000Z", "1969-12-31T23:59:59.999999999Z", "0000-01-01T00:00:00.000000000Z",
		"0000-02-29T00:00:00.000000000Z", "9999-12-31T23:59:59.999999999Z", "2026-12-31T23:59:60.000000000Z",
		"2000-02-29T12:00:00.000000000Z", "1900-02-29T12:00:00.000000000Z", "2026-11-22T02:55:54.123456789z",
		"2026-11-22t02:55:54.123456789Z", "2026-11-22T02:55:54,123456789Z", "2026-11-22 02:55:54.123456789Z"} {
		check(s)
	}
	// Not the fixed layout (other lengths): the general parser, through the same entry point.
	for _, s := range []string{"2026-11-22T02:55:54.12345678Z", "2026-11-22T02:55:54.1Z", "2026-11-22T02:55:54Z",
		"2026-11-22T02:55:54.123456789+00:00", "2026-11-22T03:55:54.123456789+01:00", "2026-11-22T02:55:54.1234567890Z",
		"2026-11-22T02:55:54.12345678+00:00"} {
		got := parseEventTime(appendMsgpackString(nil, s))
		if want := parseRFC3339([]byte(s)); got != want || !got.ok {
			t.Errorf("%q: got %+v, want %+v", s, got, want)
		}
	}
}
