// Package redact finds secrets in log records and masks them, keeping the rest readable.
//
// A [Redactor], made once by [New], is used at four levels:
//
//   - a hand-written encoder calls [Redactor.IsSecretKey] for every attribute key and, for a
//     secret key, writes [Redactor.MaskKey] (or [Redactor.MaskKeyString] for a string value)
//     instead of the value; it passes the message and every other string value through
//     [Redactor.String]. On the common path, where nothing is found, these neither allocate
//     nor count;
//   - JSON values (from json.Marshal of arbitrary Go values) go through [Redactor.AppendJSON],
//     or are encoded by [Redactor.Marshal], which also honours struct tags;
//   - users of slog.JSONHandler and slog.TextHandler set [Redactor.ReplaceAttr] as their
//     ReplaceAttr option;
//   - [NewHandler] wraps any slog.Handler and redacts records (message, attributes, WithAttrs
//     attributes and groups) before passing them on.
//
// Besides, a value of type [Secret] never shows its content, and a struct field tagged
//
//	Password string `log:"secret"`
//
// is masked by Marshal, and so by ReplaceAttr and Handler.
//
// # Secret keys
//
// A key is secret when its normalized form (ASCII letters lowercased; '-', '_', '.' and ' '
// dropped) ends with one of these names, normalized the same way:
//
//	password passwords passwd pwd passphrase
//	secret secrets client_secret secret_key secret_access_key
//	token access_token refresh_token id_token api_key
//	authorization proxy-authorization cookie cookies set-cookie
//	session session_id private_key credential credentials signature sig
//
// So "X-Api-Key", "apiKey", "API_KEY" and "x_api_key" all end with "apikey"; "db_password",
// "githubToken", "x-amz-security-token" and "X-Amz-Signature" are secret too. Matching the end
// of the key, not any part of it, keeps look-alikes out: "token_count", "tokens", "max_tokens",
// "secret_santa", "session_count" and "password_reset_required" are not secret. The decisions
// worth knowing: session ids are secret (a session id is a bearer credential); pagination
// tokens ("next_page_token") and "PWD" (the shell variable) are caught too, and can be
// exempted with [Options.IgnoreKeys]. The value under a secret key is replaced whole, whatever
// its type; for JSON objects and slog groups this applies at any depth, and everything inside
// a group (or WithGroup) with a secret name is masked.
//
// # Value rules
//
// [Redactor.String] looks for these secrets in free text (messages, string values, error
// messages, JSON strings), each under the rule name it is counted by and disabled with:
//
//   - "aws_access_key": AWS access key ids, AKIA or ASIA and 16 more [A-Z0-9], as a whole word;
//   - "aws_secret_key": a 40-character base64 value after a secret key name
//     ("aws_secret_access_key=...", "secret: ..."); other 40-character strings are left alone;
//   - "jwt": JSON Web Tokens (eyJ... . eyJ... . signature), JWE included;
//   - "bearer": the credentials after "Bearer " (any case); the word stays. To tell a token from
//     prose it must have 8 or more bytes and a digit or one of "-._~+/=", or 16 or more in mixed
//     case;
//   - "basic": the credentials after "Basic ", when they decode to "user:password";
//   - "private_key": the body of a PEM block whose label contains "PRIVATE KEY" (up to
//     "-----END " or the end of the text); header and footer stay;
//   - "github": ghp_, gho_, ghu_, ghs_, ghr_ and github_pat_ tokens;
//   - "slack": xoxb-, xoxp-, xoxa-, xoxr-, xoxs-, xoxe- and xapp- tokens;
//   - "stripe": sk_live_, sk_test_, rk_live_, rk_test_ keys and whsec_ webhook secrets;
//   - "url_password": the password of a URL, "scheme://user:password@host" becomes
//     "scheme://user:[REDACTED]@host";
//   - "key_value": the value of a pair whose key is a secret key name, in the forms
//     password=v, password: v, "password":"v", password='v', escaped JSON (\"password\":\"v\"),
//     query parameters (?access_token=v&sig=v), connection strings (Password=v w;), where
//     the value ends at ';', and JSON-like objects and arrays ("credentials":{...}), whose
//     content is masked up to the closing bracket;
//   - "card": payment card numbers, 13 to 19 digits, contiguous or in groups separated by single
//     spaces or dashes, which pass the Luhn check and start with the prefix of a card network
//     issuing numbers of that length. Numbers inside a longer run of letters, digits or
//     underscores (order ids like ord_4111111111111111, hex digests, uuids), in dashed
//     identifiers or in decimals are not cards; unix timestamps (ms, ns) start with 1, which no
//     network uses. JSON numbers and int64/uint64 attributes are checked too.
//
// Besides, "key" counts values masked because of where they are: under a secret key, in a
// field tagged `log:"secret"`, or of type Secret.
//
// Only the secret part of a match is replaced. Replacing is idempotent for the default mask
// and in hash mode: redacting a redacted text changes nothing. Rules start from cheap triggers
// (the first bytes of a word, '=', ':', "-----"), so text without them costs one pass over
// its bytes and no allocation; no regular expression is used.
//
// # Options
//
// Extend with [Options.Keys] (more key names, matched like the built-in ones); narrow with
// [Options.IgnoreKeys] (keys that are never secret, and built-in names to drop) and
// [Options.DisableRules] (rule names as above; "key" turns off masking by key name). Disable
// everything with DisableRules: RuleNames(). [Options.Mask] sets the replacement (default
// "[REDACTED]"). [Options.HashKey] makes the replacement "[REDACTED:" + the first 12 hex digits
// of HMAC-SHA256(HashKey, secret) + "]", so that records showing the same secret can be
// correlated without showing it: keep the key secret, or short secrets can be guessed by
// brute force. [Redactor.Counts] reports how many secrets each rule masked.
//
// # Limits
//
// Redaction is a safety net, not a guarantee. Known limits:
//
//   - Secrets that look like nothing in particular (a random password in prose, an opaque
//     token without a known prefix) are found only next to a secret key name.
//   - Unquoted key=value values end at a blank or one of &;,"'`<>)]}\ so a password containing
//     one of those is masked only up to it; quote values, or log them under a secret key.
//   - "key: value" pairs are found in prose too: "invalid password: too short" masks "too".
//   - In JSON-like text, brackets inside escaped strings (\"}\") can end a masked object early;
//     use AppendJSON for JSON.
//   - Suffix matching over-catches keys that merely end like a name ("possession" ends with
//     "session", "has_signature" with "signature"); use IgnoreKeys.
//   - A Luhn-valid 13-19 digit number starting with 2-6 is masked as a card even if it is an
//     id; about one such number in ten passes the check.
//   - Keys are matched in ASCII only; non-ASCII letters are not case-folded.
//   - Struct tags are found by reflection and applied by JSON member name, so a tag also masks
//     members of the same name elsewhere in the value; a type with its own MarshalJSON may
//     hide a tagged field's name.
//   - Secret shows [DefaultMask] through its own methods; only ReplaceAttr and Handler can
//     apply a custom mask or hash to it.
//   - ReplaceAttr and Handler encode every KindAny value with json.Marshal to look inside it,
//     once more than the handler itself does.
package redact
