package redact_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.vlog.dev/handlers"
)

// The clean corpus: values that look like secrets to a naive matcher (long random-looking
// strings, ids with prefixes, base64, numbers) and are not. Redaction must leave them alone.
type cleanKind struct {
	name string
	gen  func(g gen) string
}

// cleanPerKind is how many values the clean corpus generates of each kind.
const cleanPerKind = 60

func (g gen) ulid() string { return g.from("01234567", 1) + g.from(crockf, 25) }

var cleanKinds = []cleanKind{
	{"uuid v4", func(g gen) string { return g.uuid() }},
	{"uuid upper", func(g gen) string { return strings.ToUpper(g.uuid()) }},
	{"uuid v7", func(g gen) string {
		h := fmt.Sprintf("%012x", 0x18c0000000+g.r.Int64N(1<<30)) + "7" + g.hex(3) + g.pick("8", "9", "a", "b") + g.hex(15)
		return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	}},
	{"ulid", func(g gen) string { return g.ulid() }},
	{"hex digest", func(g gen) string { return g.hex([]int{8, 16, 32, 40, 56, 64, 96, 128}[g.r.IntN(8)]) }},
	{"hex digest upper", func(g gen) string { return strings.ToUpper(g.hex([]int{32, 40, 64}[g.r.IntN(3)])) }},
	{"prefixed digest", func(g gen) string { return g.pick("sha256:", "sha1=", "md5:", "etag ", "sha512-") + g.hex(64) }},
	{"docker image", func(g gen) string {
		return "ghcr.io/acme/orders-api:1." + fmt.Sprint(g.r.IntN(30)) + ".2@sha256:" + g.hex(64)
	}},
	{"git sha", func(g gen) string { return g.pick("commit ", "rev=", "") + g.hex([]int{40, 7}[g.r.IntN(2)]) }},
	{"W3C traceparent", func(g gen) string { return "00-" + g.hex(32) + "-" + g.hex(16) + "-0" + g.pick("0", "1") }},
	{"trace and span ids", func(g gen) string { return "trace_id=" + g.hex(32) + " span_id=" + g.hex(16) }},
	{"X-Ray trace id", func(g gen) string {
		return "Root=1-" + fmt.Sprintf("%08x", 0x65000000+g.r.IntN(1<<24)) + "-" + g.hex(24) + ";Parent=" + g.hex(16) + ";Sampled=1"
	}},
	{"AWS ARN", func(g gen) string {
		acct := g.from(digits, 12)
		return g.pick(
			"arn:aws:iam::"+acct+":role/orders-api-task-role",
			"arn:aws:s3:::acme-"+g.hex(6)+"/exports/2024/05/01/report.csv",
			"arn:aws:lambda:eu-west-1:"+acct+":function:resize-"+g.hex(4),
			"arn:aws:sqs:us-east-1:"+acct+":orders-dlq",
			"arn:aws:ecs:eu-west-1:"+acct+":task/prod/"+g.hex(32),
			"arn:aws:secretsmanager:eu-west-1:"+acct+":secret:prod/orders/db-"+g.from(alnum, 6),
			"arn:aws:kms:eu-west-1:"+acct+":key/"+g.uuid(),
			"arn:aws:ssm:eu-west-1:"+acct+":parameter/prod/orders/api_token",
			"arn:aws:dynamodb:eu-west-1:"+acct+":table/orders/stream/2024-05-01T12:34:56.789",
		)
	}},
	{"ISBN", func(g gen) string {
		d := "978" + g.from(digits, 9)
		sum := 0
		for i, c := range d {
			w := 1
			if i%2 == 1 {
				w = 3
			}
			sum += w * int(c-'0')
		}
		isbn := d + fmt.Sprint((10-sum%10)%10)
		return g.pick("ISBN "+isbn, "ISBN-13: "+isbn[:3]+"-"+isbn[3:4]+"-"+isbn[4:8]+"-"+isbn[8:12]+"-"+isbn[12:], "isbn="+isbn)
	}},
	{"order and request ids", func(g gen) string {
		return g.pick("ord_"+g.from(digits, 14), "ord-"+g.hex(12), "req-"+g.hex(12), "REQ"+g.from(digits, 10),
			"INV-2024-"+g.from(digits, 6), "cus_"+g.from(alnum, 14), "ch_"+g.from(alnum, 24), "pi_"+g.from(alnum, 24),
			"evt_"+g.from(alnum, 24), "in_"+g.from(alnum, 24), "pk_live_"+g.from(alnum, 24), "txn_"+g.hex(20),
			g.from("123456789", 1)+g.from(digits, 9), "order "+g.from(digits, 8)+" of user "+g.from(digits, 6))
	}},
	{"k8s and ECS names", func(g gen) string {
		return g.pick("orders-api-7f9c8b6d5-"+g.from(lowerABC+digits, 5), "ip-10-0-"+fmt.Sprint(g.r.IntN(255))+"-"+fmt.Sprint(g.r.IntN(255))+".eu-west-1.compute.internal",
			"ecs/orders-api/"+g.hex(32), "i-0"+g.hex(16), "vol-0"+g.hex(16), "sg-0"+g.hex(16), "subnet-0"+g.hex(16))
	}},
	{"snowflake ids", func(g gen) string { return "1" + g.from(digits, 18) }},
	{"timestamps", func(g gen) string {
		t := time.Unix(1.6e9+g.r.Int64N(2e8), g.r.Int64N(1e9)).UTC()
		return g.pick(t.Format(time.RFC3339), t.Format(time.RFC3339Nano), t.Format(time.RFC1123), t.Format("2006-01-02 15:04:05.000"),
			t.Format(time.Kitchen), fmt.Sprint(t.Unix()), fmt.Sprint(t.UnixMilli()), fmt.Sprint(t.UnixMicro()), fmt.Sprint(t.UnixNano()),
			"took "+fmt.Sprint(g.r.IntN(900))+"."+fmt.Sprint(g.r.IntN(9))+"ms", t.Format(time.DateOnly))
	}},
	{"base64 image", func(g gen) string {
		png := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), g.bytes(g.between(40, 300))...)
		return "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)
	}},
	{"base64 protobuf", func(g gen) string {
		b := []byte{0x0a, byte(g.between(5, 20))}
		b = append(b, g.from(lowerABC, int(b[1]))...)
		b = append(b, 0x10, byte(g.r.IntN(128)), 0x1a, 0x10)
		b = append(b, g.bytes(16+g.r.IntN(100))...)
		if g.r.IntN(2) == 0 {
			return base64.URLEncoding.EncodeToString(b)
		}
		return base64.StdEncoding.EncodeToString(b)
	}},
	{"base64 random", func(g gen) string { return base64.StdEncoding.EncodeToString(g.bytes(g.between(8, 200))) }},
	{"URL", func(g gen) string {
		q := url.Values{"page": {fmt.Sprint(g.r.IntN(50))}, "sort": {g.pick("asc", "desc")}, "q": {g.pick("hello world", "golang slog", "a+b=c", "100% cotton", "ünïcode")}}
		return g.pick("https://api.example.com/v1/orders/"+g.from(digits, 6)+"?"+q.Encode(),
			"https://www.example.com/search?"+q.Encode()+"#results",
			"http://localhost:8080/health?verbose=1",
			"http://localhost:8080?email=bob@example.com",
			"https://s3.eu-west-1.amazonaws.com/acme-exports/2024%2F05%2Freport.csv",
			"https://example.com/a%20b/c%2Fd?x=%E2%9C%93",
			"https://github.com/acme/orders/pull/"+fmt.Sprint(g.r.IntN(9999))+"/files",
			"wss://stream.example.com/v2/ws?channel=orders&v=2",
			"/api/v1/users/"+g.uuid()+"/sessions?limit=20")
	}},
	{"SQL", func(g gen) string {
		return g.pick(
			"SELECT id, email, created_at FROM users WHERE email = $1 AND deleted_at IS NULL LIMIT 50",
			"UPDATE users SET password = $1, updated_at = now() WHERE id = $2",
			"SELECT * FROM api_tokens WHERE token = ? AND expires_at > ?",
			"INSERT INTO orders (id, user_id, amount) VALUES ($1, $2, $3) RETURNING id",
			"SELECT count(*) FROM sessions WHERE user_id = :user_id AND session = :session",
			"DELETE FROM password_resets WHERE created_at < now() - interval '1 day'",
			"SELECT password_hash, salt FROM credentials_meta WHERE user_id = @p1",
			fmt.Sprintf("SELECT o.id FROM orders o JOIN users u ON u.id = o.user_id WHERE o.id = %d", g.r.IntN(1e6)))
	}},
	{"user agents", func(g gen) string {
		return g.pick("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
			"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
			"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
			"curl/8.5.0", "Go-http-client/2.0", "aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21.5 md/GOOS#linux api/s3#1.47.7",
			"okhttp/4.12.0", "python-requests/2.31.0", "ELB-HealthChecker/2.0", "kube-probe/1.28")
	}},
	{"file paths", func(g gen) string {
		return g.pick("/var/lib/orders/data/"+g.hex(8)+".db", `C:\Users\bob\AppData\Local\Temp\build-`+g.hex(6)+`\out.log`,
			"/home/app/.config/orders/secrets.yaml", "internal/handlers/handler.go:"+fmt.Sprint(g.r.IntN(900)),
			"s3://acme-exports/2024/05/01/part-"+g.from(digits, 5)+".parquet", "./testdata/fixtures/token_test.json",
			"/etc/ssl/private/server.key", "/run/secrets/db_password", `\\fileserver\share\reports\q1.xlsx`)
	}},
	{"network", func(g gen) string {
		return g.pick(fmt.Sprintf("10.%d.%d.%d:%d", g.r.IntN(255), g.r.IntN(255), g.r.IntN(255), 1024+g.r.IntN(60000)),
			"2001:db8::"+g.hex(4)+":"+g.hex(4), "fe80::1%eth0", "de:ad:be:ef:"+g.hex(2)+":"+g.hex(2),
			"orders-"+g.hex(4)+".internal:5432", "bob+"+g.hex(4)+"@example.com")
	}},
	{"log messages", func(g gen) string {
		return g.pick("password reset email sent to user "+g.from(digits, 5), "token refreshed for session "+g.hex(8),
			"Bearer authentication failed: token expired", "secret rotated successfully", "api key created",
			"GET /api/v1/orders?page=2&limit=50 200 13.2ms", "connection pool: 8 idle, 2 in use",
			"retrying in 2s (attempt 3/5)", "cache miss for key user:"+g.from(digits, 6), "Basic auth is disabled",
			"token_count=5 max_tokens=4096 prompt_tokens=812", "the bearer of this note", "key rotation scheduled")
	}},
	{"versions and numbers", func(g gen) string {
		return g.pick("v1."+fmt.Sprint(g.r.IntN(40))+"."+fmt.Sprint(g.r.IntN(9)), fmt.Sprintf("%.2f", g.r.Float64()*1000),
			"+1 555 "+g.from(digits, 3)+" "+g.from(digits, 4), "EUR 1,299.00", fmt.Sprint(g.r.Int64()), "0x"+g.hex(16))
	}},
	{"near misses", func(g gen) string {
		// The prefixes of the formats with the wrong length or alphabet, and words that
		// start like them.
		return g.pick("ghp_"+g.from(alnum, 12), "sk_live_short", "xoxb-"+g.from(digits, 4), "AKIA"+g.from(upper, 15),
			"npm_"+g.from(alnum, 20), "glpat-"+g.from(alnum, 10), "SG."+g.from(alnum, 10), "hf_"+g.from(lowerABC, 20),
			"AIza"+g.from(alnum, 20), "key-value store", "key-"+g.from(lowerABC, 32), "API-GATEWAY-TIMEOUT",
			"sk-"+g.from(alnum, 30), "pat."+g.from(alnum, 10), "dapi"+g.from(lowerABC, 32), "ACCA certified",
			"sl.no", "EAA"+g.from(upper, 1)+g.from(alnum, 40), "SK"+g.from(upper, 32), "cio"+g.from(alnum, 20),
			"MTk4NjIyNDgzNDcxOTI1MjQ4", "pypi-"+g.from(alnum, 30), "whsec_"+g.from(alnum, 8), "AGE-"+g.from(upper, 10),
			"v1.0-"+g.hex(24), "hvs."+g.from(alnum, 20), "shpat_"+g.hex(20), "LTAI"+g.from(alnum, 8), "A3-"+g.from(upper, 6),
			"sha256~"+g.from(alnum, 20), "dp.pt."+g.from(alnum, 10), "ops_"+g.from(alnum, 20), "gsk_"+g.from(alnum, 20))
	}},
	{"JSON", func(g gen) string {
		return mustJSON(map[string]any{"id": g.uuid(), "user": "bob", "items": []int{1, 2}, "total": 19.99, "trace": g.hex(32)})
	}},
}

// TestCleanCorpus: the false positives of redaction on the clean corpus, in plain text and
// in the encodings the decoders undo, must stay under 0.5% of the values.
func TestCleanCorpus(t *testing.T) {
	r := mustNew(t, nil)
	g := gen{rand.New(rand.NewPCG(3, 0xc1ea))}
	var buf bytes.Buffer
	l := slog.New(handlers.NewJSONHandler(&buf, &handlers.Options{Redactor: r}))
	total, fp := 0, 0
	byKind := map[string]int{}
	var examples []string
	check := func(kind, form, v string, changed bool, out string) {
		total++
		if changed {
			fp++
			byKind[kind]++
			if len(examples) < 30 {
				examples = append(examples, fmt.Sprintf("%s (%s): %q -> %q", kind, form, v, out))
			}
		}
	}
	for _, k := range cleanKinds {
		for n := 0; n < cleanPerKind; n++ {
			v := k.gen(g)
			for _, f := range []struct{ form, text string }{
				{"plain", v},
				{"in a message", "processed " + v + " ok"},
				{"query", "GET /x?q=" + url.QueryEscape(v) + "&page=1"},
				{"percent-encoded", "/x?q=" + url.PathEscape(v)},
				{"JSON in a string", mustJSON(map[string]string{"value": v})},
				{"JSON-escaped", mustJSON(mustJSON(map[string]string{"value": v}))},
			} {
				out, changed := r.String(f.text)
				check(k.name, f.form, f.text, changed, out)
			}
			// Through the handler, as an attribute and inside a map.
			buf.Reset()
			l.Info("m", "value", v, "data", map[string]string{"value": v})
			var rec struct {
				Value string
				Data  map[string]string
			}
			if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
				t.Fatalf("%s: %v: %s", k.name, err, buf.Bytes())
			}
			check(k.name, "handler", v, rec.Value != v || rec.Data["value"] != v, buf.String())
		}
	}
	rate := float64(fp) / float64(total)
	t.Logf("clean corpus: %d kinds, %d values, %d checks: %d false positives (%.3f%%) %v", len(cleanKinds),
		len(cleanKinds)*cleanPerKind, total, fp, 100*rate, byKind)
	for _, e := range examples {
		t.Log(e)
	}
	if rate >= 0.005 {
		t.Errorf("false positives %.3f%% of the clean corpus, want < 0.5%%", 100*rate)
	}
	if len(r.Counts()) > 0 && fp == 0 {
		t.Errorf("counts %v without a false positive", r.Counts())
	}
}
