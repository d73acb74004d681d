package redact_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"math/big"
	"math/rand/v2"
	"strings"
)

// The secret corpus: for every format a rule masks, a generator of values of that format's
// documented shape, written from the format's definition (its alphabet, lengths, fixed parts
// and checksums), never from the matcher's code and never a real credential. Each generator
// returns the text that is logged and the secret parts of it that must not survive (for a
// webhook URL the path after the host, for a PEM block its body, for "password=x" the x).

// alphabets
const (
	upper    = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lowerABC = "abcdefghijklmnopqrstuvwxyz"
	digits   = "0123456789"
	alnum    = upper + lowerABC + digits
	hexLower = "0123456789abcdef"
	b64std   = upper + lowerABC + digits + "+/"
	b64url   = upper + lowerABC + digits + "-_"
	base62   = digits + upper + lowerABC
	bech32   = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	crockf   = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	pwChars  = alnum + "!#%^*_+-.~"
)

type gen struct{ r *rand.Rand }

func (g gen) from(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.r.IntN(len(alphabet))]
	}
	return string(b)
}

func (g gen) between(lo, hi int) int   { return lo + g.r.IntN(hi-lo+1) }
func (g gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }
func (g gen) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.r.UintN(256))
	}
	return b
}
func (g gen) hex(n int) string    { return g.from(hexLower, n) }
func (g gen) digits(n int) string { return g.from("123456789", 1) + g.from(digits, n-1) }
func (g gen) uuid() string {
	h := g.hex(32)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-" + g.pick("8", "9", "a", "b") + h[17:20] + "-" + h[20:]
}

// password is a random password of n bytes with at least one digit and one symbol, without
// the bytes that end values in the forms it is logged in (';', '&', blanks, quotes, '@', '/').
func (g gen) password(n int) string {
	return g.from(alnum, n-2) + g.from(digits, 1) + g.from("!#%^*_+-.~", 1)
}

// base62CRC is GitHub's (and npm's) checksum: the CRC32 of the random part in base62,
// left-padded with '0' to 6 characters.
func base62CRC(s string) string {
	n := crc32.ChecksumIEEE([]byte(s))
	out := []byte("000000")
	for i := 5; i >= 0 && n > 0; i-- {
		out[i] = base62[n%62]
		n /= 62
	}
	return string(out)
}

func luhnDigit(partial string) byte {
	sum := 0
	for i := len(partial) - 1; i >= 0; i-- {
		d := int(partial[i] - '0')
		if (len(partial)-1-i)%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

// card returns a Luhn-valid number of a card network: Visa 16, Mastercard 16 (51-55 and
// 2221-2720), Amex 15, Discover 16, JCB 16, Diners 14.
func (g gen) card() string {
	var prefix string
	n := 16
	switch g.r.IntN(7) {
	case 0:
		prefix = "4"
	case 1:
		prefix = fmt.Sprint(51 + g.r.IntN(5))
	case 2:
		prefix = fmt.Sprint(2221 + g.r.IntN(500))
	case 3:
		prefix, n = g.pick("34", "37"), 15
	case 4:
		prefix = "6011"
	case 5:
		prefix = fmt.Sprint(3528 + g.r.IntN(62))
	default:
		prefix, n = g.pick("36", "38"), 14
	}
	body := prefix + g.from(digits, n-1-len(prefix))
	return body + string(luhnDigit(body))
}

// bech32Encode encodes data (8-bit bytes) with the human-readable part hrp, BIP 173.
func bech32Encode(hrp string, data []byte) string {
	var conv []byte // 5-bit groups
	acc, bits := 0, 0
	for _, b := range data {
		acc = acc<<8 | int(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			conv = append(conv, byte(acc>>bits&31))
		}
	}
	if bits > 0 {
		conv = append(conv, byte(acc<<(5-bits)&31))
	}
	polymod := func(values []byte) uint32 {
		gen := []uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
		chk := uint32(1)
		for _, v := range values {
			top := chk >> 25
			chk = (chk&0x1ffffff)<<5 ^ uint32(v)
			for i := 0; i < 5; i++ {
				if top>>i&1 == 1 {
					chk ^= gen[i]
				}
			}
		}
		return chk
	}
	var exp []byte
	for i := 0; i < len(hrp); i++ {
		exp = append(exp, hrp[i]>>5)
	}
	exp = append(exp, 0)
	for i := 0; i < len(hrp); i++ {
		exp = append(exp, hrp[i]&31)
	}
	mod := polymod(append(append(exp, conv...), 0, 0, 0, 0, 0, 0)) ^ 1
	for i := 0; i < 6; i++ {
		conv = append(conv, byte(mod>>(5*(5-i))&31))
	}
	var b strings.Builder
	b.WriteString(hrp + "1")
	for _, v := range conv {
		b.WriteByte(bech32[v])
	}
	return b.String()
}

func b64raw(b []byte) string    { return base64.RawStdEncoding.EncodeToString(b) }
func b64urlRaw(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwtToken is a signed JWT (HS256) with a random subject.
func (g gen) jwtToken() string {
	h := b64urlRaw([]byte(`{"alg":"HS256","typ":"JWT"}`))
	p := b64urlRaw([]byte(fmt.Sprintf(`{"sub":"%s","iat":%d,"scope":"orders:read"}`, g.hex(12), 1700000000+g.r.IntN(1e8))))
	mac := hmac.New(sha256.New, g.bytes(32))
	mac.Write([]byte(h + "." + p))
	return h + "." + p + "." + b64urlRaw(mac.Sum(nil))
}

// pypiToken is a PyPI API token: "pypi-" and a base64url (unpadded) macaroon v2 whose
// location is pypi.org: version 2, a location field, an identifier field, the end of the
// header, one caveat, the end of the caveats, a 32-byte signature.
func (g gen) pypiToken() string {
	field := func(typ byte, data []byte) []byte { return append([]byte{typ, byte(len(data))}, data...) }
	m := []byte{2}
	m = append(m, field(1, []byte("pypi.org"))...)
	m = append(m, field(2, g.bytes(32))...)
	m = append(m, 0)
	m = append(m, field(2, []byte(fmt.Sprintf(`{"version":1,"permissions":{"projects":["pkg%d"]}}`, g.r.IntN(1000))))...)
	m = append(m, 0, 0)
	m = append(m, field(6, g.bytes(32))...)
	return "pypi-" + b64urlRaw(m)
}

// discordBotToken: base64 of the bot's snowflake id, base64url of a timestamp, an HMAC.
func (g gen) discordBotToken() string {
	id := fmt.Sprint(uint64(1e17) + g.r.Uint64N(9e17))
	ts := make([]byte, 4)
	binary.BigEndian.PutUint32(ts, uint32(1.6e9)+g.r.Uint32N(1e8))
	return b64raw([]byte(id)) + "." + b64urlRaw(ts) + "." + b64urlRaw(g.bytes(20+8*g.r.IntN(2)))
}

// azureKey64 is an Azure "identifiable" 64-byte key: 76 base64 bytes, the service signature,
// 5 bytes, one of AQgw, "==".
func (g gen) azureKey64(sig string) string {
	return g.from(b64std, 76) + sig + g.from(b64std, 5) + g.pick("A", "Q", "g", "w") + "=="
}

// azureKey32 is the 32-byte form: 33 bytes, the signature, one of A-P, 5 bytes, "=".
func (g gen) azureKey32(sig string) string {
	return g.from(b64std, 33) + sig + g.from("ABCDEFGHIJKLMNOP", 1) + g.from(b64std, 5) + "="
}

// pem is a private key PEM block with a random body of 64-column base64 lines.
func (g gen) pem(label string, lines int) (block string, body []string) {
	for i := 0; i < lines; i++ {
		body = append(body, g.from(b64std, 64))
	}
	body = append(body, g.from(b64std, 20)+"==")
	return "-----BEGIN " + label + "-----\n" + strings.Join(body, "\n") + "\n-----END " + label + "-----", body
}

// bigB36 is n in base 36 (GitLab's routable tokens end in a base36 CRC).
func bigB36(n uint32) string { return new(big.Int).SetUint64(uint64(n)).Text(36) }

func hexOf(b []byte) string { return hex.EncodeToString(b) }
