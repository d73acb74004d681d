package redact

import (
	"strings"
	"unsafe"
)

// Byte classes used by the scanner.
var (
	isWord     [256]bool // [A-Za-z0-9_]: a word is a maximal run of these
	isKeyByte  [256]bool // bytes of a key in key=value: [A-Za-z0-9_.-]
	isB64URL   [256]bool // base64url alphabet: [A-Za-z0-9_-]
	isB64      [256]bool // standard base64 alphabet without padding: [A-Za-z0-9+/]
	isToken    [256]bool // RFC 6750 b64token without padding: [A-Za-z0-9-._~+/]
	isValEnd   [256]bool // bytes that end an unquoted value in key=value
	isUpperNum [256]bool // [A-Z0-9]
)

func init() {
	for c := 0; c < 256; c++ {
		b := byte(c)
		alnum := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
		isWord[c] = alnum || b == '_'
		isKeyByte[c] = alnum || b == '_' || b == '.' || b == '-'
		isB64URL[c] = alnum || b == '_' || b == '-'
		isB64[c] = alnum || b == '+' || b == '/'
		isToken[c] = alnum || strings.IndexByte("-._~+/", b) >= 0
		isUpperNum[c] = b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
	}
	for _, b := range []byte(" \t\n\r\v\f&;,\"'`<>)]}\\") {
		isValEnd[b] = true
	}
}

// String returns s with every secret it finds replaced by the mask (see the package doc for the
// rules), and whether it replaced anything; it counts each replacement by rule. When nothing
// matches it returns s itself and false without allocating. Only the secret part of a match is
// replaced: "password=hunter2" becomes "password=[REDACTED]", "Bearer <token>" keeps "Bearer".
// Replacements never split a UTF-8 sequence, so valid UTF-8 stays valid.
func (r *Redactor) String(s string) (string, bool) {
	sc := scanner{r: r, s: s}
	m, ok := sc.next(0)
	if !ok {
		return s, false
	}
	b := make([]byte, 0, len(s)+len(r.mask)+8)
	last := 0
	for ok {
		b = append(b, s[last:m.start]...)
		b = r.appendMask(b, m.rule, s[m.start:m.end])
		r.counts[m.rule].Add(1)
		last = m.end
		m, ok = sc.next(last)
	}
	b = append(b, s[last:]...)
	return unsafe.String(unsafe.SliceData(b), len(b)), true
}

// match is the secret s[start:end], found by rule.
type match struct {
	start, end int
	rule       rule
}

// scanner finds secrets in s, left to right.
type scanner struct {
	r *Redactor
	s string
	// jwtEnd is the end of the base64url run of the last failed JWT candidate: a candidate
	// starting before it would fail the same way, so it is not tried (keeps the scan linear).
	jwtEnd int
}

// Classes of bytes for the main loop of the scanner.
const (
	clsOther   = iota // skipped
	clsWord           // starts a word that cannot start a secret: the word is skipped
	clsTrigger        // starts a word that may start a secret
	clsSep            // '=' or ':': key=value, "://"
	clsDash           // '-': "-----BEGIN"
)

var byteClass [256]uint8

func init() {
	for c := 0; c < 256; c++ {
		if isWord[c] {
			byteClass[c] = clsWord
		}
	}
	for _, c := range []byte("AeBbgxsrw23456") {
		byteClass[c] = clsTrigger
	}
	byteClass['='] = clsSep
	byteClass[':'] = clsSep
	byteClass['-'] = clsDash
}

// next returns the first match that starts at or after i. The common path is a loop over
// bytes that skips words and looks closer only at a few trigger bytes.
func (sc *scanner) next(i int) (match, bool) {
	s := sc.s
	for i < len(s) {
		switch byteClass[s[i]] {
		case clsOther:
			i++
		case clsWord:
			i = wordEnd(s, i+1)
		case clsTrigger:
			e := wordEnd(s, i+1)
			if m, ok := sc.word(i, e); ok {
				return m, true
			}
			i = e
		case clsSep:
			if m, ok := sc.sep(i); ok {
				return m, true
			}
			i++
		default: // clsDash
			if i+1 < len(s) && s[i+1] == '-' {
				if m, ok := sc.pem(i); ok {
					return m, true
				}
			}
			i++
		}
	}
	return match{}, false
}

// wordEnd returns the end of the word starting at i.
func wordEnd(s string, i int) int {
	for i < len(s) && isWord[s[i]] {
		i++
	}
	return i
}

// runEnd returns the end of the run of bytes in class starting at i.
func runEnd(s string, i int, class *[256]bool) int {
	for i < len(s) && class[s[i]] {
		i++
	}
	return i
}

// hasSuffixFold reports whether s ends with the lowercase ASCII suffix, ignoring ASCII case.
func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && hasPrefixFold(s[len(s)-len(suffix):], suffix)
}

// hasPrefixFold reports whether s starts with the lowercase ASCII prefix, ignoring ASCII case.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

// word tries the token rules on the word s[i:e]. Cheap checks of length and second bytes
// come first: most words fail them.
func (sc *scanner) word(i, e int) (match, bool) {
	s, r := sc.s, sc.r
	n := e - i
	switch s[i] {
	case 'A':
		if n == 20 && (s[i+1] == 'K' || s[i+1] == 'S') && s[i+2] == 'I' && r.on(ruleAWSAccessKey) {
			return sc.awsAccessKey(i)
		}
	case 'e':
		if n >= 10 && s[i+1] == 'y' && s[i+2] == 'J' && i >= sc.jwtEnd && r.on(ruleJWT) {
			return sc.jwt(i)
		}
	case 'B', 'b':
		if n == 6 && r.on(ruleBearer) && hasPrefixFold(s[i:], "bearer") {
			return sc.bearer(e)
		}
		if n == 5 && r.on(ruleBasic) && hasPrefixFold(s[i:], "basic") {
			return sc.basic(e)
		}
	case 'g':
		if n >= 33 && (s[i+1] == 'h' || s[i+1] == 'i') && r.on(ruleGitHub) {
			return sc.github(i, e)
		}
	case 'x':
		if n == 4 && e < len(s) && s[e] == '-' && r.on(ruleSlack) {
			return sc.slack(i)
		}
	case 's', 'r':
		if n >= 18 && s[i+1] == 'k' && s[i+2] == '_' && r.on(ruleStripe) {
			return sc.stripe(i, e)
		}
	case 'w':
		if n >= 26 && s[i+1] == 'h' && r.on(ruleStripe) {
			return sc.stripe(i, e)
		}
	default: // '2'..'6'
		if (n >= 13 && n <= 19 || n == 4 && e+1 < len(s) && (s[e] == ' ' || s[e] == '-')) && r.on(ruleCard) {
			return sc.card(i, e)
		}
	}
	return match{}, false
}

// awsAccessKey matches an AWS access key id: AKIA (long-term) or ASIA (temporary) and 16 more
// [A-Z0-9], as a whole word.
func (sc *scanner) awsAccessKey(i int) (match, bool) {
	s := sc.s
	if len(s)-i < 20 || !(strings.HasPrefix(s[i:], "AKIA") || strings.HasPrefix(s[i:], "ASIA")) {
		return match{}, false
	}
	end := runEnd(s, i, &isUpperNum)
	if end-i != 20 || end < len(s) && isWord[s[end]] {
		return match{}, false
	}
	return match{i, end, ruleAWSAccessKey}, true
}

// jwt matches a JSON Web Token: a base64url header starting "eyJ", '.', a payload starting
// "eyJ", then an optional signature; up to two more segments (JWE) are included.
func (sc *scanner) jwt(i int) (match, bool) {
	s := sc.s
	if !strings.HasPrefix(s[i:], "eyJ") {
		return match{}, false
	}
	j := runEnd(s, i, &isB64URL)
	if j-i < 10 || j+1 >= len(s) || s[j] != '.' || !strings.HasPrefix(s[j+1:], "eyJ") {
		sc.jwtEnd = j
		return match{}, false
	}
	end := runEnd(s, j+1, &isB64URL)
	if end-(j+1) < 4 {
		sc.jwtEnd = j
		return match{}, false
	}
	for n := 0; n < 3 && end+1 < len(s) && s[end] == '.' && isB64URL[s[end+1]]; n++ {
		end = runEnd(s, end+1, &isB64URL)
	}
	return match{i, end, ruleJWT}, true
}

// bearer matches the credentials after the word "Bearer" (any case) and blanks. To tell a
// token from prose ("Bearer authentication failed") it needs at least 8 bytes and a digit or
// one of "-._~+/=", or at least 16 bytes in mixed case.
func (sc *scanner) bearer(i int) (match, bool) {
	s := sc.s
	j := i
	for j < len(s) && isSpace(s[j]) {
		j++
	}
	if j == i {
		return match{}, false
	}
	end := runEnd(s, j, &isToken)
	for end < len(s) && s[end] == '=' {
		end++
	}
	if end-j < 8 || end < len(s) && isWord[s[end]] {
		return match{}, false
	}
	var digit, sym, upper, lower bool
	for k := j; k < end; k++ {
		switch c := s[k]; {
		case isDigit(c):
			digit = true
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			upper = true
		default:
			sym = true
		}
	}
	if !(digit || sym || end-j >= 16 && upper && lower) {
		return match{}, false
	}
	return match{j, end, ruleBearer}, true
}

// basic matches the credentials after the word "Basic" (any case) and blanks: standard base64
// that decodes to something containing ':' (user:password).
func (sc *scanner) basic(i int) (match, bool) {
	s := sc.s
	j := i
	for j < len(s) && isSpace(s[j]) {
		j++
	}
	if j == i {
		return match{}, false
	}
	end := runEnd(s, j, &isB64)
	n := end - j
	for k := 0; k < 2 && end < len(s) && s[end] == '='; k++ {
		end++
	}
	if n < 4 || end < len(s) && (isWord[s[end]] || s[end] == '=') || !b64HasColon(s[j:j+n]) {
		return match{}, false
	}
	return match{j, end, ruleBasic}, true
}

// b64HasColon reports whether the standard base64 text b64 (no padding) decodes to bytes that
// include ':'.
func b64HasColon(b64 string) bool {
	var acc uint32
	bits := 0
	for i := 0; i < len(b64); i++ {
		c := b64[i]
		var v byte
		switch {
		case c >= 'A' && c <= 'Z':
			v = c - 'A'
		case c >= 'a' && c <= 'z':
			v = c - 'a' + 26
		case c >= '0' && c <= '9':
			v = c - '0' + 52
		case c == '+':
			v = 62
		default: // '/'
			v = 63
		}
		acc = acc<<6 | uint32(v)
		bits += 6
		if bits >= 8 {
			bits -= 8
			if byte(acc>>bits) == ':' {
				return true
			}
		}
	}
	return false
}

// github matches GitHub tokens: ghp_, gho_, ghu_, ghs_, ghr_ and 30 or more word bytes, or
// github_pat_ and 22 or more.
func (sc *scanner) github(i, end int) (match, bool) {
	s := sc.s
	n := end - i
	switch {
	case n >= 4+30 && s[i+1] == 'h' && s[i+3] == '_' && strings.IndexByte("pousr", s[i+2]) >= 0:
	case n >= 11+22 && strings.HasPrefix(s[i:], "github_pat_"):
	default:
		return match{}, false
	}
	return match{i, end, ruleGitHub}, true
}

// slack matches Slack tokens: xoxb-, xoxp-, xoxa-, xoxr-, xoxs-, xoxe- or xapp- and 10 or
// more [A-Za-z0-9-].
func (sc *scanner) slack(i int) (match, bool) {
	s := sc.s
	if len(s)-i < 15 || s[i+4] != '-' {
		return match{}, false
	}
	p := s[i : i+4]
	if !(p == "xapp" || p[:3] == "xox" && strings.IndexByte("bparse", p[3]) >= 0) {
		return match{}, false
	}
	end := i + 5
	for end < len(s) && (isWord[s[end]] && s[end] != '_' || s[end] == '-') {
		end++
	}
	if end-(i+5) < 10 || end < len(s) && isWord[s[end]] {
		return match{}, false
	}
	return match{i, end, ruleSlack}, true
}

// stripe matches Stripe secret and restricted keys (sk_live_, sk_test_, rk_live_, rk_test_
// and 10 or more word bytes) and webhook secrets (whsec_ and 20 or more).
func (sc *scanner) stripe(i, end int) (match, bool) {
	s := sc.s
	w := s[i:end]
	switch {
	case len(w) >= 8+10 && (w[:8] == "sk_live_" || w[:8] == "sk_test_" || w[:8] == "rk_live_" || w[:8] == "rk_test_"):
	case len(w) >= 6+20 && w[:6] == "whsec_":
	default:
		return match{}, false
	}
	return match{i, end, ruleStripe}, true
}

// sep handles '=' and ':' at i: a URL with a password after "://", else a key=value pair.
func (sc *scanner) sep(i int) (match, bool) {
	s, r := sc.s, sc.r
	if s[i] == ':' && strings.HasPrefix(s[i:], "://") {
		if r.on(ruleURLPassword) {
			return sc.urlPassword(i + 3)
		}
		return match{}, false
	}
	if r.off[ruleKeyValue] && r.off[ruleAWSSecretKey] {
		return match{}, false
	}
	return sc.keyValue(i)
}

// urlPassword matches the password in the authority starting at a ("user:password@host").
// Like net/url, the authority ends at '/', '?' or '#' (or a blank or quote), and the userinfo
// ends at its last '@'.
func (sc *scanner) urlPassword(a int) (match, bool) {
	s := sc.s
	at := -1
	e := a
	for ; e < len(s); e++ {
		c := s[e]
		if c == '@' {
			at = e
		} else if c == '/' || c == '?' || c == '#' || c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
			c == '"' || c == '\'' || c == '`' || c == '<' || c == '>' || c == '\\' {
			break
		}
	}
	if at < 0 {
		return match{}, false
	}
	colon := strings.IndexByte(s[a:at], ':')
	if colon < 0 {
		return match{}, false
	}
	start := a + colon + 1
	if start == at || strings.HasPrefix(s[start:at], sc.r.maskPrefix) {
		return match{}, false
	}
	return match{start, at, ruleURLPassword}, true
}

// keyValue matches the value in "key=value", "key: value", "key"="value", "key":"value" and
// the like, when key is a secret key name (suffix match, as IsSecretKey, but not affected by
// disabling rule "key"). Unquoted values end at a blank or one of &;,"'`<>)]}\, or, after a
// key preceded by ';' (connection strings), at ';' or the end of the line, or, after a key
// preceded by '?' or '&' (query parameters), also at '#'; quoted ones at the closing quote (or
// the end of s); a JSON-like object or array at its closing bracket (or the end of s), so
// that its content is masked. In an unquoted value starting with "Bearer " or "Basic ", or with any word
// and a blank under a key ending with "authorization", that first word is an authentication
// scheme and stays.
func (sc *scanner) keyValue(i int) (match, bool) {
	s, r := sc.s, sc.r
	// Not an assignment: "==", "!=", "<=", ">=", ":=", "=>", "::".
	if i+1 < len(s) && (s[i+1] == '=' || s[i+1] == '>' || s[i+1] == ':') {
		return match{}, false
	}
	if i > 0 && strings.IndexByte("=!<>:", s[i-1]) >= 0 {
		return match{}, false
	}
	// The key, backwards: blanks, a closing quote (maybe escaped), key bytes. Most keys are
	// rejected by their last byte.
	j := i
	for j > 0 && i-j < 4 && isSpace(s[j-1]) {
		j--
	}
	if j > 0 && (s[j-1] == '"' || s[j-1] == '\'') {
		j--
		if j > 0 && s[j-1] == '\\' {
			j--
		}
	}
	if j == 0 || !isWord[s[j-1]] || !r.keys.lastByte(s[j-1]) {
		return match{}, false
	}
	k := j
	for k > 0 && isKeyByte[s[k-1]] {
		k--
	}
	if k == j || !r.keys.match(s[k:j]) {
		return match{}, false
	}
	// The value.
	v := i + 1
	for v < len(s) && isSpace(s[v]) {
		v++
	}
	if v >= len(s) {
		return match{}, false
	}
	var start, end int
	switch q := s[v]; {
	case q == '"':
		start = v + 1
		end = start
		for end < len(s) && s[end] != '"' {
			if s[end] == '\\' {
				end++
			}
			end++
		}
		end = min(end, len(s))
	case q == '\'' || q == '`':
		start = v + 1
		if n := strings.IndexByte(s[start:], q); n >= 0 {
			end = start + n
		} else {
			end = len(s)
		}
	case q == '\\' && v+1 < len(s) && s[v+1] == '"':
		start = v + 2
		if n := strings.Index(s[start:], `\"`); n >= 0 {
			end = start + n
		} else {
			end = len(s)
		}
	case q == '{' || q == '[' && v+1 < len(s) && strings.IndexByte("{[\"]0123456789 ", s[v+1]) >= 0:
		// An object or array in JSON-like text: what is between the brackets.
		start = v + 1
		end = closeBracket(s, v)
	default:
		start = v
		end = v
		// An authentication scheme and credentials ("Bearer <token>", or any "<scheme> <x>"
		// under an authorization key): the scheme stays. The bearer and basic rules are tried
		// first, to count under their names.
		bearer, basic := hasPrefixFold(s[v:], "bearer "), hasPrefixFold(s[v:], "basic ")
		if bearer || basic || hasSuffixFold(s[k:j], "authorization") {
			// A scheme is a word starting with a letter (Bearer, Basic, Digest, AWS4-...):
			// anything else is the credential itself and is masked whole.
			if w := runEnd(s, v, &isWord); w > v && w+1 < len(s) && s[w] == ' ' && isLetter(s[v]) {
				if bearer && r.on(ruleBearer) {
					if m, ok := sc.bearer(w); ok {
						return m, true
					}
				} else if basic && r.on(ruleBasic) {
					if m, ok := sc.basic(w); ok {
						return m, true
					}
				}
				start = w
				for start < len(s) && isSpace(s[start]) {
					start++
				}
				end = start
			}
		}
		if k > 0 && s[k-1] == ';' {
			// A connection string ("Server=h;Password=p w;"): the value ends at ';'.
			for end < len(s) && s[end] != ';' && s[end] != '\n' && s[end] != '\r' {
				end++
			}
			for end > start && isSpace(s[end-1]) {
				end--
			}
			break
		}
		query := k > 0 && (s[k-1] == '?' || s[k-1] == '&')
		for end < len(s) && !isValEnd[s[end]] && !(query && s[end] == '#') {
			end++
		}
	}
	if end == start || strings.HasPrefix(s[start:], r.maskPrefix) {
		return match{}, false
	}
	if r.on(ruleAWSSecretKey) && end-start == 40 && runEnd(s, start, &isB64) == end {
		return match{start, end, ruleAWSSecretKey}, true
	}
	if r.off[ruleKeyValue] {
		return match{}, false
	}
	return match{start, end, ruleKeyValue}, true
}

// closeBracket returns the index of the bracket that closes the one at i, skipping quoted
// strings and escaped bytes, or len(s) if there is none.
func closeBracket(s string, i int) int {
	depth := 0
	for ; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return len(s)
}

// pem matches the body of a PEM private key block: what lies between
// "-----BEGIN <label>-----", where the label contains "PRIVATE KEY", and "-----END " (or the
// end of s), less leading and trailing blanks and line breaks, which stay with the header and
// footer.
func (sc *scanner) pem(i int) (match, bool) {
	s, r := sc.s, sc.r
	const begin = "-----BEGIN "
	if !r.on(rulePrivateKey) || !strings.HasPrefix(s[i:], begin) {
		return match{}, false
	}
	h := i + len(begin)
	lim := min(len(s), h+64)
	n := strings.Index(s[h:lim], "-----")
	if n < 0 || !strings.Contains(s[h:h+n], "PRIVATE KEY") {
		return match{}, false
	}
	start := h + n + len("-----")
	end := len(s)
	if n := strings.Index(s[start:], "-----END "); n >= 0 {
		end = start + n
	}
	for start < end && isPEMSpace(s[start]) {
		start++
	}
	for end > start && isPEMSpace(s[end-1]) {
		end--
	}
	if start == end || strings.HasPrefix(s[start:end], r.maskPrefix) {
		return match{}, false
	}
	return match{start, end, rulePrivateKey}, true
}

func isPEMSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
