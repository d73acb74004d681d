package redact

import (
	"slices"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Byte classes used by the scanner. They are package-level variables initialized by
// expressions (not in init), so that the classes derived from them (formats.go) see them
// filled in.
var (
	// isWord is [A-Za-z0-9_]: a word is a maximal run of these.
	isWord = class(func(c byte) bool { return isAlnumByte(c) || c == '_' })
	// isKeyByte is the bytes of a key in key=value: [A-Za-z0-9_.-].
	isKeyByte = class(func(c byte) bool { return isAlnumByte(c) || c == '_' || c == '.' || c == '-' })
	// isB64URL is the base64url alphabet: [A-Za-z0-9_-].
	isB64URL = class(func(c byte) bool { return isAlnumByte(c) || c == '_' || c == '-' })
	// isB64 is the standard base64 alphabet without padding: [A-Za-z0-9+/].
	isB64 = class(func(c byte) bool { return isAlnumByte(c) || c == '+' || c == '/' })
	// isToken is the RFC 6750 b64token without padding: [A-Za-z0-9-._~+/].
	isToken = class(func(c byte) bool { return isAlnumByte(c) || strings.IndexByte("-._~+/", c) >= 0 })
	// isValEnd is the bytes that end an unquoted value in key=value.
	isValEnd = class(func(c byte) bool { return strings.IndexByte(" \t\n\r\v\f&;,\"'`<>)]}\\", c) >= 0 })
	// isUpperNum is [A-Z0-9].
	isUpperNum = class(func(c byte) bool { return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' })
	// isHex is [0-9a-fA-F].
	isHex = class(func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' })
)

func isAlnumByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// String returns s with every secret it finds replaced by the mask (see the package doc for the
// rules), and whether it replaced anything; it counts each replacement by rule. When nothing
// matches it returns s itself and false without allocating. Only the secret part of a match is
// replaced: "password=hunter2" becomes "password=[REDACTED]", "Bearer <token>" keeps "Bearer".
// Secrets that are percent-encoded or JSON-escaped are found in the decoded text and masked in
// place, in their encoded form. Replacements never split a UTF-8 sequence, so valid UTF-8 stays
// valid, and the result is at most len(s) + (len(s)+1)/2*(len(mask)-1) bytes long.
func (r *Redactor) String(s string) (string, bool) {
	sc := scanner{r: r, s: s}
	m, ok := sc.next(0)
	if !ok && !sc.enc {
		return s, false
	}
	return r.redact(&sc, m, ok)
}

// match is the secret s[start:end], found by rule.
type match struct {
	start, end int
	rule       rule
}

// span is a match in the original text; secret is what a hashed mask is computed from (the
// decoded secret for a match found in decoded text; empty means the original bytes).
type span struct {
	start, end int
	rule       rule
	secret     string
}

// redact is String's slow path, for a text with a match or with escapes: it collects the
// matches of the text itself and of its decoded layers, merges those that overlap or touch,
// and builds the masked text.
func (r *Redactor) redact(sc *scanner, m match, ok bool) (string, bool) {
	s := sc.s
	var buf [8]span
	spans := buf[:0]
	for ok {
		spans = append(spans, span{m.start, m.end, m.rule, ""})
		m, ok = sc.next(m.end)
	}
	var db *decodeBuf
	if sc.enc {
		db = getDecodeBuf()
		defer putDecodeBuf(db)
		spans = r.scanDecoded(s, db, spans)
	}
	if len(spans) == 0 {
		return s, false
	}
	if len(spans) > 1 {
		slices.SortStableFunc(spans, func(a, b span) int { return a.start - b.start })
		// Merge spans that overlap or touch; the first one names the rule.
		w := 0
		for _, sp := range spans[1:] {
			cur := &spans[w]
			if sp.start <= cur.end {
				switch {
				case sp.end > cur.end:
					cur.end = sp.end
					cur.secret = "" // hash what the merged span covers
				case sp.start == cur.start && sp.end == cur.end && sp.secret != "":
					cur.secret = sp.secret // the same span decoded: hash the secret itself
				}
				continue
			}
			w++
			spans[w] = sp
		}
		spans = spans[:w+1]
	}
	b := make([]byte, 0, len(s)+len(spans)*(len(r.mask)+12))
	last := 0
	for _, sp := range spans {
		b = append(b, s[last:sp.start]...)
		secret := sp.secret
		if secret == "" {
			secret = s[sp.start:sp.end]
		}
		b = r.appendMask(b, sp.rule, secret)
		r.counts[sp.rule].Add(1)
		last = sp.end
	}
	b = append(b, s[last:]...)
	return unsafe.String(unsafe.SliceData(b), len(b)), true
}

// scanner finds secrets in s, left to right.
type scanner struct {
	r *Redactor
	s string
	// jwtEnd is the end of the base64url run of the last failed JWT candidate: a candidate
	// starting before it would fail the same way, so it is not tried (keeps the scan linear).
	jwtEnd int
	// enc is set when s has a percent-escape (%XX) or a JSON escape (\n, \", \u00XX, ...)
	// outside a match: its decoded text is scanned too.
	enc bool
}

// Classes of bytes for the main loop of the scanner.
const (
	clsOther = iota // skipped
	clsWord         // starts a word ([A-Za-z0-9_]): the prefilter decides whether to look closer
	clsSep          // '=' or ':': key=value, "://", Azure keys, Telegram tokens
	clsDash         // '-': "-----BEGIN", Mailchimp's "-us", curl's "-u"
	clsEnc          // '%' or '\\': an escape to decode
	clsTilde        // '~': Azure AD client secrets
	clsPipe         // '|': Facebook app tokens
)

var byteClass [256]uint8

func init() {
	for c := 0; c < 256; c++ {
		if isWord[c] {
			byteClass[c] = clsWord
		}
	}
	byteClass['='] = clsSep
	byteClass[':'] = clsSep
	byteClass['-'] = clsDash
	byteClass['%'] = clsEnc
	byteClass['\\'] = clsEnc
	byteClass['~'] = clsTilde
	byteClass['|'] = clsPipe
}

// next returns the first match that starts at or after i (or that a trigger at or after i
// finds by looking back). The common path is a loop over bytes that skips words whose first
// two bytes start no known format, and looks closer only at a few separator bytes.
func (sc *scanner) next(i int) (match, bool) {
	s := sc.s
	for i < len(s) {
		c := s[i]
		switch byteClass[c] {
		case clsOther:
			i++
		case clsWord:
			e := wordEnd(s, i+1)
			if prefilter(s, i, e) {
				if m, ok := sc.word(i, e); ok {
					return m, true
				}
			}
			if e-i >= 32 {
				if m, ok := sc.longWord(i, e); ok {
					return m, true
				}
			}
			i = e
		case clsSep:
			if m, ok := sc.sep(i); ok {
				return m, true
			}
			i++
		case clsDash:
			if i+1 < len(s) && (s[i+1] == '-' || s[i+1] == 'u') {
				if m, ok := sc.dash(i); ok {
					return m, true
				}
			}
			i++
		case clsEnc:
			if !sc.enc && isEscape(s, i) {
				sc.enc = true
			}
			i++
		case clsTilde:
			if m, ok := sc.azureADSecret(i); ok {
				return m, true
			}
			i++
		default: // clsPipe
			if m, ok := sc.facebookAppToken(i); ok {
				return m, true
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

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// word tries the token rules on the word s[i:e], whose first two bytes passed the prefilter:
// the hand-written rules first, then the table of formats (formats.go).
func (sc *scanner) word(i, e int) (match, bool) {
	s, r := sc.s, sc.r
	n := e - i
	switch c := s[i]; c {
	case 'A':
		if n == 20 && r.on(ruleAWSAccessKey) {
			if m, ok := sc.awsAccessKey(i); ok {
				return m, true
			}
		}
	case 'e':
		if n >= 10 && s[i+1] == 'y' && s[i+2] == 'J' && i >= sc.jwtEnd {
			if r.on(ruleJWT) {
				if m, ok := sc.jwt(i); ok {
					return m, true
				}
			}
			if m, ok := sc.grafanaKey(i); ok {
				return m, true
			}
		}
	case 'B', 'b':
		if n == 6 && r.on(ruleBearer) && hasPrefixFold(s[i:], "bearer") {
			if m, ok := sc.bearer(e); ok {
				return m, true
			}
		}
		if n == 5 && r.on(ruleBasic) && hasPrefixFold(s[i:], "basic") {
			if m, ok := sc.basic(e); ok {
				return m, true
			}
		}
	case 'g':
		if n >= 33 && (s[i+1] == 'h' || s[i+1] == 'i') && r.on(ruleGitHub) {
			if m, ok := sc.github(i, e); ok {
				return m, true
			}
		}
	case 'x':
		if n == 4 && e < len(s) && (s[e] == '-' || s[e] == '.') && r.on(ruleSlack) {
			if m, ok := sc.slack(i); ok {
				return m, true
			}
		}
	case 's', 'r':
		if n >= 18 && s[i+1] == 'k' && s[i+2] == '_' && r.on(ruleStripe) {
			if m, ok := sc.stripe(i, e); ok {
				return m, true
			}
		}
	case 'w':
		if n >= 26 && s[i+1] == 'h' && r.on(ruleStripe) {
			if m, ok := sc.stripe(i, e); ok {
				return m, true
			}
		}
	case 'M', 'N', 'O':
		if n >= 24 && n <= 28 && e < len(s) && s[e] == '.' && r.on(ruleDiscord) {
			if m, ok := sc.discordToken(i, e); ok {
				return m, true
			}
		}
	case '2', '3', '4', '5', '6':
		if (n >= 13 && n <= 19 || n == 4 && e+1 < len(s) && (s[e] == ' ' || s[e] == '-' || s[e] == '+')) && r.on(ruleCard) {
			if m, ok := sc.card(i, e); ok {
				return m, true
			}
		}
		if c == '2' && n == 49 && r.on(ruleNgrok) {
			if m, ok := sc.ngrok(i, e); ok {
				return m, true
			}
		}
	}
	return sc.formats(i, e)
}

// awsAccessKey matches an AWS access key id: AKIA (long-term), ASIA (temporary), ABIA, ACCA
// or A3T and a fourth [A-Z0-9], and 16 more [A-Z0-9], as a whole word.
func (sc *scanner) awsAccessKey(i int) (match, bool) {
	s := sc.s
	if len(s)-i < 20 {
		return match{}, false
	}
	switch p := s[i : i+4]; {
	case p == "AKIA" || p == "ASIA" || p == "ABIA" || p == "ACCA" || p[:3] == "A3T":
	default:
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

// grafanaKey matches a Grafana API key: base64 of {"k":"... (eyJrIjoi) and 70 or more
// [A-Za-z0-9], with up to three '=' of padding.
func (sc *scanner) grafanaKey(i int) (match, bool) {
	s := sc.s
	if !sc.r.on(ruleGrafana) || !strings.HasPrefix(s[i:], "eyJrIjoi") {
		return match{}, false
	}
	end := runEnd(s, i+8, &isAlnum)
	if end-(i+8) < 70 {
		return match{}, false
	}
	for k := 0; k < 3 && end < len(s) && s[end] == '='; k++ {
		end++
	}
	if end < len(s) && (isB64URL[s[end]] || s[end] == '.') {
		return match{}, false
	}
	return match{i, end, ruleGrafana}, true
}

// schemeGap returns the start of the credentials after an authentication scheme ending at i:
// after blanks, or after one '+' (a space in a form-encoded value, where a '+' of the
// credentials would be %2B: form reports that the credentials end at the next '+'); i itself
// if neither.
func schemeGap(s string, i int) (j int, form bool) {
	j = i
	for j < len(s) && isSpace(s[j]) {
		j++
	}
	if j == i && j+1 < len(s) && s[j] == '+' && s[j+1] != '+' {
		return j + 1, true
	}
	return j, false
}

// isTokenNoPlus and isB64NoPlus are isToken and isB64 without '+'.
var (
	isTokenNoPlus = class(func(c byte) bool { return isToken[c] && c != '+' })
	isB64NoPlus   = class(func(c byte) bool { return isB64[c] && c != '+' })
)

// bearer matches the credentials after the word "Bearer" (any case) and blanks (or a '+' of
// form encoding). To tell a token from prose ("Bearer authentication failed") it needs at
// least 8 bytes and a digit or one of "-._~+/=", or at least 16 bytes in mixed case.
func (sc *scanner) bearer(i int) (match, bool) {
	s := sc.s
	j, form := schemeGap(s, i)
	if j == i {
		return match{}, false
	}
	class := &isToken
	if form {
		class = &isTokenNoPlus
	}
	end := runEnd(s, j, class)
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

// basic matches the credentials after the word "Basic" (any case) and blanks (or a '+' of
// form encoding): standard base64 that decodes to something containing ':' (user:password).
func (sc *scanner) basic(i int) (match, bool) {
	s := sc.s
	j, form := schemeGap(s, i)
	if j == i {
		return match{}, false
	}
	class := &isB64
	if form {
		class = &isB64NoPlus
	}
	end := runEnd(s, j, class)
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

// slack matches Slack tokens: xoxb-, xoxp-, xoxa-, xoxr-, xoxs-, xoxo-, xoxe- or xapp- and 10
// or more [A-Za-z0-9-], and the configuration tokens xoxe.xoxb- and xoxe.xoxp-.
func (sc *scanner) slack(i int) (match, bool) {
	s := sc.s
	if len(s)-i < 15 {
		return match{}, false
	}
	p := s[i : i+4]
	body := i + 5
	switch {
	case s[i+4] == '-' && (p == "xapp" || p[:3] == "xox" && strings.IndexByte("bparseo", p[3]) >= 0):
	case s[i+4] == '.' && p == "xoxe" && (strings.HasPrefix(s[i+5:], "xoxb-") || strings.HasPrefix(s[i+5:], "xoxp-")):
		body = i + 10
	default:
		return match{}, false
	}
	end := body
	for end < len(s) && (isWord[s[end]] && s[end] != '_' || s[end] == '-') {
		end++
	}
	if end-body < 10 || end < len(s) && isWord[s[end]] {
		return match{}, false
	}
	return match{i, end, ruleSlack}, true
}

// stripe matches Stripe secret and restricted keys (sk_live_, sk_test_, sk_prod_, rk_live_,
// rk_test_, rk_prod_ and 10 or more word bytes) and webhook secrets (whsec_ and 20 or more).
func (sc *scanner) stripe(i, end int) (match, bool) {
	s := sc.s
	w := s[i:end]
	switch {
	case len(w) >= 8+10 && (w[0] == 's' || w[0] == 'r') && w[1] == 'k' && w[2] == '_' &&
		(w[3:8] == "live_" || w[3:8] == "test_" || w[3:8] == "prod_"):
	case len(w) >= 6+20 && w[:6] == "whsec_":
	default:
		return match{}, false
	}
	return match{i, end, ruleStripe}, true
}

// discordToken matches a Discord bot token: the base64 of the bot's numeric id (24 to 28
// bytes starting with M, N or O), '.', 6 base64url bytes, '.', 27 to 38 more.
func (sc *scanner) discordToken(i, e int) (match, bool) {
	s := sc.s
	j := e + 1
	k := runEnd(s, j, &isB64URL)
	if k-j != 6 || k >= len(s) || s[k] != '.' {
		return match{}, false
	}
	end := runEnd(s, k+1, &isB64URL)
	if n := end - (k + 1); n < 27 || n > 38 || end < len(s) && s[end] == '.' {
		return match{}, false
	}
	return match{i, end, ruleDiscord}, true
}

// ngrok matches an ngrok authtoken: '2', 26 [A-Za-z0-9], '_', a digit and 20 [A-Za-z0-9], as
// one word.
func (sc *scanner) ngrok(i, e int) (match, bool) {
	s := sc.s
	if s[i+27] != '_' || !isDigit(s[i+28]) || runEnd(s, i, &isAlnum) != i+27 || runEnd(s, i+28, &isAlnum) != e {
		return match{}, false
	}
	return match{i, e, ruleNgrok}, true
}

// longWord checks a word of 32 bytes or more against the formats that have no prefix but a
// fixed length and a signature inside: Azure DevOps and other Microsoft "common annotated"
// keys (84 bytes, "JQQJ9" at 52 or "AZDO" at 76) and MaxMind license keys (6, '_', 29, "_mmk").
func (sc *scanner) longWord(i, e int) (match, bool) {
	s, r := sc.s, sc.r
	switch e - i {
	case 84:
		if (s[i+52:i+57] == "JQQJ9" || s[i+76:i+80] == "AZDO") && r.on(ruleAzure) && runEnd(s, i, &isAlnum) == e {
			end := e
			if strings.HasPrefix(s[e:], "==") {
				end += 2
			}
			return match{i, end, ruleAzure}, true
		}
	case 40:
		if s[i+6] == '_' && s[e-4:e] == "_mmk" && r.on(ruleMaxMind) &&
			runEnd(s, i, &isAlnum) == i+6 && runEnd(s, i+7, &isAlnum) == e-4 {
			return match{i, e, ruleMaxMind}, true
		}
	}
	return match{}, false
}

// sep handles '=' and ':' at i: a URL with a password after "://", Telegram bot and Firebase
// server keys around ':', Azure keys ending in '=', else a key=value pair.
func (sc *scanner) sep(i int) (match, bool) {
	s, r := sc.s, sc.r
	if s[i] == ':' {
		if strings.HasPrefix(s[i:], "://") {
			if r.on(ruleURLPassword) {
				return sc.urlPassword(i + 3)
			}
			return match{}, false
		}
		if i+1 < len(s) && s[i+1] == 'A' && i > 0 && isB64URL[s[i-1]] {
			if m, ok := sc.colonToken(i); ok {
				return m, true
			}
		}
	} else if i >= 43 && azureSignature(s[i-10:i-6]) {
		// Every Azure key ending in '=' has its signature 10 bytes before the '='.
		if m, ok := sc.azureKey(i); ok {
			return m, true
		}
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
	colon := -1
	e := a
	for ; e < len(s); e++ {
		c := s[e]
		if c == '@' {
			at = e
		} else if c == ':' && colon < 0 {
			colon = e
		} else if c == '?' || c == '#' {
			// They end the authority, unless they are in a password: after a ':' that does
			// not start a port number ("u:p#ss@h"; "h:8080?q=a@b" is a host and a query).
			if at >= 0 || colon < 0 || allDigits(s[colon+1:e]) {
				break
			}
		} else if isAuthorityEnd[c] {
			break
		}
	}
	if at < 0 || colon < 0 || colon > at {
		return match{}, false
	}
	start := colon + 1
	if start == at || strings.HasPrefix(s[start:at], sc.r.maskPrefix) {
		return match{}, false
	}
	return match{start, at, ruleURLPassword}, true
}

// keyValue matches the value in "key=value", "key: value", "key"="value", "key":"value",
// 'key' => 'value' and the like, when key is a secret key name (suffix match, as IsSecretKey,
// but not affected by disabling rule "key"). Unquoted values end at a blank or one of
// &;,"'`<>)]}\, or in a connection string (a key preceded by ';', or a value followed by
// ";Key=") at ';' or the end of the line, or after a key preceded by '?' or '&' (query
// parameters) also at '#'; quoted ones at the closing quote (or the end of s); a JSON-like
// object or array at its closing bracket (or the end of s), so that its content is masked; a
// PEM block at its footer. In an unquoted value starting with "Bearer " or "Basic ", or with
// any word and a blank under a key ending with "authorization", that first word is an
// authentication scheme and stays. SQL placeholders ("?", "$1", ":name" after the same
// name) and template references ("${X}", "{{x}}") are not secrets.
func (sc *scanner) keyValue(i int) (match, bool) {
	s, r := sc.s, sc.r
	arrow := false
	// Not an assignment: "==", "!=", "<=", ">=", ":=", "::"; "=>" only before a quote.
	if i+1 < len(s) {
		switch s[i+1] {
		case '=', ':':
			return match{}, false
		case '>':
			if s[i] != '=' {
				return match{}, false
			}
			arrow = true
		}
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
	quoted := false
	if j > 0 && (s[j-1] == '"' || s[j-1] == '\'') {
		quoted = true
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
	// A field of an ARN is not a "key: value" (arn:aws:secretsmanager:...:secret:prod/db).
	if s[i] == ':' && k > 0 && s[k-1] == ':' && inARN(s, k) {
		return match{}, false
	}
	// The value.
	v := i + 1
	if arrow {
		v++
	}
	for v < len(s) && isSpace(s[v]) {
		v++
	}
	if v >= len(s) {
		return match{}, false
	}
	if arrow && !quoted && s[v] != '"' && s[v] != '\'' {
		return match{}, false // a lambda (token => token.id), not a pair
	}
	if (s[v] == '$' || s[v] == '{') && v+1 < len(s) && s[v+1] == '{' {
		// A template reference (${DB_PASSWORD}, {{ .Password }}) is not the secret.
		close := "}"
		if s[v] == '{' {
			close = "}}"
		}
		if n := strings.Index(s[v+2:], close); n >= 0 && n < 128 && strings.IndexByte(s[v+2:v+2+n], '\n') < 0 {
			return match{}, false
		}
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
	case q == '-' && strings.HasPrefix(s[v:], "-----BEGIN"):
		// A PEM block: its body, whatever its label, up to the footer.
		if r.on(rulePrivateKey) {
			if m, ok := sc.pemBlock(v, true); ok {
				return m, true
			}
		}
		if h := pemHeaderEnd(s, v); h > 0 {
			if h, _ = trimPEMSpace(s, h, len(s)); strings.HasPrefix(s[h:], r.maskPrefix) {
				return match{}, false // a masked block
			}
		}
		start = v
		end = runEnd(s, v, &isNotBlank)
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
		if s[i] == '=' && connString(s, k, v) {
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
	if end == start || strings.HasPrefix(s[start:], r.maskPrefix) || placeholder(s[start:end], s[k:j]) {
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

// inARN reports whether the key ending at k is a field of an ARN: the text before it, back to
// a blank or quote, has a word starting with "arn:".
func inARN(s string, k int) bool {
	b := k
	for b > 0 && !isPEMSpace(s[b-1]) && s[b-1] != '"' && s[b-1] != '\'' && k-b < 256 {
		b--
	}
	n := strings.LastIndex(s[b:k], "arn:")
	return n >= 0 && (b+n == 0 || !isAlnum[s[b+n-1]])
}

// isAuthorityEnd is the bytes that end a URL's authority in text ('?' and '#' are handled
// apart).
var isAuthorityEnd = class(func(c byte) bool { return strings.IndexByte("/ \t\n\r\"'`<>\\", c) >= 0 })

var isNotBlank = func() (t [256]bool) {
	for c := range t {
		t[c] = !isPEMSpace(byte(c)) && c != '"' && c != '\''
	}
	return t
}()

// connString reports whether the unquoted value at v of the key starting at k belongs to a
// connection string: the key follows ';' (and blanks), or the value runs to a ';' followed by
// another "Key=" on the same line.
func connString(s string, k, v int) bool {
	p := k
	for p > 0 && isSpace(s[p-1]) {
		p--
	}
	if p > 0 && s[p-1] == ';' {
		return true
	}
	lim := min(len(s), v+256)
	e := v
	for e < lim && s[e] != ';' && s[e] != '\n' && s[e] != '\r' {
		e++
	}
	if e >= lim || s[e] != ';' {
		return false
	}
	e++
	for e < len(s) && isSpace(s[e]) {
		e++
	}
	// Another key: a letter, then key bytes or blanks ("User Id"), then '=' (not "==").
	if e >= len(s) || !isLetter(s[e]) {
		return false
	}
	for n := 0; e < len(s) && n < 40 && (isKeyByte[s[e]] || s[e] == ' '); n++ {
		e++
	}
	return e+1 < len(s) && s[e] == '=' && s[e+1] != '='
}

// placeholder reports whether the value v of the key key is a placeholder rather than a
// secret: a SQL parameter ("?", "$1", "@p1", ":name" after a key of the same name) or a
// format verb ("%s").
func placeholder(v, key string) bool {
	switch {
	case v == "?":
		return true
	case len(v) == 2 && v[0] == '%' && isLetter(v[1]):
		return true
	case len(v) >= 2 && v[0] == '$' && allDigits(v[1:]):
		return true
	case len(v) >= 3 && v[0] == '@' && v[1] == 'p' && allDigits(v[2:]):
		return true
	case len(v) >= 2 && v[0] == ':' && strings.EqualFold(v[1:], key):
		return true
	}
	return false
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

// dash handles '-' at i: a PEM block ("-----BEGIN"), a Mailchimp key (32 hex digits before
// "-us" and a datacenter number), curl's -u/--user credentials.
func (sc *scanner) dash(i int) (match, bool) {
	s, r := sc.s, sc.r
	if i+1 >= len(s) {
		return match{}, false
	}
	switch s[i+1] {
	case '-':
		if m, ok := sc.pem(i); ok {
			return m, true
		}
		if r.on(ruleCurlAuth) && strings.HasPrefix(s[i:], "--user") && i+6 < len(s) && (s[i+6] == ' ' || s[i+6] == '=') {
			return sc.curlUser(i, i+7)
		}
	case 'u':
		if i+3 < len(s) && s[i+2] == 's' && isDigit(s[i+3]) && r.on(ruleMailchimp) {
			return sc.mailchimp(i)
		}
		if i+2 < len(s) && s[i+2] == ' ' && r.on(ruleCurlAuth) {
			return sc.curlUser(i, i+3)
		}
	}
	return match{}, false
}

// mailchimp matches a Mailchimp API key: 32 lowercase hex digits, "-us" and 1 or 2 digits; s[i]
// is the '-'.
func (sc *scanner) mailchimp(i int) (match, bool) {
	s := sc.s
	start := i - 32
	if start < 0 || start > 0 && isWord[s[start-1]] || runEnd(s, start, &isHexLower) != i {
		return match{}, false
	}
	end := runEnd(s, i+3, &isDigitTable)
	if end-(i+3) > 2 || end < len(s) && isWord[s[end]] {
		return match{}, false
	}
	return match{start, end, ruleMailchimp}, true
}

// curlUser matches the password of "curl ... -u user:password" (or --user): the text after
// the first ':' of the argument at a, when the line holds "curl" before it; s[i] is the '-'.
func (sc *scanner) curlUser(i, a int) (match, bool) {
	s := sc.s
	if i == 0 || !isSpace(s[i-1]) || !strings.Contains(s[:i], "curl") {
		return match{}, false
	}
	for a < len(s) && isSpace(s[a]) {
		a++
	}
	if a >= len(s) {
		return match{}, false
	}
	end := 0
	if q := s[a]; q == '"' || q == '\'' {
		a++
		n := strings.IndexByte(s[a:], q)
		if n < 0 {
			n = len(s) - a
		}
		end = a + n
	} else {
		end = runEnd(s, a, &isNotBlank)
	}
	colon := strings.IndexByte(s[a:end], ':')
	if colon < 0 || a+colon+1 == end || strings.HasPrefix(s[a+colon+1:], sc.r.maskPrefix) {
		return match{}, false
	}
	return match{a + colon + 1, end, ruleCurlAuth}, true
}

// pem matches the body of a PEM private key block: what lies between
// "-----BEGIN <label>-----", where the label contains "PRIVATE KEY", and "-----END " (or the
// end of s), less leading and trailing blanks and line breaks, which stay with the header and
// footer.
func (sc *scanner) pem(i int) (match, bool) {
	if !sc.r.on(rulePrivateKey) {
		return match{}, false
	}
	return sc.pemBlock(i, false)
}

// pemBlock is pem; with any, the label need not contain "PRIVATE KEY" (the block is the value
// of a secret key).
func (sc *scanner) pemBlock(i int, any bool) (match, bool) {
	s, r := sc.s, sc.r
	start := pemHeaderEnd(s, i)
	if start < 0 {
		return match{}, false
	}
	if label := s[i+len("-----BEGIN ") : start-len("-----")]; !any && !strings.Contains(label, "PRIVATE KEY") && !strings.Contains(label, "PRIVATE+KEY") {
		return match{}, false
	}
	end := len(s)
	if n := strings.Index(s[start:], "-----END"); n >= 0 {
		end = start + n
	}
	start, end = trimPEMSpace(s, start, end)
	if start == end || strings.HasPrefix(s[start:end], r.maskPrefix) {
		return match{}, false
	}
	return match{start, end, rulePrivateKey}, true
}

// trimPEMSpace moves start and end past the blanks and line breaks around a PEM body, and
// past escaped line breaks (\n, %0A), which stay with the header and footer.
func trimPEMSpace(s string, start, end int) (int, int) {
	for start < end {
		if isPEMSpace(s[start]) {
			start++
		} else if n := escapedBreak(s[start:end]); n > 0 {
			start += n
		} else {
			break
		}
	}
	for end > start {
		if isPEMSpace(s[end-1]) {
			end--
		} else if end-start >= 2 && escapedBreak(s[end-2:end]) == 2 {
			end -= 2
		} else if end-start >= 3 && escapedBreak(s[end-3:end]) == 3 {
			end -= 3
		} else {
			break
		}
	}
	return start, end
}

// escapedBreak returns the length of the escaped line break s starts with (\n, \r, %0A,
// %0D), or 0.
func escapedBreak(s string) int {
	if len(s) >= 2 && s[0] == '\\' && (s[1] == 'n' || s[1] == 'r') {
		return 2
	}
	if len(s) >= 3 && s[0] == '%' && s[1] == '0' && strings.IndexByte("aAdD", s[2]) >= 0 {
		return 3
	}
	return 0
}

// pemHeaderEnd returns the end of the PEM header "-----BEGIN <label>-----" at i, or -1. The
// blanks of the header (and of the footer) may be '+' (form encoding).
func pemHeaderEnd(s string, i int) int {
	const begin = "-----BEGIN"
	if !strings.HasPrefix(s[i:], begin) || i+len(begin) >= len(s) || s[i+len(begin)] != ' ' && s[i+len(begin)] != '+' {
		return -1
	}
	h := i + len(begin) + 1
	n := strings.Index(s[h:min(len(s), h+64)], "-----")
	if n < 0 {
		return -1
	}
	return h + n + len("-----")
}

func isPEMSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// colonToken handles a ':' followed by 'A' at i: a Telegram bot token (5 to 16 digits, ':',
// 'A' and 34 base64url bytes) or a Firebase Cloud Messaging server key ("AAAA" and 7 bytes,
// ":APA91b" and 130 or more).
func (sc *scanner) colonToken(i int) (match, bool) {
	s, r := sc.s, sc.r
	if strings.HasPrefix(s[i:], ":APA91b") && r.on(ruleFirebase) && i >= 11 && strings.HasPrefix(s[i-11:], "AAAA") {
		start := i - 11
		if runEnd(s, start, &isB64URL) >= i && (start == 0 || !isB64URL[s[start-1]]) {
			end := runEnd(s, i+7, &isB64URL)
			if end-(i+7) >= 130 {
				return match{start, end, ruleFirebase}, true
			}
		}
	}
	if !r.on(ruleTelegram) {
		return match{}, false
	}
	start := i
	for start > 0 && i-start <= 16 && isDigit(s[start-1]) {
		start--
	}
	if n := i - start; n < 5 || n > 16 || start > 0 && isWord[s[start-1]] && !strings.HasSuffix(s[:start], "bot") {
		return match{}, false
	}
	end := runEnd(s, i+1, &isB64URL)
	if end-(i+1) != 35 {
		return match{}, false
	}
	return match{start, end, ruleTelegram}, true
}

// azureKey matches the Azure keys that end in '=' at i (the first '='): 64-byte "identifiable"
// keys (76 base64 bytes, a 4-byte service signature, 5 bytes, one of AQgw, "=="), 32-byte ones
// (33 bytes, the signature, one of A-P, 5 bytes, "=") and Azure Functions keys (44 base64url
// bytes, "AzFu", 5 bytes, one of AQgw, "==").
func (sc *scanner) azureKey(i int) (match, bool) {
	s := sc.s
	if !sc.r.on(ruleAzure) {
		return match{}, false
	}
	j := i
	for j > 0 && i-j <= 86 && (isB64[s[j-1]] || s[j-1] == '-' || s[j-1] == '_') {
		j--
	}
	if j > 0 && (isB64[s[j-1]] || s[j-1] == '-' || s[j-1] == '_') {
		return match{}, false // longer than any
	}
	pad := 1
	if i+1 < len(s) && s[i+1] == '=' {
		pad = 2
	}
	end := i + pad
	if end < len(s) && (isB64URL[s[end]] || s[end] == '+' || s[end] == '/' || s[end] == '=') {
		return match{}, false
	}
	k := s[j:i]
	ok := false
	switch len(k) {
	case 86:
		ok = pad == 2 && azureSignature(k[76:80]) && strings.IndexByte("AQgw", k[85]) >= 0 && runEnd(k, 0, &isB64) == 86
	case 43:
		ok = pad == 1 && azureSignature(k[33:37]) && k[37] >= 'A' && k[37] <= 'P' && runEnd(k, 0, &isB64) == 43
	case 54:
		ok = pad == 2 && k[44:48] == "AzFu" && strings.IndexByte("AQgw", k[53]) >= 0 && runEnd(k, 0, &isB64URL) == 54
	}
	if !ok {
		return match{}, false
	}
	return match{j, end, ruleAzure}, true
}

// azureSignature reports whether sig is the signature of an Azure service in its identifiable
// keys (storage, Cosmos DB, Service Bus, Event Hubs, Relay, Batch, Cache for Redis, Search,
// Machine Learning, Container Registry, SQL, IoT, API Management, Event Grid, Functions).
func azureSignature(sig string) bool {
	switch sig {
	case "+ASt", "ACDb", "+ASb", "+AEh", "+ARm", "+ABa", "AzCa", "AzSe", "+AMC", "/AM7", "+ACR",
		"+SQL", "AIoT", "APIM", "AZEG", "AzFu":
		return true
	}
	return false
}

// azureADSecret matches an Azure AD (Entra ID) client secret around the '~' at i: 3 bytes of
// [A-Za-z0-9_~.], a digit, "Q~", then 31 to 34 bytes of [A-Za-z0-9_~.-].
func (sc *scanner) azureADSecret(i int) (match, bool) {
	s := sc.s
	if i < 5 || s[i-1] != 'Q' || !isDigit(s[i-2]) || !sc.r.on(ruleAzure) {
		return match{}, false
	}
	start := i - 5
	for k := start; k < i-2; k++ {
		if !isAzureAD[s[k]] || s[k] == '-' {
			return match{}, false
		}
	}
	if start > 0 && (isAzureAD[s[start-1]] || s[start-1] == '+' || s[start-1] == '/') {
		return match{}, false
	}
	end := runEnd(s, i+1, &isAzureAD)
	if n := end - (i + 1); n < 31 || n > 34 || end < len(s) && (s[end] == '+' || s[end] == '/' || s[end] == '=') {
		return match{}, false
	}
	return match{start, end, ruleAzure}, true
}

var isAzureAD = func() (t [256]bool) {
	for c := range t {
		t[c] = isAlnum[c] || strings.IndexByte("_~.-", byte(c)) >= 0
	}
	return t
}()

// facebookAppToken matches a Facebook app access token around the '|' at i: the app id (15 or
// 16 digits), '|', and 27 to 40 [A-Za-z0-9_-].
func (sc *scanner) facebookAppToken(i int) (match, bool) {
	s := sc.s
	if i < 15 || !isDigit(s[i-1]) || !sc.r.on(ruleFacebook) {
		return match{}, false
	}
	start := i
	for start > 0 && i-start <= 16 && isDigit(s[start-1]) {
		start--
	}
	if n := i - start; n < 15 || n > 16 || start > 0 && isWord[s[start-1]] {
		return match{}, false
	}
	end := runEnd(s, i+1, &isB64URL)
	if n := end - (i + 1); n < 27 || n > 40 || end < len(s) && isWord[s[end]] {
		return match{}, false
	}
	return match{start, end, ruleFacebook}, true
}

// isEscape reports whether s[i] starts an escape the decoder undoes: '%' and two hex digits,
// or '\\' and one of the JSON escape letters.
func isEscape(s string, i int) bool {
	if i+1 >= len(s) {
		return false
	}
	if s[i] == '%' {
		return i+2 < len(s) && isHex[s[i+1]] && isHex[s[i+2]]
	}
	switch s[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return true
	case 'u':
		return i+5 < len(s) && isHex[s[i+2]] && isHex[s[i+3]] && isHex[s[i+4]] && isHex[s[i+5]]
	}
	return false
}

// runeStart moves i back to the start of the UTF-8 sequence it is in.
func runeStart(s string, i int) int {
	for i > 0 && i < len(s) && !utf8.RuneStart(s[i]) {
		i--
	}
	return i
}

// runeEnd moves i forward past the UTF-8 continuation bytes at i.
func runeEnd(s string, i int) int {
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return i
}
