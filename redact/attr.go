package redact

import (
	"log/slog"
	"net/url"
	"strconv"
)

// ReplaceAttr redacts a, for use as slog.HandlerOptions.ReplaceAttr of slog.JSONHandler or
// slog.TextHandler:
//   - a LogValuer value is resolved first; a [Secret] gets the mask (hashed in hash mode);
//   - under a secret key, or in a group with a secret name, the whole value is replaced by the
//     mask (a string value is hashed in hash mode);
//   - a string value is passed through [Redactor.String];
//   - an int64 or uint64 that is a card number is replaced by the mask;
//   - an error whose message contains a secret becomes its redacted message;
//   - a *url.URL or url.URL containing a secret becomes its redacted string;
//   - any other KindAny value (struct, map, slice, http.Header, ...) is encoded with
//     [Redactor.Marshal]; if that masked something the value becomes the redacted JSON (a
//     []byte-based value with MarshalJSON and MarshalText methods, so JSONHandler embeds it as
//     JSON and TextHandler prints it as text); if it fails the value becomes the string
//     "!ERROR:" and the redacted error.
//
// A value in which nothing is found is returned unchanged, so the handler formats it as
// usual. ReplaceAttr does not allocate for strings, numbers and other non-KindAny values in
// which nothing is found; a KindAny value costs one json.Marshal.
//
// Unlike slog's own handlers, ReplaceAttr also recurses into a group value it is given.
func (r *Redactor) ReplaceAttr(groups []string, a slog.Attr) slog.Attr {
	masked := false
	if r.keyOn {
		for _, g := range groups {
			if r.keys.match(g) {
				masked = true
				break
			}
		}
	}
	a, _ = r.attr(a, masked)
	return a
}

// attr redacts a; masked means a is under a secret key. It reports whether a changed.
func (r *Redactor) attr(a slog.Attr, masked bool) (slog.Attr, bool) {
	v := a.Value
	changed := false
	if v.Kind() == slog.KindLogValuer {
		if s, ok := v.LogValuer().(Secret); ok {
			r.counts[ruleKey].Add(1)
			return slog.String(a.Key, r.maskString(string(s))), true
		}
		v = v.Resolve()
		changed = true
	}
	if masked || r.IsSecretKey(a.Key) {
		switch v.Kind() {
		case slog.KindGroup:
			if a.Key == "" { // inline group: mask its members
				return r.group(a.Key, v, true)
			}
		case slog.KindAny:
			if v.Any() == nil && a.Key == "" { // the empty Attr, which handlers ignore
				return a, false
			}
		}
		r.counts[ruleKey].Add(1)
		if v.Kind() == slog.KindString {
			return slog.String(a.Key, r.maskString(v.String())), true
		}
		return slog.String(a.Key, r.mask), true
	}
	switch v.Kind() {
	case slog.KindString:
		if s, ok := r.String(v.String()); ok {
			return slog.String(a.Key, s), true
		}
	case slog.KindInt64:
		if n := v.Int64(); n > 0 && r.isCard(uint64(n)) {
			return slog.String(a.Key, r.cardMask(uint64(n))), true
		}
	case slog.KindUint64:
		if n := v.Uint64(); r.isCard(n) {
			return slog.String(a.Key, r.cardMask(n)), true
		}
	case slog.KindGroup:
		na, ok := r.group(a.Key, v, false)
		return na, ok || changed
	case slog.KindAny:
		if nv, ok := r.anyValue(v.Any()); ok {
			return slog.Attr{Key: a.Key, Value: nv}, true
		}
	}
	if changed {
		return slog.Attr{Key: a.Key, Value: v}, true
	}
	return a, false
}

// group redacts the members of the group value v; the slice is copied only if one changes.
func (r *Redactor) group(key string, v slog.Value, masked bool) (slog.Attr, bool) {
	as := v.Group()
	var out []slog.Attr
	for i, m := range as {
		nm, ok := r.attr(m, masked)
		if !ok {
			continue
		}
		if out == nil {
			out = make([]slog.Attr, len(as))
			copy(out, as)
		}
		out[i] = nm
	}
	if out == nil {
		return slog.Attr{Key: key, Value: v}, false
	}
	return slog.Attr{Key: key, Value: slog.GroupValue(out...)}, true
}

// maskString returns the replacement of the secret string s: the mask, or its hash.
func (r *Redactor) maskString(s string) string {
	if r.hashKey == nil {
		return r.mask
	}
	return string(r.appendHashed(nil, s))
}

// isCard reports whether n is a card number and rule "card" is on.
func (r *Redactor) isCard(n uint64) bool {
	if n < 1e12 || !r.on(ruleCard) {
		return false
	}
	var buf [20]byte
	d := strconv.AppendUint(buf[:0], n, 10)
	return validCard(bytesView(d))
}

// cardMask returns the replacement of card number n and counts it.
func (r *Redactor) cardMask(n uint64) string {
	r.counts[ruleCard].Add(1)
	var buf [20]byte
	return string(r.appendMask(nil, ruleCard, string(strconv.AppendUint(buf[:0], n, 10))))
}

// anyValue redacts a KindAny value; it reports whether it changed.
func (r *Redactor) anyValue(x any) (slog.Value, bool) {
	switch x := x.(type) {
	case nil, slog.Level, *slog.Source, slog.Source, bool, float32, float64,
		int, int8, int16, int32, uint8, uint16, uint32, uintptr:
		return slog.Value{}, false
	case error:
		if s, ok := r.String(errorString(x)); ok {
			return slog.StringValue(s), true
		}
		return slog.Value{}, false
	case *url.URL:
		if x == nil {
			return slog.Value{}, false
		}
		if s, ok := r.String(x.String()); ok {
			return slog.StringValue(s), true
		}
		return slog.Value{}, false
	case url.URL:
		if s, ok := r.String(x.String()); ok {
			return slog.StringValue(s), true
		}
		return slog.Value{}, false
	case rawJSON: // already redacted
		return slog.Value{}, false
	}
	b, changed, err := r.marshal(x)
	if err != nil {
		s, _ := r.String(err.Error())
		return slog.StringValue("!ERROR:" + s), true
	}
	if !changed {
		return slog.Value{}, false
	}
	return slog.AnyValue(rawJSON(b)), true
}

// errorString returns err.Error(), or a description of the panic it caused.
func errorString(err error) (s string) {
	defer func() {
		if p := recover(); p != nil {
			s = "!PANIC: " + panicString(p)
		}
	}()
	return err.Error()
}

// rawJSON is redacted JSON in an slog.Value: JSON handlers embed it, text handlers and fmt
// print it as text.
type rawJSON []byte

// MarshalJSON returns j.
func (j rawJSON) MarshalJSON() ([]byte, error) { return j, nil }

// MarshalText returns j.
func (j rawJSON) MarshalText() ([]byte, error) { return j, nil }

// String returns j as a string.
func (j rawJSON) String() string { return string(j) }
