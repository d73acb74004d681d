package redact_test

import (
	"fmt"
	"strings"
)

// secretFormat generates values of one format; rule is the rule expected to mask it.
type secretFormat struct {
	rule, name string
	gen        func(g gen) (value string, secrets []string)
}

// token is a value whose random part after prefix is the secret.
func token(prefix, body string) (string, []string) { return prefix + body, []string{body} }

// whole is a value that is secret as a whole.
func whole(v string) (string, []string) { return v, []string{v} }

var secretFormats = []secretFormat{
	// The formats of the original rules.
	{"aws_access_key", "AKIA", func(g gen) (string, []string) {
		return whole(g.pick("AKIA", "ASIA", "ABIA", "ACCA") + g.from(upper+"234567", 16))
	}},
	{"aws_access_key", "A3T", func(g gen) (string, []string) { return whole("A3T" + g.from(upper+digits, 17)) }},
	{"aws_secret_key", "secret after its key", func(g gen) (string, []string) {
		s := g.from(b64std, 40)
		switch g.r.IntN(3) {
		case 0:
			return "aws_secret_access_key=" + s, []string{s}
		case 1:
			return "AWS_SECRET_ACCESS_KEY: " + s, []string{s}
		}
		return `{"AccessKeyId":"AKIA` + g.from(upper, 16) + `","SecretAccessKey":"` + s + `"}`, []string{s}
	}},
	{"jwt", "HS256", func(g gen) (string, []string) { return whole(g.jwtToken()) }},
	{"jwt", "base64 of a JWT", func(g gen) (string, []string) { return whole(b64raw([]byte(g.jwtToken()))) }},
	{"bearer", "opaque", func(g gen) (string, []string) {
		t := g.from(alnum+"-._~", 32)
		return g.pick("Authorization: Bearer ", "bearer ", "Bearer ") + t, []string{t}
	}},
	{"basic", "user:password", func(g gen) (string, []string) {
		c := b64raw([]byte("svc-" + g.hex(4) + ":" + g.password(16)))
		return "Authorization: Basic " + c, []string{c}
	}},
	{"private_key", "PEM", func(g gen) (string, []string) {
		return g.pem(g.pick("RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "PGP PRIVATE KEY BLOCK", "DSA PRIVATE KEY"), g.between(2, 6))
	}},
	{"private_key", "PEM after password=", func(g gen) (string, []string) {
		block, body := g.pem("RSA PRIVATE KEY", 3)
		return g.pick("password=", "private_key: ", "key=") + block, body
	}},
	{"private_key", "PuTTY", func(g gen) (string, []string) {
		var body []string
		for i := 0; i < 4; i++ {
			body = append(body, g.from(b64std, 64))
		}
		return "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy\nPublic-Lines: 2\n" + g.from(b64std, 64) + "\n" + g.from(b64std, 20) +
			"\nPrivate-Lines: 4\n" + strings.Join(body, "\n") + "\nPrivate-MAC: " + g.hex(64), body
	}},
	{"github", "classic", func(g gen) (string, []string) {
		r := g.from(base62, 30)
		return token(g.pick("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r+base62CRC(r))
	}},
	{"github", "fine-grained", func(g gen) (string, []string) {
		return token("github_pat_", "11"+g.from(upper+digits, 20)+"_"+g.from(alnum, 59))
	}},
	{"slack", "bot", func(g gen) (string, []string) {
		return token("xoxb-", g.digits(12)+"-"+g.digits(13)+"-"+g.from(alnum, 24))
	}},
	{"slack", "user", func(g gen) (string, []string) {
		return token("xoxp-", g.digits(12)+"-"+g.digits(12)+"-"+g.digits(13)+"-"+g.hex(32))
	}},
	{"slack", "app", func(g gen) (string, []string) {
		return token("xapp-", "1-A"+g.from(upper+digits, 10)+"-"+g.digits(13)+"-"+g.hex(64))
	}},
	{"slack", "config", func(g gen) (string, []string) {
		return token("xoxe.xoxp-", "1-"+g.from(upper+digits, 163))
	}},
	{"stripe", "secret", func(g gen) (string, []string) {
		return token(g.pick("sk_live_", "sk_test_", "rk_live_", "rk_test_", "sk_prod_"), g.from(alnum, []int{24, 99}[g.r.IntN(2)]))
	}},
	{"stripe", "webhook", func(g gen) (string, []string) { return token("whsec_", g.from(alnum, 32)) }},
	{"url_password", "URL", func(g gen) (string, []string) {
		pw := g.password(16)
		return g.pick("postgres", "mysql", "mongodb+srv", "redis", "amqp", "sqlserver", "https", "ftp") + "://svc:" + pw + "@db-" + g.hex(4) + ".internal:5432/app", []string{pw}
	}},
	{"url_password", "Oracle thin", func(g gen) (string, []string) {
		pw := g.password(14)
		return "jdbc:oracle:thin:scott/" + pw + "@//db.internal:1521/ORCL", []string{pw}
	}},
	{"key_value", "connection string, semicolons", func(g gen) (string, []string) {
		pw := g.password(12) + " " + g.password(6)
		return "Server=tcp:db.example.com,1433;Initial Catalog=app;User ID=svc;" + g.pick("Password", "password", "Pwd", "pwd", "PWD") + "=" + pw + ";Encrypt=True;", []string{pw}
	}},
	{"key_value", "connection string, password first", func(g gen) (string, []string) {
		pw := g.password(10) + " " + g.password(8)
		return "Password=" + pw + ";Server=db.internal;Database=orders", []string{pw}
	}},
	{"key_value", "connection string, blanks", func(g gen) (string, []string) {
		pw := g.password(16)
		return "host=db.internal port=5432 user=app password=" + pw + " dbname=orders sslmode=require", []string{pw}
	}},
	{"key_value", "connection string, spaces around", func(g gen) (string, []string) {
		pw := g.password(8) + " " + g.password(8)
		return "Data Source=db; Initial Catalog=app; User Id=sa; Password = " + pw + " ; Pooling=true", []string{pw}
	}},
	{"key_value", "ODBC braces", func(g gen) (string, []string) {
		pw := g.password(16)
		return "Driver={ODBC Driver 18 for SQL Server};Server=db;Uid=sa;Pwd={" + pw + "};", []string{pw}
	}},
	{"key_value", "Azure storage", func(g gen) (string, []string) {
		k := g.from(b64std, 86) + "=="
		return "DefaultEndpointsProtocol=https;AccountName=acct" + g.hex(4) + ";AccountKey=" + k + ";EndpointSuffix=core.windows.net", []string{k}
	}},
	{"key_value", "Azure Service Bus", func(g gen) (string, []string) {
		k := g.from(b64std, 43) + "="
		return "Endpoint=sb://ns-" + g.hex(4) + ".servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=" + k, []string{k}
	}},
	{"key_value", "query parameter", func(g gen) (string, []string) {
		t := g.from(alnum, 28)
		return "https://api.example.com/v1/items?page=2&" + g.pick("access_token", "api_key", "client_secret", "sig", "X-Amz-Signature", "token") + "=" + t + "&sort=asc", []string{t}
	}},
	{"key_value", "SQL", func(g gen) (string, []string) {
		pw := g.password(14)
		return g.pick("CREATE USER app WITH PASSWORD '", "ALTER ROLE app PASSWORD '", "CREATE USER 'app'@'%' IDENTIFIED BY '") + pw + "'", []string{pw}
	}},
	{"key_value", "PHP array", func(g gen) (string, []string) {
		pw := g.password(14)
		return "array('user' => 'app', 'password' => '" + pw + "')", []string{pw}
	}},
	{"card", "contiguous", func(g gen) (string, []string) { return whole(g.card()) }},
	{"card", "grouped", func(g gen) (string, []string) {
		c := g.card()
		sep := g.pick(" ", "-")
		var groups []string
		for i := 0; i < len(c); i += 4 {
			groups = append(groups, c[i:min(i+4, len(c))])
		}
		v := strings.Join(groups, sep)
		return v, []string{v}
	}},
	{"curl_auth", "curl -u", func(g gen) (string, []string) {
		pw := g.password(14)
		return "curl " + g.pick("-u ", "--user ", "--user=") + "admin:" + pw + " https://api.example.com/v1/status", []string{pw}
	}},

	// Cloud providers.
	{"aws_session_token", "STS", func(g gen) (string, []string) {
		return token(g.pick("IQoJb3JpZ2luX2Vj", "FwoGZXIvYXdzE"), g.from(b64std, g.between(200, 400)))
	}},
	{"aws_bedrock", "long-lived", func(g gen) (string, []string) { return token("ABSK", g.from(b64std, 132)) }},
	{"google", "API key", func(g gen) (string, []string) { return token("AIza", g.from(b64url, 35)) }},
	{"google", "OAuth client secret", func(g gen) (string, []string) { return token("GOCSPX-", g.from(b64url, 28)) }},
	{"google", "OAuth access token", func(g gen) (string, []string) { return token("ya29.", g.from(b64url, g.between(100, 200))) }},
	{"google", "OAuth refresh token", func(g gen) (string, []string) { return token("1//0", g.from(b64url, g.between(60, 100))) }},
	{"azure", "storage identifiable key", func(g gen) (string, []string) {
		return whole(g.azureKey64(g.pick("+ASt", "ACDb", "AzCa", "+ABa", "+AMC")))
	}},
	{"azure", "Service Bus identifiable key", func(g gen) (string, []string) {
		return whole(g.azureKey32(g.pick("+ASb", "+AEh", "+ARm", "AIoT", "APIM", "AzSe")))
	}},
	{"azure", "Functions key", func(g gen) (string, []string) {
		return whole(g.from(b64url, 44) + "AzFu" + g.from(b64url, 5) + g.pick("A", "Q", "g", "w") + "==")
	}},
	{"azure", "AD client secret", func(g gen) (string, []string) {
		return whole(g.from(alnum+"_~.", 3) + g.pick("7", "8") + "Q~" + g.from(alnum+"_~.-", 34))
	}},
	{"azure", "DevOps PAT", func(g gen) (string, []string) { return whole(g.from(alnum, 76) + "AZDO" + g.from(alnum, 4)) }},
	{"azure", "common annotated key", func(g gen) (string, []string) {
		return whole(g.from(alnum, 52) + "JQQJ9" + g.pick("9", "D", "H") + g.from(alnum, 1) + g.from("ABCDEFGHIJKL", 1) + g.from(alnum, 16) + g.from(upper, 1) + g.from(alnum, 7))
	}},
	{"alibaba", "AccessKey ID", func(g gen) (string, []string) { return token("LTAI", g.from(alnum, 20)) }},
	{"tencent", "SecretId", func(g gen) (string, []string) { return token("AKID", g.from(alnum, 32)) }},
	{"digitalocean", "token", func(g gen) (string, []string) { return token(g.pick("doo_v1_", "dop_v1_", "dor_v1_"), g.hex(64)) }},
	{"heroku", "API key v2", func(g gen) (string, []string) { return token("HRKU-AA", g.from(b64url, 58)) }},
	{"cloudflare", "origin CA key", func(g gen) (string, []string) { return token("v1.0-", g.hex(24)+"-"+g.hex(146)) }},
	{"flyio", "token", func(g gen) (string, []string) {
		if g.r.IntN(2) == 0 {
			return token("fo1_", g.from(b64url, 43))
		}
		return token(g.pick("fm1a_", "fm1r_", "fm2_"), g.from(b64std, 150)+"==")
	}},
	{"yandex", "API key", func(g gen) (string, []string) { return token("AQVN", g.from(b64url, 36)) }},
	{"akamai", "client token", func(g gen) (string, []string) {
		return token("akab-", g.from(lowerABC+digits, 16)+"-"+g.from(lowerABC+digits, 16))
	}},

	// Secret managers and infrastructure tools.
	{"vault", "service token", func(g gen) (string, []string) { return token("hvs.", g.from(b64url, g.between(90, 110))) }},
	{"vault", "batch token", func(g gen) (string, []string) { return token("hvb.", g.from(b64url, 150)) }},
	{"terraform", "API token", func(g gen) (string, []string) {
		return whole(g.from(alnum, 14) + ".atlasv1." + g.from(b64url, 67))
	}},
	{"doppler", "token", func(g gen) (string, []string) {
		return token(g.pick("dp.pt.", "dp.st.", "dp.sa.", "dp.ct."), g.from(alnum, 43))
	}},
	{"pulumi", "token", func(g gen) (string, []string) { return token("pul-", g.hex(40)) }},
	{"onepassword", "secret key", func(g gen) (string, []string) {
		u := upper + digits
		return whole("A3-" + g.from(u, 6) + "-" + g.from(u, 6) + "-" + g.from(u, 5) + "-" + g.from(u, 5) + "-" + g.from(u, 5) + "-" + g.from(u, 5))
	}},
	{"onepassword", "service account token", func(g gen) (string, []string) { return token("ops_eyJ", g.from(b64std, 300)) }},
	{"age", "secret key", func(g gen) (string, []string) {
		return whole(strings.ToUpper(bech32Encode("age-secret-key-", g.bytes(32))))
	}},
	{"tailscale", "key", func(g gen) (string, []string) {
		return token("tskey-"+g.pick("auth", "api", "client")+"-", g.from(alnum, 11)+"CNTRL-"+g.from(alnum, 32))
	}},
	{"ngrok", "authtoken", func(g gen) (string, []string) {
		return whole("2" + g.from(alnum, 26) + "_" + g.from(digits, 1) + g.from(alnum, 20))
	}},
	{"defined_networking", "API token", func(g gen) (string, []string) {
		return token("dnkey-", g.from(upper+digits, 26)+"-"+g.from(upper+digits, 52))
	}},

	// Databases and data platforms.
	{"databricks", "PAT", func(g gen) (string, []string) { return token("dapi", g.hex(32)) }},
	{"planetscale", "token", func(g gen) (string, []string) {
		return token(g.pick("pscale_tkn_", "pscale_oauth_", "pscale_pw_"), g.from(alnum+"_", 43))
	}},
	{"supabase", "access token", func(g gen) (string, []string) { return token("sbp_", g.hex(40)) }},
	{"clickhouse", "API secret", func(g gen) (string, []string) { return token("4b1d", g.from(alnum, 38)) }},

	// Code hosts, CI and developer tools.
	{"gitlab", "PAT", func(g gen) (string, []string) {
		return token(g.pick("glpat-", "gldt-", "glrt-", "glft-", "glsoat-", "glffct-"), g.from(alnum+"_-", 20))
	}},
	{"gitlab", "routable PAT", func(g gen) (string, []string) {
		return token("glpat-", g.from(alnum+"_-", 27)+".01"+fmt.Sprintf("%07s", bigB36(g.r.Uint32N(1<<31))))
	}},
	{"gitlab", "runner", func(g gen) (string, []string) { return token("GR1348941", g.from(alnum+"_-", 20)) }},
	{"atlassian", "API token", func(g gen) (string, []string) {
		return token("ATATT3", g.from(alnum+"_-", 178)+"="+g.from(hexLower, 7))
	}},
	{"atlassian", "Bitbucket app password", func(g gen) (string, []string) { return token("ATBB", g.from(alnum, 32)) }},
	{"openshift", "user token", func(g gen) (string, []string) { return token("sha256~", g.from(b64url, 43)) }},
	{"sourcegraph", "access token", func(g gen) (string, []string) { return token("sgp_", g.hex(16)+"_"+g.hex(40)) }},
	{"sonarqube", "token", func(g gen) (string, []string) { return token(g.pick("squ_", "sqp_", "sqa_"), g.hex(40)) }},
	{"circleci", "PAT", func(g gen) (string, []string) { return token("CCIPAT_", g.from(alnum, 22)+"_"+g.hex(40)) }},
	{"buildkite", "token", func(g gen) (string, []string) { return token("bkua_", g.hex(40)) }},
	{"harness", "PAT", func(g gen) (string, []string) {
		return token(g.pick("pat.", "sat."), g.from(b64url, 22)+"."+g.from(alnum, 24)+"."+g.from(alnum, 20))
	}},
	{"octopus", "API key", func(g gen) (string, []string) { return token("API-", g.from(upper+digits, 26)) }},
	{"scalingo", "token", func(g gen) (string, []string) { return token("tk-us-", g.from(b64url, 48)) }},
	{"prefect", "token", func(g gen) (string, []string) { return token("pnu_", g.from(alnum, 36)) }},
	{"infracost", "token", func(g gen) (string, []string) { return token("ico-", g.from(alnum, 32)) }},
	{"deno", "deploy token", func(g gen) (string, []string) { return token(g.pick("ddp_", "ddw_"), g.from(alnum, 36)) }},
	{"figma", "PAT", func(g gen) (string, []string) { return token("figd_", g.from(b64url, 40)) }},
	{"postman", "API key", func(g gen) (string, []string) { return token("PMAK-", g.hex(24)+"-"+g.hex(34)) }},

	// Package registries.
	{"npm", "token", func(g gen) (string, []string) {
		r := g.from(base62, 30)
		return token("npm_", r+base62CRC(r))
	}},
	{"pypi", "upload token", func(g gen) (string, []string) {
		t := g.pypiToken()
		return t, []string{t[len("pypi-AgEIcHlwaS5vcmc"):]}
	}},
	{"rubygems", "API key", func(g gen) (string, []string) { return token("rubygems_", g.hex(48)) }},
	{"nuget", "API key", func(g gen) (string, []string) { return token("oy2", g.from(lowerABC+digits, 43)) }},
	{"docker", "PAT", func(g gen) (string, []string) { return token(g.pick("dckr_pat_", "dckr_oat_"), g.from(b64url, 27)) }},
	{"artifactory", "API key", func(g gen) (string, []string) { return token("AKCp", g.from(alnum, 69)) }},
	{"artifactory", "reference token", func(g gen) (string, []string) { return token("cmVmd", g.from(alnum, 59)) }},
	{"clojars", "token", func(g gen) (string, []string) { return token("CLOJARS_", g.from(alnum, 60)) }},
	{"crates_io", "token", func(g gen) (string, []string) { return token("cio", g.from(alnum, 32)) }},

	// SaaS and API providers.
	{"linear", "API key", func(g gen) (string, []string) { return token("lin_api_", g.from(alnum, 40)) }},
	{"notion", "token", func(g gen) (string, []string) {
		if g.r.IntN(2) == 0 {
			return token("ntn_", g.from(digits, 11)+g.from(alnum, 35))
		}
		return token("secret_", g.from(alnum, 43))
	}},
	{"airtable", "PAT", func(g gen) (string, []string) { return token("pat", g.from(alnum, 14)+"."+g.hex(64)) }},
	{"hubspot", "private app token", func(g gen) (string, []string) { return token(g.pick("pat-na1-", "pat-eu1-"), g.uuid()) }},
	{"sentry", "user token", func(g gen) (string, []string) { return token("sntryu_", g.hex(64)) }},
	{"sentry", "org token", func(g gen) (string, []string) {
		claims := b64raw([]byte(fmt.Sprintf(`{"iat":%d,"url":"https://sentry.io","region_url":"https://us.sentry.io","org":"o%d"}`, 1700000000+g.r.IntN(1e7), g.r.IntN(1e6))))
		return token("sntrys_", claims+"_"+g.from(b64std, 43))
	}},
	{"grafana", "cloud token", func(g gen) (string, []string) { return token("glc_", g.from(b64std, 120)+"==") }},
	{"grafana", "service account token", func(g gen) (string, []string) { return token("glsa_", g.from(alnum, 32)+"_"+g.hex(8)) }},
	{"grafana", "API key", func(g gen) (string, []string) {
		return whole(b64raw([]byte(fmt.Sprintf(`{"k":"%s","n":"deploy-%s","id":%d}`, g.from(alnum, 32), g.hex(6), g.r.IntN(1e6)))))
	}},
	{"newrelic", "keys", func(g gen) (string, []string) {
		switch g.r.IntN(3) {
		case 0:
			return token("NRAK-", g.from(upper+digits, 27))
		case 1:
			return token("NRII-", g.from(alnum+"-_", 32))
		}
		return token("NRJS-", g.hex(19))
	}},
	{"dynatrace", "API token", func(g gen) (string, []string) {
		return token("dt0c01.", g.from(upper+digits, 24)+"."+g.from(upper+digits, 64))
	}},
	{"typeform", "PAT", func(g gen) (string, []string) { return token("tfp_", g.from(alnum+"_-", 44)+"_"+g.from(alnum, 14)) }},
	{"frameio", "token", func(g gen) (string, []string) { return token("fio-u-", g.from(alnum+"_-", 64)) }},
	{"readme", "API key", func(g gen) (string, []string) { return token("rdme_", g.from(lowerABC+digits, 70)) }},
	{"settlemint", "token", func(g gen) (string, []string) {
		return token(g.pick("sm_aat_", "sm_pat_", "sm_sat_"), g.from(alnum, 16))
	}},
	{"adobe", "client secret", func(g gen) (string, []string) { return token("p8e-", g.from(alnum, 32)) }},
	{"maxmind", "license key", func(g gen) (string, []string) { return whole(g.from(alnum, 6) + "_" + g.from(alnum, 29) + "_mmk") }},
	{"intra42", "client secret", func(g gen) (string, []string) { return token(g.pick("s-s4t2ud-", "s-s4t2af-"), g.hex(64)) }},
	{"contentful", "PAT", func(g gen) (string, []string) { return token("CFPAT-", g.from(b64url, 43)) }},
	{"mapbox", "secret token", func(g gen) (string, []string) {
		return token("sk.", b64urlRaw([]byte(fmt.Sprintf(`{"u":"user%d","a":"%s"}`, g.r.IntN(1e4), g.from(alnum, 20))))+"."+g.from(b64url, 22))
	}},
	{"dropbox", "short-lived token", func(g gen) (string, []string) { return token("sl.", g.from(b64url, 135)) }},
	{"facebook", "access token", func(g gen) (string, []string) { return token("EAA"+g.pick("B", "C", "G", "M"), g.from(alnum, 150)) }},
	{"facebook", "app token", func(g gen) (string, []string) { return token("1"+g.from(digits, 14)+"|", g.from(b64url, 27)) }},
	{"twitter", "bearer token", func(g gen) (string, []string) {
		return token("AAAAAAAAAAAAAAAAAAAAAA", g.from(upper, 1)+g.from(alnum, 30)+"%2B"+g.from(alnum, 30)+"%3D"+g.from(alnum, 20))
	}},
	{"authress", "service client key", func(g gen) (string, []string) {
		return token("sc_", g.from(lowerABC+digits, 10)+"."+g.from(lowerABC+digits, 5)+".acc_"+g.from(lowerABC+digits, 20)+"."+g.from(b64std, 60))
	}},

	// Mail, messaging and chat.
	{"sendgrid", "API key", func(g gen) (string, []string) { return token("SG.", g.from(b64url, 22)+"."+g.from(b64url, 43)) }},
	{"mailgun", "API key", func(g gen) (string, []string) { return token("key-", g.hex(32)) }},
	{"mailchimp", "API key", func(g gen) (string, []string) {
		k := g.hex(32)
		return k + "-us" + fmt.Sprint(g.between(1, 21)), []string{k}
	}},
	{"brevo", "API key", func(g gen) (string, []string) {
		return token(g.pick("xkeysib-", "xsmtpsib-"), g.hex(64)+"-"+g.from(alnum, 16))
	}},
	{"twilio", "API key", func(g gen) (string, []string) { return token("SK", g.hex(32)) }},
	{"telegram", "bot token", func(g gen) (string, []string) { return whole(g.digits(g.between(8, 10)) + ":AA" + g.from(b64url, 33)) }},
	{"discord", "bot token", func(g gen) (string, []string) { return whole(g.discordBotToken()) }},
	{"firebase", "FCM server key", func(g gen) (string, []string) {
		return whole("AAAA" + g.from(b64url, 7) + ":APA91b" + g.from(b64url, 134))
	}},
	{"webhook_url", "Slack", func(g gen) (string, []string) {
		p := "T" + g.from(upper+digits, 8) + "/B" + g.from(upper+digits, 10) + "/" + g.from(alnum, 24)
		return "https://hooks.slack.com/" + g.pick("services/", "workflows/", "triggers/") + p, []string{p}
	}},
	{"webhook_url", "Discord", func(g gen) (string, []string) {
		p := g.digits(19) + "/" + g.from(b64url, 68)
		return "https://" + g.pick("discord.com", "discordapp.com", "canary.discord.com") + "/api/" + g.pick("", "v10/") + "webhooks/" + p, []string{p}
	}},
	{"webhook_url", "Teams", func(g gen) (string, []string) {
		p := g.uuid() + "@" + g.uuid() + "/IncomingWebhook/" + g.hex(32) + "/" + g.uuid()
		return "https://contoso" + g.hex(2) + ".webhook.office.com/webhookb2/" + p, []string{p}
	}},
	{"webhook_url", "Zapier", func(g gen) (string, []string) {
		p := "catch/" + g.digits(7) + "/" + g.from(lowerABC+digits, 7) + "/"
		return "https://hooks.zapier.com/hooks/" + p, []string{p}
	}},
	{"webhook_url", "IFTTT", func(g gen) (string, []string) {
		k := g.from(b64url, 22)
		return "https://maker.ifttt.com/trigger/deploy_done/with/key/" + k, []string{k}
	}},
	{"webhook_url", "Mattermost", func(g gen) (string, []string) {
		k := g.from(lowerABC+digits, 26)
		return "https://chat.example.com/hooks/" + k, []string{k}
	}},
	{"webhook_url", "Feishu", func(g gen) (string, []string) {
		k := g.uuid()
		return "https://open.feishu.cn/open-apis/bot/v2/hook/" + k, []string{k}
	}},
	{"telegram", "bot API URL", func(g gen) (string, []string) {
		t := g.digits(9) + ":AA" + g.from(b64url, 33)
		return "https://api.telegram.org/bot" + t + "/sendMessage", []string{t}
	}},

	// Payment and commerce.
	{"shopify", "token", func(g gen) (string, []string) {
		return token(g.pick("shpat_", "shpca_", "shppa_", "shpss_"), g.hex(32))
	}},
	{"square", "token", func(g gen) (string, []string) {
		switch g.r.IntN(3) {
		case 0:
			return token("sq0atp-", g.from(b64url, 22))
		case 1:
			return token("sq0csp-", g.from(b64url, 43))
		}
		return token("EAAA", g.from(b64url, 60))
	}},
	{"braintree", "access token", func(g gen) (string, []string) {
		return token("access_token$"+g.pick("production", "sandbox")+"$", g.from(lowerABC+digits, 16)+"$"+g.hex(32))
	}},
	{"flutterwave", "secret key", func(g gen) (string, []string) { return token(g.pick("FLWSECK_TEST-", "FLWSECK-"), g.hex(32)+"-X") }},
	{"plaid", "access token", func(g gen) (string, []string) { return token("access-"+g.pick("sandbox", "production")+"-", g.uuid()) }},
	{"duffel", "token", func(g gen) (string, []string) {
		return token(g.pick("duffel_test_", "duffel_live_"), g.from(alnum+"_-", 43))
	}},
	{"easypost", "API key", func(g gen) (string, []string) { return token(g.pick("EZAK", "EZTK"), g.from(alnum, 54)) }},
	{"shippo", "token", func(g gen) (string, []string) { return token(g.pick("shippo_live_", "shippo_test_"), g.hex(40)) }},

	// AI providers.
	{"openai", "project key", func(g gen) (string, []string) {
		return token(g.pick("sk-proj-", "sk-svcacct-", "sk-admin-"), g.from(alnum+"_-", 74)+"T3BlbkFJ"+g.from(alnum+"_-", 74))
	}},
	{"openai", "legacy key", func(g gen) (string, []string) { return token("sk-", g.from(alnum, 20)+"T3BlbkFJ"+g.from(alnum, 20)) }},
	{"anthropic", "API key", func(g gen) (string, []string) {
		return token("sk-ant-"+g.pick("api03", "admin01")+"-", g.from(alnum+"_-", 93)+"AA")
	}},
	{"huggingface", "token", func(g gen) (string, []string) { return token(g.pick("hf_", "api_org_"), g.from(upper+lowerABC, 34)) }},
	{"groq", "API key", func(g gen) (string, []string) { return token("gsk_", g.from(alnum, 52)) }},
	{"replicate", "API token", func(g gen) (string, []string) { return token("r8_", g.from(alnum, 37)) }},
	{"perplexity", "API key", func(g gen) (string, []string) { return token("pplx-", g.from(alnum, 48)) }},
	{"xai", "API key", func(g gen) (string, []string) { return token("xai-", g.from(alnum, 80)) }},
	{"openrouter", "API key", func(g gen) (string, []string) { return token("sk-or-v1-", g.hex(64)) }},
	{"langsmith", "API key", func(g gen) (string, []string) { return token(g.pick("lsv2_pt_", "lsv2_sk_"), g.hex(32)+"_"+g.hex(10)) }},
}
