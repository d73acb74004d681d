package jsonstr

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"testing"
)

// FuzzNeedsEscape8 checks the word-at-a-time test against the byte-by-byte rule.
func FuzzNeedsEscape8(f *testing.F) {
	f.Add(uint64(0x6161616161616161))
	f.Add(uint64(0x2261616161616161))
	f.Add(uint64(0x1f20212223242526))
	f.Add(uint64(0x807f7e5c5b5a5958))
	f.Fuzz(func(t *testing.T, x uint64) {
		want := false
		for i := 0; i < 8; i++ {
			c := byte(x >> (8 * i))
			if c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
				want = true
			}
		}
		if got := NeedsEscape8(x); got != want {
			t.Fatalf("NeedsEscape8(%#x) = %v, want %v", x, got, want)
		}
	})
}

// TestNeedsEscape8EveryByte puts every byte value at every position of an otherwise plain word.
func TestNeedsEscape8EveryByte(t *testing.T) {
	for pos := 0; pos < 8; pos++ {
		for c := 0; c < 256; c++ {
			x := uint64(0x6161616161616161)
			x &^= 0xff << (8 * pos)
			x |= uint64(c) << (8 * pos)
			want := c < 0x20 || c == '"' || c == '\\' || c >= 0x80
			if got := NeedsEscape8(x); got != want {
				t.Fatalf("byte %#x at %d: got %v, want %v", c, pos, got, want)
			}
		}
	}
}

// cleanRef is Clean byte by byte.
func cleanRef(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}

// TestCleanEveryPosition puts every byte value at every position of plain strings of 0 to 24
// bytes (the short-string padding, the whole words and the overlapping last word).
func TestCleanEveryPosition(t *testing.T) {
	for n := 0; n <= 24; n++ {
		plain := make([]byte, n)
		for i := range plain {
			plain[i] = 'a' + byte(i%26)
		}
		if !Clean(string(plain)) {
			t.Fatalf("%q: not clean", plain)
		}
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := []byte(string(plain))
				b[pos] = byte(c)
				if got, want := Clean(string(b)), cleanRef(string(b)); got != want {
					t.Fatalf("%q: Clean = %v, want %v", b, got, want)
				}
			}
		}
	}
}

// FuzzClean checks Clean against the byte-by-byte rule, and that AppendEscaped leaves a clean
// string as it is.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"", "a", "order created", "ord-8f14e45fceea", "tab\there", `q"`, "\xff", "é", "0123456789abcdef\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := cleanRef(s)
		if got := Clean(s); got != want {
			t.Fatalf("Clean(%q) = %v, want %v", s, got, want)
		}
		out := string(AppendEscaped(nil, s, false))
		if want && out != s {
			t.Fatalf("AppendEscaped(%q) = %q, want it unchanged", s, out)
		}
	})
}

func BenchmarkClean(b *testing.B) {
	for _, s := range []string{"ok", "amount", "order_id", "order created", "ord-8f14e45fceea", "a longer message of forty-two bytes or so"} {
		b.Run(strconv.Itoa(len(s)), func(b *testing.B) {
			for b.Loop() {
				if !Clean(s) {
					b.Fatal(s)
				}
			}
		})
	}
}

// TestSpecial8 checks Special8 against the byte-by-byte rule: the lowest marked byte is the
// first that is not plain, whatever follows it.
func TestSpecial8(t *testing.T) {
	plainByte := func(c byte) bool { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\' }
	r := rand.New(rand.NewPCG(3, 4))
	plainBytes := []byte{}
	for c := range 256 {
		if plainByte(byte(c)) {
			plainBytes = append(plainBytes, byte(c))
		}
	}
	check := func(w [8]byte) {
		t.Helper()
		want := 8
		for i, c := range w {
			if !plainByte(c) {
				want = i
				break
			}
		}
		m := Special8(binary.LittleEndian.Uint64(w[:]))
		got := bits.TrailingZeros64(m) / 8
		if got != want || m&^0x8080808080808080 != 0 {
			t.Fatalf("% x: first special byte %d, want %d (mask %#x)", w, got, want, m)
		}
	}
	for at := range 8 {
		for c := range 256 {
			for range 64 {
				var w [8]byte
				for i := range w {
					switch {
					case i < at:
						w[i] = plainBytes[r.IntN(len(plainBytes))]
					case i == at:
						w[i] = byte(c)
					default:
						w[i] = byte(r.Uint32())
					}
				}
				check(w)
			}
		}
	}
	for range 100000 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], r.Uint64())
		check(w)
	}
}
