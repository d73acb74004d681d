package redact

import (
	"fmt"
	"strings"
	"sync/atomic"
)

// builtinKeys are the default secret key names, as documented in the package doc. Several are
// implied by others through suffix matching ("access_token" ends with "token"); they are listed
// so that ignoring the shorter name keeps them.
var builtinKeys = []string{
	"password", "passwords", "passwd", "pwd", "passphrase",
	"secret", "secrets", "client_secret", "secret_key", "secret_access_key",
	"token", "access_token", "refresh_token", "id_token",
	"api_key", "authorization", "proxy-authorization",
	"cookie", "cookies", "set-cookie",
	"session", "session_id",
	"private_key", "credential", "credentials",
	"signature", "sig",
	"account_key", "shared_access_key", "subscription_key", "functions_key", "master_key",
	"app_key", "application_key", "license_key",
}

// maxKeyLen bounds the length of a normalized name; it is the size of the stack buffer that
// IsSecretKey normalizes into.
const maxKeyLen = 64

// keySet matches keys against normalized names by suffix, with exact exemptions.
type keySet struct {
	byLast [256][]string // normalized names by their last byte
	maxLen [256]int      // length of the longest name by last byte
	pairs  [1024]uint64  // bit set of the last two bytes of names with 2 bytes or more
	short  [256]bool     // names of 1 byte, by that byte
	ignore []string      // normalized names that are never secret
}

// Normalization tables: isKeySep marks the bytes normalization drops, lower lowercases ASCII.
var (
	isKeySep [256]bool
	lower    [256]byte
)

func init() {
	for c := 0; c < 256; c++ {
		lower[c] = byte(c)
		if c >= 'A' && c <= 'Z' {
			lower[c] = byte(c) + 'a' - 'A'
		}
	}
	for _, c := range []byte("-_. ") {
		isKeySep[c] = true
	}
}

// normalize lowercases ASCII letters and drops '-', '_', '.' and ' '.
func normalize(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		case c == '-' || c == '_' || c == '.' || c == ' ':
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func newKeySet(keys, ignore []string) (keySet, error) {
	var ks keySet
	ign := make(map[string]bool)
	for i, k := range ignore {
		n := normalize(k)
		if n == "" {
			return ks, fmt.Errorf("redact: Options.IgnoreKeys[%d] %q is empty after normalization", i, k)
		}
		if len(n) > maxKeyLen {
			return ks, fmt.Errorf("redact: Options.IgnoreKeys[%d] %q is longer than %d bytes after normalization", i, k, maxKeyLen)
		}
		if !ign[n] {
			ign[n] = true
			ks.ignore = append(ks.ignore, n)
		}
	}
	seen := make(map[string]bool)
	add := func(n string) {
		if seen[n] {
			return
		}
		seen[n] = true
		last := n[len(n)-1]
		ks.byLast[last] = append(ks.byLast[last], n)
		ks.maxLen[last] = max(ks.maxLen[last], len(n))
		if len(n) == 1 {
			ks.short[last] = true
		} else {
			p := uint(n[len(n)-2])<<8 | uint(last)
			ks.pairs[p/64] |= 1 << (p % 64)
		}
	}
	for _, k := range builtinKeys {
		if n := normalize(k); !ign[n] {
			add(n)
		}
	}
	for i, k := range keys {
		n := normalize(k)
		if n == "" {
			return ks, fmt.Errorf("redact: Options.Keys[%d] %q is empty after normalization", i, k)
		}
		if len(n) > maxKeyLen {
			return ks, fmt.Errorf("redact: Options.Keys[%d] %q is longer than %d bytes after normalization", i, k, maxKeyLen)
		}
		if ign[n] {
			return ks, fmt.Errorf("redact: Options.Keys[%d] %q is also in Options.IgnoreKeys", i, k)
		}
		add(n)
	}
	return ks, nil
}

// match reports whether key is secret. It rejects most keys by their last two significant
// bytes, then normalizes, backwards into a stack buffer, only as many bytes as the longest name with
// that last byte has; so it does not allocate.
func (ks *keySet) match(key string) bool {
	i := len(key) - 1
	for i >= 0 && isKeySep[key[i]] {
		i--
	}
	if i < 0 {
		return false
	}
	last := lower[key[i]]
	names := ks.byLast[last]
	if names == nil {
		return false
	}
	if !ks.short[last] {
		j := i - 1
		for j >= 0 && isKeySep[key[j]] {
			j--
		}
		if j < 0 {
			return false
		}
		p := uint(lower[key[j]])<<8 | uint(last)
		if ks.pairs[p/64]&(1<<(p%64)) == 0 {
			return false
		}
	}
	var buf [maxKeyLen]byte
	n := 0
	for limit := ks.maxLen[last]; i >= 0 && n < limit; i-- {
		if c := key[i]; !isKeySep[c] {
			n++
			buf[maxKeyLen-n] = lower[c]
		}
	}
	norm := buf[maxKeyLen-n:]
	for _, name := range names {
		if len(name) <= n && string(norm[n-len(name):]) == name {
			return len(ks.ignore) == 0 || !ks.ignored(key)
		}
	}
	return false
}

// ignored reports whether the normalized key equals an ignored name.
func (ks *keySet) ignored(key string) bool {
	var buf [maxKeyLen]byte
	n := 0
	for i := 0; i < len(key); i++ {
		if c := key[i]; !isKeySep[c] {
			if n == maxKeyLen {
				return false // longer than any name
			}
			buf[n] = lower[c]
			n++
		}
	}
	for _, ig := range ks.ignore {
		if string(buf[:n]) == ig {
			return true
		}
	}
	return false
}

// lastByte reports whether a normalized key ending with the byte c (not yet lowercased) can be
// secret.
func (ks *keySet) lastByte(c byte) bool {
	return ks.byLast[lower[c]] != nil
}

// IsSecretKey reports whether values under key are secret: whether key, normalized (ASCII
// lowercased, '-', '_', '.' and ' ' dropped), ends with one of the secret names and is not
// ignored. It neither allocates nor counts. It always reports false when rule "key" is disabled.
func (r *Redactor) IsSecretKey(key string) bool {
	if !r.keyOn || key == "" {
		return false
	}
	// The same few keys come back in every record: their answers are cached in a small
	// direct-mapped table, one key per slot, first come first kept (so a slot never thrashes
	// and a miss costs no allocation: it falls back to match). Strings are immutable and the
	// cached key is a copy, so an entry can never go stale. A key of up to 16 bytes is
	// compared by two 8-byte words, longer ones by their bytes.
	var lo, hi uint64 // keyWords(key), by hand: the call is not inlined
	switch n := len(key); {
	case n >= 8:
		lo, hi = le64(key, 0), le64(key, n-8)
	case n >= 4:
		lo, hi = le32(key, 0), le32(key, n-4)
	default:
		lo = uint64(key[0]) | uint64(key[n/2])<<8 | uint64(key[n-1])<<16
	}
	slot := &r.keyCache[keyCacheIndex(lo, hi, len(key))]
	if e := slot.Load(); e != nil && e.lo == lo && e.hi == hi && len(e.key) == len(key) && len(key) <= 16 {
		return e.secret
	}
	return r.isSecretKey(key, lo, hi, slot)
}

// isSecretKey is IsSecretKey for a key not found at once in its cache slot.
func (r *Redactor) isSecretKey(key string, lo, hi uint64, slot *atomic.Pointer[keyEntry]) bool {
	if e := slot.Load(); e != nil && e.lo == lo && e.hi == hi && e.key == key {
		return e.secret
	}
	secret := r.keys.match(key)
	if len(key) <= maxKeyLen && slot.Load() == nil {
		slot.CompareAndSwap(nil, &keyEntry{key: strings.Clone(key), lo: lo, hi: hi, secret: secret})
	}
	return secret
}

// keyCacheSlots is the size of the key cache: more than the distinct keys of a typical
// service's records.
const (
	keyCacheBits  = 9
	keyCacheSlots = 1 << keyCacheBits
)

// keyEntry is a cached answer of IsSecretKey.
type keyEntry struct {
	key    string
	lo, hi uint64 // keyWords(key)
	secret bool
}

// keyWords returns two words that, with its length, identify a non-empty key of up to 16
// bytes: its first 8 and last 8 bytes (overlapping when shorter than 16; for shorter than 8
// bytes, its first 4 and last 4, or its bytes).
func keyWords(key string) (lo, hi uint64) {
	switch n := len(key); {
	case n >= 8:
		return le64(key, 0), le64(key, n-8)
	case n >= 4:
		return le32(key, 0), le32(key, n-4)
	default: // 1 to 3 bytes: all of them
		return uint64(key[0]) | uint64(key[n/2])<<8 | uint64(key[n-1])<<16, 0
	}
}

// le64 and le32 read 8 and 4 bytes of s at i, little-endian (one load where the compiler
// can).
func le64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func le32(s string, i int) uint64 {
	s = s[i : i+4]
	return uint64(uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24)
}

// keyCacheIndex spreads keys over the slots by their words and length.
func keyCacheIndex(lo, hi uint64, n int) uint {
	h := (lo ^ hi>>3 ^ uint64(n)) * 0x9e3779b97f4a7c15
	return uint(h >> (64 - keyCacheBits))
}
