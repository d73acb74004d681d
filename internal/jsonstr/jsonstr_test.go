package jsonstr

import "testing"

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
