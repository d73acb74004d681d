package redact

import "fmt"

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
	ignore []string      // normalized names that are never secret
	minLen int           // length of the shortest name
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
		if ks.minLen == 0 || len(n) < ks.minLen {
			ks.minLen = len(n)
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
	if ks.minLen == 0 {
		ks.minLen = maxKeyLen + 1 // every name ignored: nothing matches
	}
	return ks, nil
}

// match reports whether key is secret. It normalizes the tail of key, backwards, into a stack
// buffer, so it does not allocate.
func (ks *keySet) match(key string) bool {
	// Most keys are rejected by their last significant byte alone.
	i := len(key) - 1
	for i >= 0 && (key[i] == '-' || key[i] == '_' || key[i] == '.' || key[i] == ' ') {
		i--
	}
	if i < 0 || !ks.lastByte(key[i]) {
		return false
	}
	var buf [maxKeyLen]byte
	n := 0
	whole := true // buf holds the whole normalized key
	for ; i >= 0; i-- {
		c := key[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		} else if c == '-' || c == '_' || c == '.' || c == ' ' {
			continue
		}
		if n == maxKeyLen {
			whole = false
			break
		}
		n++
		buf[maxKeyLen-n] = c
	}
	if n < ks.minLen {
		return false
	}
	norm := buf[maxKeyLen-n:]
	hit := false
	for _, name := range ks.byLast[norm[n-1]] {
		if len(name) <= n && string(norm[n-len(name):]) == name {
			hit = true
			break
		}
	}
	if !hit {
		return false
	}
	if whole {
		for _, ig := range ks.ignore {
			if string(norm) == ig {
				return false
			}
		}
	}
	return true
}

// lastByte reports whether a normalized key ending with the byte c (not yet lowercased) can be
// secret.
func (ks *keySet) lastByte(c byte) bool {
	if c >= 'A' && c <= 'Z' {
		c += 'a' - 'A'
	}
	return ks.byLast[c] != nil
}

// IsSecretKey reports whether values under key are secret: whether key, normalized (ASCII
// lowercased, '-', '_', '.' and ' ' dropped), ends with one of the secret names and is not
// ignored. It neither allocates nor counts. It always reports false when rule "key" is disabled.
func (r *Redactor) IsSecretKey(key string) bool {
	return r.keyOn && r.keys.match(key)
}
