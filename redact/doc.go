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
//	account_key shared_access_key subscription_key functions_key master_key
//	app_key application_key license_key
//
// So "X-Api-Key", "apiKey", "API_KEY" and "x_api_key" all end with "apikey"; "db_password",
// "githubToken", "x-amz-security-token" and "X-Amz-Signature" are secret too, and so are the
// key fields of Azure connection strings and headers (AccountKey, SharedAccessKey,
// Ocp-Apim-Subscription-Key, x-functions-key) and DD_APP_KEY or NEW_RELIC_LICENSE_KEY. Matching the end
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
// messages, JSON strings), each under the rule name it is counted by and disabled with. The
// first thirteen are the original rules; their names, like all rule names, are metric labels
// (vlog_redactions_total{rule}) and do not change; a new rule gets a new name.
//
//   - "aws_access_key": AWS access key ids, AKIA, ASIA, ABIA, ACCA or A3T? and 16 more
//     [A-Z0-9], as a whole word;
//   - "aws_secret_key": a 40-character base64 value after a secret key name
//     ("aws_secret_access_key=...", "secret: ..."); other 40-character strings are left alone;
//   - "jwt": JSON Web Tokens (eyJ... . eyJ... . signature), JWE included, and the base64 of a
//     JWT (ZXlK... with an alg, typ, kid or enc header);
//   - "bearer": the credentials after "Bearer " (any case, or "Bearer+" in a form-encoded
//     value); the word stays. To tell a token from prose it must have 8 or more bytes and a
//     digit or one of "-._~+/=", or 16 or more in mixed case;
//   - "basic": the credentials after "Basic " (or "Basic+"), when they decode to
//     "user:password";
//   - "private_key": the body of a PEM block whose label contains "PRIVATE KEY" (RSA, EC, DSA,
//     OPENSSH, ENCRYPTED, PGP ... BLOCK; up to "-----END" or the end of the text), wherever it
//     starts: alone, after "password=" or "key: ", inside a quoted or escaped JSON string
//     (with \n), or form-encoded ("-----BEGIN+RSA+PRIVATE+KEY-----%0A"); header and footer
//     stay. Any PEM block that is the value of a secret key is masked whatever its label. And
//     the private lines of a PuTTY key file (after "Private-Lines:", up to "Private-MAC:");
//   - "github": ghp_, gho_, ghu_, ghs_, ghr_ and github_pat_ tokens;
//   - "slack": xoxb-, xoxp-, xoxa-, xoxr-, xoxs-, xoxo-, xoxe-, xapp- tokens and the
//     xoxe.xoxb-/xoxe.xoxp- configuration tokens;
//   - "stripe": sk_live_, sk_test_, sk_prod_, rk_live_, rk_test_, rk_prod_ keys and whsec_
//     webhook secrets;
//   - "url_password": the password of a URL, "scheme://user:password@host" becomes
//     "scheme://user:[REDACTED]@host" (a '?' or '#' in the password does not end it, unless
//     what precedes it is a port number), and of an Oracle thin JDBC URL
//     (jdbc:oracle:thin:user/password@host);
//   - "key_value": the value of a pair whose key is a secret key name, in the forms
//     password=v, password: v, "password":"v", password='v', 'password' => 'v', escaped JSON
//     (\"password\":\"v\"), query parameters (?access_token=v&sig=v), connection strings,
//     JSON-like objects and arrays ("credentials":{...}), whose content is masked up to the
//     closing bracket, and SQL's PASSWORD 'v' and IDENTIFIED BY 'v'. In a connection string
//     (a key after ';', or a value followed by ";Key="), as in "Server=h;User Id=u;Password=p
//     w;", "Password=p w;Server=h" or "AccountKey=...==;EndpointSuffix=...", the value ends at
//     ';' and may hold blanks; "host=h password=p dbname=d" (libpq) ends at a blank; ODBC's
//     Pwd={p;w} at the brace. SQL placeholders ("password = $1", "token = ?", "= :password",
//     "@p1") and template references ("${DB_PASSWORD}", "{{ .Password }}") are not secrets;
//   - "card": payment card numbers, 13 to 19 digits, contiguous or in groups separated by single
//     spaces, dashes or '+' (form encoding), which pass the Luhn check and start with the prefix
//     of a card network issuing numbers of that length. Numbers inside a longer run of
//     letters, digits or underscores (order ids like ord_4111111111111111, hex digests,
//     uuids), in dashed identifiers or in decimals are not cards; unix timestamps (ms, ns)
//     start with 1, which no network uses. JSON numbers and int64/uint64 attributes are
//     checked too.
//
// The rules added since, by family; each masks the whole token (a webhook URL its path after
// the host, the part that is the secret). The formats are those that gitleaks' default rules,
// trufflehog's detectors and GitHub secret scanning recognize by a distinctive shape: a fixed
// prefix, a fixed structure or a signature, at a fixed length or within a range.
//
// Cloud providers:
//
//   - "aws_session_token": STS session tokens (IQoJb3JpZ2luX2Vj..., FwoGZXIvYXdzE...,
//     FQoGZXIvYXdzE..., 100 or more base64 bytes);
//   - "aws_bedrock": Amazon Bedrock API keys (ABSK and 109 to 269 base64 bytes,
//     bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t...);
//   - "google": API keys (AIza and 35 [A-Za-z0-9_-]), OAuth client secrets (GOCSPX- and 28),
//     access tokens (ya29.) and refresh tokens (1//0);
//   - "azure": Entra ID (Azure AD) client secrets (3 bytes, a digit, "Q~", 31 to 34 more), the
//     "identifiable" keys of Storage, Cosmos DB, Service Bus, Event Hubs, Relay, Batch, Cache
//     for Redis, Search, Machine Learning, Container Registry, SQL, IoT, API Management and
//     Event Grid (88 base64 bytes with the service's 4-byte signature at 76, or 44 with it at
//     33), Functions keys (56 base64url bytes, "AzFu" at 44), and 84-byte DevOps PATs and
//     other "common annotated" keys (AZDO at 76, JQQJ9 at 52). Legacy storage account keys
//     (random base64) are found by their key: AccountKey=, SharedAccessKey=;
//   - "alibaba": AccessKey ids (LTAI); "tencent": SecretIds (AKID and 32);
//   - "digitalocean": doo_v1_, dop_v1_, dor_v1_ and 64 hex digits;
//   - "heroku": HRKU-AA and 58; "cloudflare": origin CA keys (v1.0-<24 hex>-<146 hex>);
//   - "flyio": fo1_, fm1a_, fm1r_, fm2_ tokens; "yandex": AQVN API keys; "akamai": akab-
//     client and access tokens.
//
// Secret managers and infrastructure tools:
//
//   - "vault": HashiCorp Vault service (hvs.) and batch (hvb.) tokens;
//   - "terraform": HCP Terraform API tokens (<14>.atlasv1.<60 to 70>);
//   - "doppler": dp.pt., dp.st., dp.sa., dp.ct., dp.scim., dp.audit. tokens;
//   - "pulumi": pul- and 40 hex digits; "onepassword": 1Password secret keys (A3-...) and
//     service account tokens (ops_eyJ...); "age": age secret keys (AGE-SECRET-KEY-1 and 58
//     bech32 characters); "tailscale": tskey-auth-, tskey-api-, tskey-client-, tskey-scim-,
//     tskey-webhook- keys; "ngrok": authtokens (2, 26, '_', 21); "defined_networking":
//     dnkey- tokens.
//
// Databases and data platforms: "databricks" (dapi and 32 hex digits), "planetscale"
// (pscale_tkn_, pscale_oauth_, pscale_pw_), "supabase" (sbp_, sb_secret_), "clickhouse"
// (4b1d and 38).
//
// Code hosts, CI and developer tools: "gitlab" (glpat-, gldt-, glrt-, glft-, glsoat-,
// glffct-, glcbt-, glimt-, glagent-, gloas-, glptt- tokens, routable ones included, runner
// registration tokens GR1348941..., _gitlab_session= cookies), "atlassian" (ATATT3 API
// tokens, ATBB Bitbucket app passwords), "openshift" (sha256~), "sourcegraph" (sgp_),
// "sonarqube" (squ_, sqp_, sqa_), "circleci" (CCIPAT_, CCIPRJ_), "buildkite" (bkua_),
// "harness" (pat./sat. tokens), "octopus" (API- and 26), "scalingo" (tk-us-), "prefect" (pnu_),
// "infracost" (ico-), "deno" (ddp_, ddw_), "figma" (figd_), "postman" (PMAK-).
//
// Package registries: "npm" (npm_ and 36), "pypi" (pypi- macaroons of pypi.org and
// test.pypi.org), "rubygems" (rubygems_), "nuget" (oy2 and 43), "docker" (dckr_pat_,
// dckr_oat_), "artifactory" (AKCp API keys, cmVmd reference tokens), "clojars" (CLOJARS_),
// "crates_io" (cio and 32).
//
// SaaS and API providers: "linear" (lin_api_, lin_oauth_), "notion" (ntn_, secret_ and 43),
// "airtable" (pat<14>.<64 hex>), "hubspot" (pat-na1-<uuid> and the other regions), "sentry"
// (sntrys_, sntryu_), "grafana" (glc_, glsa_, eyJrIjoi API keys), "newrelic" (NRAK-, NRAA-,
// NRII-, NRJS-), "dynatrace" (dt0c01.), "typeform" (tfp_), "frameio" (fio-u-), "readme"
// (rdme_), "settlemint" (sm_aat_, sm_pat_, sm_sat_), "adobe" (p8e-), "maxmind" (<6>_<29>_mmk),
// "intra42" (s-s4t2ud-, s-s4t2af-), "contentful" (CFPAT-), "mapbox" (sk.eyJ secret tokens),
// "dropbox" (sl. short-lived tokens), "facebook" (EAA... access tokens, <app id>|<secret> app
// tokens), "twitter" (AAAAAAAAAAAAAAAAAAAAAA... bearer tokens), "authress" (sc_, ext_,
// scauth_, authress_ service client keys).
//
// Mail, messaging and chat: "sendgrid" (SG.<22>.<43>), "mailgun" (key- and 32 hex digits),
// "mailchimp" (32 hex digits, -us and the datacenter), "brevo" (xkeysib-, xsmtpsib-),
// "twilio" (SK and 32 hex digits), "telegram" (bot tokens <id>:A<34>, in text or in
// api.telegram.org/bot<token> URLs), "discord" (bot tokens), "firebase" (FCM server keys
// AAAA...:APA91b...), and "webhook_url": the secret path of Slack (hooks.slack.com/services/,
// /workflows/, /triggers/), Discord (discord.com/api/webhooks/, discordapp.com, canary., ptb.,
// versioned), Microsoft Teams (*.webhook.office.com/webhookb2/, outlook.office.com/webhook/),
// Zapier (hooks.zapier.com/hooks/), IFTTT (maker.ifttt.com/trigger/.../with/key/, /use/),
// Mattermost (/hooks/<26>), Feishu and Lark (open-apis/bot/v2/hook/) and Webex
// (webexapis.com/v1/webhooks/incoming/) webhook URLs. Webhooks that carry their secret in the
// query (Google Chat's token=, Power Automate's and Logic Apps' sig=, DingTalk's
// access_token=) are covered by "key_value".
//
// Payment and commerce: "shopify" (shpat_, shpca_, shppa_, shpss_), "square" (sq0atp-,
// sq0csp-, EAAA), "braintree" (access_token$production$..., $sandbox$), "flutterwave"
// (FLWSECK-, FLWSECK_TEST-), "plaid" (access-sandbox-, access-development-,
// access-production- and a uuid), "duffel" (duffel_live_, duffel_test_), "easypost" (EZAK,
// EZTK), "shippo" (shippo_live_, shippo_test_).
//
// AI providers: "openai" (sk-proj-, sk-svcacct-, sk-admin-, sk-None- and the legacy
// sk-<20>T3BlbkFJ<20>), "anthropic" (sk-ant-api03-, sk-ant-admin01- and the like), "huggingface"
// (hf_, api_org_), "groq" (gsk_), "replicate" (r8_), "perplexity" (pplx-), "xai" (xai-),
// "openrouter" (sk-or-v1-), "langsmith" (lsv2_pt_, lsv2_sk_).
//
// Command lines: "curl_auth", the password of curl's -u/--user user:password.
//
// Besides, "key" counts values masked because of where they are: under a secret key, in a
// field tagged `log:"secret"`, or of type Secret.
//
// Only the secret part of a match is replaced. Replacing is idempotent for the default mask
// and in hash mode: redacting a redacted text changes nothing. Overlapping matches (a PEM
// block after "password=", a token inside a URL) are merged and masked once, counted by the
// rule of the first.
//
// # Encodings
//
// Secrets are found in the encodings they are logged in, and the encoded form is masked in
// place, so the record stays valid, readable JSON and keeps its encoding:
//
//   - percent-encoding (query strings, form bodies, a URL inside a query value):
//     "?q=Bearer%20<token>" becomes "?q=Bearer%20[REDACTED]",
//     "?next=postgres%3A%2F%2Fu%3Ap%40h" masks p. A text with a %XX escape is decoded and the
//     decoded text scanned too; a match there is mapped back to the bytes it was decoded from.
//     In percent-encoded text '+' is read both as a '+' and as a blank (form encoding), and
//     what either reading finds is masked; elsewhere the rules that need a blank accept a '+'
//     instead ("Bearer+<token>", "4111+1111+1111+1111");
//   - JSON escapes inside a string (a JSON document logged as a string, escaped once or
//     twice: {\"token\":\"...\"}, https:\/\/hooks.slack.com\/..., \u0026, \n in a PEM
//     block): decoded the same way. Escapes of escapes (%2520, \\\") are decoded up to three
//     times; texts over 64 KiB are decoded up to there;
//   - base64: in a Basic credential, decoded to check that it is user:password; the base64 of
//     a JWT and the formats whose prefix is itself base64 (AWS session tokens, Grafana and
//     Artifactory keys) are found as such;
//   - JSON values (from json.Marshal of maps, structs, http.Header, slices) are walked by
//     AppendJSON, which unescapes each string before redacting it and escapes the result.
//
// The cost: a text is scanned once, byte by byte; every word (a run of [A-Za-z0-9_]) is
// looked up by its first two bytes and its length in a table built from all the formats (the
// prefilter: which formats start with these two bytes, with a first word of that length), and
// only the words that pass are compared with the few prefixes that start with those two
// bytes, so the cost of a clean text does not grow with the number of formats. Separators (=, :, -, ~, |) look around
// themselves for the formats they end or start (key=value, Azure's padding, Telegram's and
// Firebase's ':', Mailchimp's "-us", Azure AD's "Q~"). Text without any of these costs one
// pass over its bytes and no allocation; no regular expression is used. A text with escapes
// is decoded into pooled buffers and scanned once more per layer, without allocating when
// nothing is found. A text with secrets costs one allocation for the result.
//
// # Verification
//
// The tests keep two generated corpora. The secret corpus (corpus_*_test.go) generates, for
// each format above, several values of its documented shape from its definition (random
// bytes of its alphabet, with the checksums of the formats that have one: GitHub's and npm's
// CRC32 in base62, Luhn for cards, bech32 for age keys, PyPI macaroons, signed JWTs, Azure's
// signatures) and logs each value in every way services log them (message, attribute under
// a neutral key, error, wrapped error, map, struct, http.Header, []string, fmt's %v of a map
// in the message) and in every encoding above, through vlog.New, through handlers'
// JSONHandler with a Redactor and through Handler; it fails if any piece of a secret is left
// in the output, in any form (the line, its strings, their decoded forms). Checking the JSON
// line is enough for every output: stdout, the file and VictoriaLogs carry it as it is, and
// the forward (FireLens) transport transcodes it to msgpack with its strings unchanged. The
// clean corpus (clean_corpus_test.go) generates look-alikes (UUIDs, ULIDs, hex digests,
// trace ids, ARNs, ISBNs, order and request ids, timestamps, base64 images and protobufs,
// URLs, SQL, user agents, paths, near misses of the formats) in the same encodings and fails
// if more than 0.5% of them are changed. The fuzz targets check that the output is valid
// UTF-8 (valid JSON for AppendJSON), within the length bound and idempotent, and that a
// secret found in a text is found in the text percent-encoded and JSON-escaped.
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
// Redaction is a safety net, not a guarantee. What is deliberately not detected, and what is
// weak:
//
//   - Secrets that look like nothing in particular cannot be told from a word or an id: a bare
//     password with no context ("hunter2"), a random 32-hex API key (Datadog, Mailgun's newer
//     keys, Okta, many others), an opaque token without a known prefix, a UUID used as a key
//     (Heroku's older keys, Snyk). They are found only next to a secret key name (as a key,
//     key=value, a query parameter or a connection string field) or after Bearer/Basic.
//     gitleaks' rules that need a provider keyword near a generic value (datadog, okta,
//     twitter api keys, ...) are not implemented: a secret-named key covers most of them, and
//     a keyword alone over-masks.
//   - Secrets split across records, compressed, encrypted or in base64 other than the forms
//     above (a base64-encoded config file, a Kubernetes Secret's data, msgpack) are not found.
//   - Unquoted key=value values end at a blank or one of &;,"'`<>)]}\ (in connection strings
//     at ';'), so a password containing one of those is masked only up to it; quote values, or
//     log them under a secret key. A '/' in a URL's password ends the authority, as in
//     net/url.
//   - "key: value" pairs are found in prose too: "invalid password: too short" masks "too".
//   - In JSON-like text, brackets inside escaped strings (\"}\") can end a masked object early;
//     use AppendJSON for JSON.
//   - Suffix matching over-catches keys that merely end like a name ("possession" ends with
//     "session", "has_signature" with "signature"); use IgnoreKeys.
//   - A Luhn-valid 13-19 digit number starting with 2-6 is masked as a card even if it is an
//     id; about one such number in ten passes the check. Likewise an id that happens to have
//     a token's exact shape (a 26-character [A-Z0-9] id after "API-", "SK" and 32 hex digits)
//     is masked.
//   - Fixed-length formats are matched at their documented length: a token truncated or
//     extended by a byte of its own alphabet is not recognized by its shape.
//   - Keys are matched in ASCII only; non-ASCII letters are not case-folded.
//   - Struct tags are found by reflection and applied by JSON member name, so a tag also masks
//     members of the same name elsewhere in the value; a type with its own MarshalJSON may
//     hide a tagged field's name.
//   - Secret shows [DefaultMask] through its own methods; only ReplaceAttr and Handler can
//     apply a custom mask or hash to it.
//   - ReplaceAttr and Handler encode every KindAny value with json.Marshal to look inside it,
//     once more than the handler itself does.
//   - Every rule is a metric label: vlog_redactions_total has one series per rule (over a
//     hundred, 0 included).
package redact
