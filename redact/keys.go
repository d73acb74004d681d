package redact

import (
	"fmt"
	"strings"
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
	// cached key is a copy, so an entry can never go stale.
	slot := &r.keyCache[keyCacheIndex(key)]
	if e := slot.Load(); e != nil && e.key == key {
		return e.secret
	}
	secret := r.keys.match(key)
	if len(key) <= maxKeyLen && slot.Load() == nil {
		slot.CompareAndSwap(nil, &keyEntry{key: strings.Clone(key), secret: secret})
	}
	return secret
}

// keyCacheSlots is the size of the key cache: more than the distinct keys of a typical
// service's records.
const keyCacheSlots = 512

// keyEntry is a cached answer of IsSecretKey.
type keyEntry struct {
	key    string
	secret bool
}

// keyCacheIndex spreads keys over the slots by their length and three of their bytes.
func keyCacheIndex(key string) uint {
	n := uint(len(key))
	h := n*0x9e3779b1 ^ uint(key[0])*0x85ebca6b ^ uint(key[n/2])*0xc2b2ae35 ^ uint(key[n-1])*0x27d4eb2f
	return (h ^ h>>15) % keyCacheSlots
}
