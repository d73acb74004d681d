package bridge

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// The scanner is checked against encoding/json, the oracle: it accepts exactly what
// json.Valid accepts, and decodes strings exactly as json.Unmarshal does.

var scannerCases = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e-3`, `true`, `false`, `null`, ` {"a" : [1, 2, {"b": null}] } `,
	`{"a":"\u00e9\ud83d\ude80\n\"\\\/"}`, `"\ud800"`, `"\udc00\ud800x"`, `"\ud83d\u0041"`,
	`{"a":1,}`, `[1,]`, `{"a"}`, `{"a":}`, `{,}`, `[,1]`, `01`, `1.`, `.5`, `-`, `1e`, `1e+`, `+1`,
	`"\x"`, "\"a\tb\"", `"\u12"`, `"\u12zz"`, `tru`, `nul`, `{"a":1}x`, `{"a":1} {}`, `"abc`, `[`, `{`,
	"\"\xff\xfe\"", "\"caf\xc3\xa9\"", "\"\xe2\x82\"", `[[[[[[[[[[]]]]]]]]]]`, `[[[[[[[[[[]]]]]]]]]`, ``, ` `,
	`{"a":[1,2,3],"b":{"c":{"d":"e"}},"f":-1.25E+10}`, `{"a" 1}`, `{1:2}`, `[1 2]`, `{"a":1 "b":2}`,
}

func TestScannerMatchesEncodingJSON(t *testing.T) {
	for _, c := range scannerCases {
		checkScanner(t, []byte(c))
	}
	deep := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	checkScanner(t, []byte(deep))
	checkScanner(t, []byte("["+deep+"]"))
}

func FuzzScanner(f *testing.F) {
	for _, c := range scannerCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkScanner(t, b) })
}

func checkScanner(t *testing.T, b []byte) {
	t.Helper()
	// nextSpecial, word by word, finds what a byte-by-byte loop finds.
	for _, from := range []int{0, len(b) / 3} {
		want, wantHi := from, false
		for want < len(b) && !special[b[want]] {
			wantHi = wantHi || b[want] >= 0x80
			want++
		}
		if got, hi := nextSpecial(b, from); got != want || hi != wantHi {
			t.Fatalf("nextSpecial(%q, %d) = %d, %v; want %d, %v", b, from, got, hi, want, wantHi)
		}
	}
	if q := skipWS(b, 0); q < len(b) && b[q] == '"' {
		_, e1, err1 := scanString(b, q)
		_, e2, _, err2 := scanUnescape(nil, b, q)
		if (err1 == nil) != (err2 == nil) || err1 == nil && e1 != e2 {
			t.Fatalf("%q: scanString ends at %d (%v), scanUnescape at %d (%v)", b, e1, err1, e2, err2)
		}
	}
	if got, want := validJSON(b), json.Valid(b); got != want {
		t.Fatalf("validJSON(%q) = %v, json.Valid says %v", b, got, want)
	}
	if !json.Valid(b) {
		return
	}
	// Every string token decodes as encoding/json decodes it.
	p := skipWS(b, 0)
	if p < len(b) && b[p] == '"' {
		s, end, err := scanString(b, p)
		if err != nil || skipWS(b, end) != len(b) {
			t.Fatalf("scanString(%q): %v, end %d", b, err, end)
		}
		var want string
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		got, invalid := appendUnescaped(nil, s)
		if string(got) != want {
			t.Fatalf("appendUnescaped(%q) = %q, json.Unmarshal gives %q", b, got, want)
		}
		// scanUnescape: the same in one pass.
		one, oneEnd, oneInvalid, err := scanUnescape([]byte("prefix"), b, p)
		if err != nil || oneEnd != end || string(one) != "prefix"+want || oneInvalid != invalid {
			t.Fatalf("scanUnescape(%q) = %q, %d, %v, %v; want %q, %d, %v", b, one, oneEnd, oneInvalid, err, want, end, invalid)
		}
		if invalid && !strings.Contains(string(got), "\uFFFD") {
			t.Fatalf("appendUnescaped(%q): invalid without a U+FFFD", b)
		}
		if invalid && utf8.Valid(s.raw) && !strings.Contains(strings.ToLower(string(s.raw)), `\ud`) {
			t.Fatalf("appendUnescaped(%q): invalid, but the input is valid UTF-8 without surrogate escapes", b)
		}
		// appendEscaped gives the string back through encoding/json.
		var back string
		quoted := append(append([]byte{'"'}, appendEscaped(nil, got)...), '"')
		if err := json.Unmarshal(quoted, &back); err != nil || back != want {
			t.Fatalf("appendEscaped(%q) = %s: %v, decodes to %q", got, quoted, err, back)
		}
	}
	// An object's members are what encoding/json sees.
	if p < len(b) && b[p] == '{' {
		ms, end, err := scanObject(b, 0, nil)
		if err != nil || skipWS(b, end) != len(b) {
			t.Fatalf("scanObject(%q): %v", b, err)
		}
		var want map[string]json.RawMessage
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		got := map[string]json.RawMessage{}
		for _, m := range ms {
			got[unescapeString(m.key)] = m.val
		}
		if len(got) != len(want) {
			t.Fatalf("scanObject(%q): %d members, want %d", b, len(got), len(want))
		}
		for k, v := range want {
			if string(got[k]) != strings.TrimSpace(string(v)) && !json.Valid(got[k]) {
				t.Fatalf("scanObject(%q): member %q = %s, want %s", b, k, got[k], v)
			}
		}
	}
}

func TestAppendEscaped(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := string(appendEscaped(nil, []byte(in))); got != want {
			t.Errorf("appendEscaped(%q) = %s, want %s", in, got, want)
		}
	}
	f(`plain`, `plain`)
	f("a\"b\\c", `a\"b\\c`)
	f("line\nnext\r\ttab", `line\nnext\r\ttab`)
	f("\x00\x1f\x7f", `\u0000\u001f`+"\x7f")
	f("Grüße 東京 🚀", "Grüße 東京 🚀")
	f("<&>", "<&>") // no HTML escaping: VictoriaLogs reads UTF-8
}
