package redact

import "strings"

// The token formats recognized by a fixed prefix. Each format is a literal prefix and a list
// of parts (literals and runs of a byte class with a length range), or a matcher of its own.
// They are found through a prefilter on the first two bytes of every word: a word whose first
// two bytes and length start no prefix costs one table lookup (pairMasks), however many
// formats there are; the others are compared with the few prefixes that share those two bytes. No regular
// expression is involved.

// part is a literal or a run of bytes of a class, of min to max bytes (max 0: no limit).
type part struct {
	lit      string
	class    *[256]bool
	min, max int
}

func lit(s string) part                   { return part{lit: s} }
func run(c *[256]bool, min, max int) part { return part{class: c, min: min, max: max} }
func exactly(c *[256]bool, n int) part    { return part{class: c, min: n, max: n} }
func parts(ps ...part) []part             { return ps }

// uuidParts is a UUID in the class c: 8-4-4-4-12.
func uuidParts(c *[256]bool) []part {
	return parts(exactly(c, 8), lit("-"), exactly(c, 4), lit("-"), exactly(c, 4), lit("-"), exactly(c, 4), lit("-"), exactly(c, 12))
}

// format is a token format found by its prefix.
type format struct {
	prefix string
	rule   rule
	parts  []part
	// keep is the number of leading bytes of the match that stay visible (a webhook URL keeps
	// its host and path up to the secret).
	keep int
	// match, when set, replaces parts: i is the start of the prefix, e the end of the word.
	match func(s string, r *Redactor, i, e int) (match, bool)

	minLen     int // len(prefix) + the least the parts take
	wmin, wmax int // the range of the length of a token's first word (run of [A-Za-z0-9_])
}

// Byte classes of the formats.
var (
	isAlnum      = class(func(c byte) bool { return isWord[c] && c != '_' })
	isHexLower   = class(func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' })
	isHexAny     = class(func(c byte) bool { return isHex[c] })
	isUpperAlnum = class(func(c byte) bool { return isUpperNum[c] })
	isLowerAlnum = class(func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' })
	isLetters    = class(func(c byte) bool { return isLetter(c) })
	isDigitTable = class(isDigit)
	isWordTable  = class(func(c byte) bool { return isWord[c] })
	isB64URLT    = class(func(c byte) bool { return isB64URL[c] })
	isB64T       = class(func(c byte) bool { return isB64[c] })
	isPad        = class(func(c byte) bool { return c == '=' })
	isB64URLEq   = class(func(c byte) bool { return isB64URL[c] || c == '=' })
	isB64URLDot  = class(func(c byte) bool { return isB64URL[c] || c == '.' })
	isWordDotEq  = class(func(c byte) bool { return isB64URL[c] || c == '.' || c == '=' })
	isB64Any     = class(func(c byte) bool { return isB64URL[c] || c == '+' || c == '/' || c == '=' })
	isSentry     = class(func(c byte) bool { return isB64[c] || c == '=' || c == '_' })
	isAlnumPct   = class(func(c byte) bool { return isAlnum[c] || c == '%' })
	isBech32     = class(func(c byte) bool { return strings.IndexByte("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", c) >= 0 })
	isLowerDash  = class(func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c == '-' })
	isDashDigit  = class(func(c byte) bool { return c == '-' || isDigit(c) })
	isDashX      = class(func(c byte) bool { return c == '-' || c == 'X' })
	isUnderDash  = class(func(c byte) bool { return c == '_' || c == '-' })
	// isPath is the bytes of a URL path a webhook secret runs over: unreserved, '%', '/' and a
	// few sub-delimiters; '?', '#', blanks, quotes, brackets, ',' and ';' end it.
	isPath = class(func(c byte) bool { return isAlnum[c] || strings.IndexByte("-._~%+=:@/!$", c) >= 0 })
)

func class(f func(c byte) bool) (t [256]bool) {
	for c := range t {
		t[c] = f(byte(c))
	}
	return t
}

// formatTable lists the formats; the package doc names them by rule. Within a rule, several
// prefixes; the table is sorted by prefix length (longest first) at init, so "sk-ant-" is
// tried before "sk-".
var formatTable = []format{
	// Cloud providers.
	{prefix: "IQoJb3JpZ2luX2Vj", rule: ruleAWSSessionToken, parts: parts(run(&isB64T, 100, 0), run(&isPad, 0, 2))},
	{prefix: "FwoGZXIvYXdzE", rule: ruleAWSSessionToken, parts: parts(run(&isB64T, 100, 0), run(&isPad, 0, 2))},
	{prefix: "FQoGZXIvYXdzE", rule: ruleAWSSessionToken, parts: parts(run(&isB64T, 100, 0), run(&isPad, 0, 2))},
	{prefix: "ABSK", rule: ruleAWSBedrock, parts: parts(run(&isB64T, 109, 269), run(&isPad, 0, 2))},
	{prefix: "bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t", rule: ruleAWSBedrock, parts: parts(run(&isB64T, 20, 0), run(&isPad, 0, 2))},
	{prefix: "AIza", rule: ruleGoogle, parts: parts(exactly(&isB64URLT, 35))},
	{prefix: "GOCSPX-", rule: ruleGoogle, parts: parts(exactly(&isB64URLT, 28))},
	{prefix: "ya29.", rule: ruleGoogle, parts: parts(run(&isB64URLT, 30, 0))},
	{prefix: "1//0", rule: ruleGoogle, parts: parts(run(&isB64URLT, 30, 0))},
	{prefix: "LTAI", rule: ruleAlibaba, parts: parts(run(&isAlnum, 12, 20))},
	{prefix: "AKID", rule: ruleTencent, parts: parts(exactly(&isAlnum, 32))},
	{prefix: "doo_v1_", rule: ruleDigitalOcean, parts: parts(exactly(&isHexLower, 64))},
	{prefix: "dop_v1_", rule: ruleDigitalOcean, parts: parts(exactly(&isHexLower, 64))},
	{prefix: "dor_v1_", rule: ruleDigitalOcean, parts: parts(exactly(&isHexLower, 64))},
	{prefix: "HRKU-AA", rule: ruleHeroku, parts: parts(exactly(&isB64URLT, 58))},
	{prefix: "v1.0-", rule: ruleCloudflare, parts: parts(exactly(&isHexLower, 24), lit("-"), exactly(&isHexLower, 146))},
	{prefix: "fo1_", rule: ruleFlyio, parts: parts(exactly(&isB64URLT, 43))},
	{prefix: "fm1a_", rule: ruleFlyio, parts: parts(run(&isB64T, 100, 0), run(&isPad, 0, 3))},
	{prefix: "fm1r_", rule: ruleFlyio, parts: parts(run(&isB64T, 100, 0), run(&isPad, 0, 3))},
	{prefix: "fm2_", rule: ruleFlyio, parts: parts(run(&isB64T, 100, 0), run(&isPad, 0, 3))},
	{prefix: "AQVN", rule: ruleYandex, parts: parts(run(&isB64URLT, 35, 38))},
	{prefix: "akab-", rule: ruleAkamai, parts: parts(exactly(&isLowerAlnum, 16), lit("-"), exactly(&isLowerAlnum, 16))},

	// Secret managers and infrastructure tools.
	{prefix: "hvs.", rule: ruleVault, parts: parts(run(&isB64URLT, 90, 120))},
	{prefix: "hvb.", rule: ruleVault, parts: parts(run(&isB64URLT, 138, 300))},
	{prefix: "atlasv1.", rule: ruleTerraform, match: terraform},
	{prefix: "dp.pt.", rule: ruleDoppler, parts: parts(run(&isAlnum, 40, 44))},
	{prefix: "dp.st.", rule: ruleDoppler, parts: parts(run(&isAlnum, 40, 80))},
	{prefix: "dp.sa.", rule: ruleDoppler, parts: parts(run(&isAlnum, 40, 44))},
	{prefix: "dp.ct.", rule: ruleDoppler, parts: parts(run(&isAlnum, 40, 44))},
	{prefix: "dp.scim.", rule: ruleDoppler, parts: parts(run(&isAlnum, 40, 44))},
	{prefix: "dp.audit.", rule: ruleDoppler, parts: parts(run(&isAlnum, 40, 44))},
	{prefix: "pul-", rule: rulePulumi, parts: parts(exactly(&isHexLower, 40))},
	{prefix: "A3-", rule: ruleOnePassword, match: onePasswordKey},
	{prefix: "ops_eyJ", rule: ruleOnePassword, parts: parts(run(&isB64T, 250, 0), run(&isPad, 0, 3))},
	{prefix: "AGE-SECRET-KEY-1", rule: ruleAge, parts: parts(exactly(&isBech32, 58))},
	{prefix: "tskey-auth-", rule: ruleTailscale, parts: parts(run(&isAlnum, 6, 0), lit("-"), run(&isAlnum, 16, 0))},
	{prefix: "tskey-api-", rule: ruleTailscale, parts: parts(run(&isAlnum, 6, 0), lit("-"), run(&isAlnum, 16, 0))},
	{prefix: "tskey-client-", rule: ruleTailscale, parts: parts(run(&isAlnum, 6, 0), lit("-"), run(&isAlnum, 16, 0))},
	{prefix: "tskey-scim-", rule: ruleTailscale, parts: parts(run(&isAlnum, 6, 0), lit("-"), run(&isAlnum, 16, 0))},
	{prefix: "tskey-webhook-", rule: ruleTailscale, parts: parts(run(&isAlnum, 6, 0), lit("-"), run(&isAlnum, 16, 0))},
	{prefix: "dnkey-", rule: ruleDefinedNetworking, parts: parts(exactly(&isB64URLEq, 26), lit("-"), exactly(&isB64URLEq, 52))},

	// Databases and data platforms.
	{prefix: "dapi", rule: ruleDatabricks, parts: parts(exactly(&isHexLower, 32), run(&isDashDigit, 0, 2))},
	{prefix: "pscale_tkn_", rule: rulePlanetScale, parts: parts(run(&isWordDotEq, 32, 64))},
	{prefix: "pscale_oauth_", rule: rulePlanetScale, parts: parts(run(&isWordDotEq, 32, 64))},
	{prefix: "pscale_pw_", rule: rulePlanetScale, parts: parts(run(&isWordDotEq, 32, 64))},
	{prefix: "sbp_", rule: ruleSupabase, parts: parts(exactly(&isHexLower, 40))},
	{prefix: "sb_secret_", rule: ruleSupabase, parts: parts(run(&isB64URLT, 20, 64))},
	{prefix: "4b1d", rule: ruleClickHouse, parts: parts(exactly(&isAlnum, 38))},

	// Code hosts, CI and developer tools.
	{prefix: "glpat-", rule: ruleGitLab, parts: parts(run(&isB64URLDot, 20, 320))},
	{prefix: "gldt-", rule: ruleGitLab, parts: parts(run(&isB64URLT, 20, 64))},
	{prefix: "glrt-", rule: ruleGitLab, parts: parts(run(&isB64URLDot, 20, 320))},
	{prefix: "glft-", rule: ruleGitLab, parts: parts(run(&isB64URLT, 20, 64))},
	{prefix: "glsoat-", rule: ruleGitLab, parts: parts(run(&isB64URLT, 20, 64))},
	{prefix: "glffct-", rule: ruleGitLab, parts: parts(run(&isB64URLT, 20, 64))},
	{prefix: "glcbt-", rule: ruleGitLab, parts: parts(run(&isB64URLT, 20, 64))},
	{prefix: "glimt-", rule: ruleGitLab, parts: parts(run(&isB64URLT, 25, 64))},
	{prefix: "glagent-", rule: ruleGitLab, parts: parts(run(&isB64URLT, 50, 64))},
	{prefix: "gloas-", rule: ruleGitLab, parts: parts(run(&isB64URLT, 64, 80))},
	{prefix: "glptt-", rule: ruleGitLab, parts: parts(exactly(&isHexLower, 40))},
	{prefix: "GR1348941", rule: ruleGitLab, parts: parts(run(&isB64URLT, 20, 64))},
	{prefix: "_gitlab_session=", rule: ruleGitLab, keep: len("_gitlab_session="), parts: parts(exactly(&isLowerAlnum, 32))},
	{prefix: "ATATT3", rule: ruleAtlassian, parts: parts(exactly(&isB64URLEq, 186))},
	{prefix: "ATBB", rule: ruleAtlassian, parts: parts(exactly(&isAlnum, 32))},
	{prefix: "sha256~", rule: ruleOpenShift, parts: parts(exactly(&isB64URLT, 43))},
	{prefix: "sgp_local_", rule: ruleSourcegraph, parts: parts(exactly(&isHexAny, 40))},
	{prefix: "sgp_", rule: ruleSourcegraph, parts: parts(exactly(&isHexAny, 16), lit("_"), exactly(&isHexAny, 40))},
	{prefix: "sgp_", rule: ruleSourcegraph, parts: parts(exactly(&isHexAny, 40))},
	{prefix: "squ_", rule: ruleSonarQube, parts: parts(exactly(&isHexLower, 40))},
	{prefix: "sqp_", rule: ruleSonarQube, parts: parts(exactly(&isHexLower, 40))},
	{prefix: "sqa_", rule: ruleSonarQube, parts: parts(exactly(&isHexLower, 40))},
	{prefix: "CCIPAT_", rule: ruleCircleCI, parts: parts(run(&isWordTable, 40, 80))},
	{prefix: "CCIPRJ_", rule: ruleCircleCI, parts: parts(run(&isWordTable, 40, 80))},
	{prefix: "bkua_", rule: ruleBuildkite, parts: parts(exactly(&isHexLower, 40))},
	{prefix: "pat.", rule: ruleHarness, parts: parts(exactly(&isB64URLT, 22), lit("."), exactly(&isAlnum, 24), lit("."), exactly(&isAlnum, 20))},
	{prefix: "sat.", rule: ruleHarness, parts: parts(exactly(&isB64URLT, 22), lit("."), exactly(&isAlnum, 24), lit("."), exactly(&isAlnum, 20))},
	{prefix: "API-", rule: ruleOctopus, parts: parts(exactly(&isUpperAlnum, 26))},
	{prefix: "tk-us-", rule: ruleScalingo, parts: parts(exactly(&isB64URLT, 48))},
	{prefix: "pnu_", rule: rulePrefect, parts: parts(exactly(&isAlnum, 36))},
	{prefix: "ico-", rule: ruleInfracost, parts: parts(exactly(&isAlnum, 32))},
	{prefix: "ddp_", rule: ruleDeno, parts: parts(exactly(&isAlnum, 36))},
	{prefix: "ddw_", rule: ruleDeno, parts: parts(exactly(&isAlnum, 36))},
	{prefix: "figd_", rule: ruleFigma, parts: parts(run(&isB64URLT, 30, 64))},
	{prefix: "PMAK-", rule: rulePostman, parts: parts(exactly(&isHexAny, 24), lit("-"), exactly(&isHexAny, 34))},

	// Package registries.
	{prefix: "npm_", rule: ruleNpm, parts: parts(exactly(&isAlnum, 36))},
	{prefix: "pypi-AgEIcHlwaS5vcmc", rule: rulePyPI, parts: parts(run(&isB64URLT, 50, 0))},
	{prefix: "pypi-AgENdGVzdC5weXBpLm9yZw", rule: rulePyPI, parts: parts(run(&isB64URLT, 50, 0))},
	{prefix: "rubygems_", rule: ruleRubyGems, parts: parts(exactly(&isHexLower, 48))},
	{prefix: "oy2", rule: ruleNuGet, parts: parts(exactly(&isLowerAlnum, 43))},
	{prefix: "dckr_pat_", rule: ruleDocker, parts: parts(run(&isB64URLT, 27, 64))},
	{prefix: "dckr_oat_", rule: ruleDocker, parts: parts(run(&isB64URLT, 27, 64))},
	{prefix: "AKCp", rule: ruleArtifactory, parts: parts(exactly(&isAlnum, 69))},
	{prefix: "cmVmd", rule: ruleArtifactory, parts: parts(exactly(&isAlnum, 59))},
	{prefix: "CLOJARS_", rule: ruleClojars, parts: parts(exactly(&isAlnum, 60))},
	{prefix: "cio", rule: ruleCratesIO, parts: parts(exactly(&isAlnum, 32))},

	// SaaS and API providers.
	{prefix: "lin_api_", rule: ruleLinear, parts: parts(exactly(&isAlnum, 40))},
	{prefix: "lin_oauth_", rule: ruleLinear, parts: parts(run(&isAlnum, 40, 80))},
	{prefix: "ntn_", rule: ruleNotion, parts: parts(exactly(&isAlnum, 46))},
	{prefix: "secret_", rule: ruleNotion, parts: parts(exactly(&isAlnum, 43))},
	{prefix: "pat", rule: ruleAirtable, parts: parts(exactly(&isAlnum, 14), lit("."), exactly(&isHexLower, 64))},
	{prefix: "pat-na1-", rule: ruleHubSpot, parts: uuidParts(&isHexLower)},
	{prefix: "pat-na2-", rule: ruleHubSpot, parts: uuidParts(&isHexLower)},
	{prefix: "pat-eu1-", rule: ruleHubSpot, parts: uuidParts(&isHexLower)},
	{prefix: "pat-ap1-", rule: ruleHubSpot, parts: uuidParts(&isHexLower)},
	{prefix: "sntrys_", rule: ruleSentry, parts: parts(run(&isSentry, 60, 0))},
	{prefix: "sntryu_", rule: ruleSentry, parts: parts(exactly(&isHexLower, 64))},
	{prefix: "glc_", rule: ruleGrafana, parts: parts(run(&isB64T, 32, 400), run(&isPad, 0, 3))},
	{prefix: "glsa_", rule: ruleGrafana, parts: parts(exactly(&isAlnum, 32), lit("_"), exactly(&isHexAny, 8))},
	{prefix: "NRAK-", rule: ruleNewRelic, parts: parts(exactly(&isUpperAlnum, 27))},
	{prefix: "NRAA-", rule: ruleNewRelic, parts: parts(exactly(&isUpperAlnum, 27))},
	{prefix: "NRII-", rule: ruleNewRelic, parts: parts(exactly(&isB64URLT, 32))},
	{prefix: "NRJS-", rule: ruleNewRelic, parts: parts(exactly(&isHexLower, 19))},
	{prefix: "dt0c01.", rule: ruleDynatrace, parts: parts(exactly(&isAlnum, 24), lit("."), exactly(&isAlnum, 64))},
	{prefix: "tfp_", rule: ruleTypeform, parts: parts(run(&isWordDotEq, 40, 64))},
	{prefix: "fio-u-", rule: ruleFrameio, parts: parts(exactly(&isB64URLEq, 64))},
	{prefix: "rdme_", rule: ruleReadme, parts: parts(exactly(&isLowerAlnum, 70))},
	{prefix: "sm_aat_", rule: ruleSettlemint, parts: parts(exactly(&isAlnum, 16))},
	{prefix: "sm_pat_", rule: ruleSettlemint, parts: parts(exactly(&isAlnum, 16))},
	{prefix: "sm_sat_", rule: ruleSettlemint, parts: parts(exactly(&isAlnum, 16))},
	{prefix: "p8e-", rule: ruleAdobe, parts: parts(exactly(&isAlnum, 32))},
	{prefix: "s-s4t2ud-", rule: ruleIntra42, parts: parts(exactly(&isHexLower, 64))},
	{prefix: "s-s4t2af-", rule: ruleIntra42, parts: parts(exactly(&isHexLower, 64))},
	{prefix: "CFPAT-", rule: ruleContentful, parts: parts(exactly(&isB64URLT, 43))},
	{prefix: "sk.eyJ", rule: ruleMapbox, parts: parts(run(&isB64URLDot, 50, 0))},
	{prefix: "sl.", rule: ruleDropbox, parts: parts(run(&isB64URLDot, 120, 0))},
	{prefix: "EAA", rule: ruleFacebook, parts: parts(exactly(&isUpperAlnum, 1), run(&isAlnum, 100, 0))},
	{prefix: "AAAAAAAAAAAAAAAAAAAAAA", rule: ruleTwitter, parts: parts(run(&isAlnumPct, 80, 110))},
	{prefix: "sc_", rule: ruleAuthress, parts: authressParts},
	{prefix: "ext_", rule: ruleAuthress, parts: authressParts},
	{prefix: "scauth_", rule: ruleAuthress, parts: authressParts},
	{prefix: "authress_", rule: ruleAuthress, parts: authressParts},

	// Mail, messaging and chat.
	{prefix: "SG.", rule: ruleSendGrid, parts: parts(exactly(&isB64URLT, 22), lit("."), exactly(&isB64URLT, 43))},
	{prefix: "key-", rule: ruleMailgun, parts: parts(exactly(&isHexLower, 32))},
	{prefix: "xkeysib-", rule: ruleBrevo, parts: parts(exactly(&isHexLower, 64), lit("-"), exactly(&isAlnum, 16))},
	{prefix: "xsmtpsib-", rule: ruleBrevo, parts: parts(exactly(&isHexLower, 64), lit("-"), exactly(&isAlnum, 16))},
	{prefix: "SK", rule: ruleTwilio, parts: parts(exactly(&isHexAny, 32))},
	{prefix: "api.telegram.org/bot", rule: ruleTelegram, keep: len("api.telegram.org/bot"), parts: parts(run(&isDigitTable, 5, 16), lit(":"), run(&isB64URLT, 30, 40))},

	// Webhook URLs: the host and the path up to the secret stay.
	{prefix: "hooks.slack.com/services/", rule: ruleWebhookURL, keep: len("hooks.slack.com/services/"), parts: parts(run(&isPath, 20, 0))},
	{prefix: "hooks.slack.com/workflows/", rule: ruleWebhookURL, keep: len("hooks.slack.com/workflows/"), parts: parts(run(&isPath, 20, 0))},
	{prefix: "hooks.slack.com/triggers/", rule: ruleWebhookURL, keep: len("hooks.slack.com/triggers/"), parts: parts(run(&isPath, 20, 0))},
	{prefix: "discord.com/api/", rule: ruleWebhookURL, match: discordWebhook},
	{prefix: "discordapp.com/api/", rule: ruleWebhookURL, match: discordWebhook},
	{prefix: "canary.discord.com/api/", rule: ruleWebhookURL, match: discordWebhook},
	{prefix: "ptb.discord.com/api/", rule: ruleWebhookURL, match: discordWebhook},
	{prefix: "webhook.office.com/webhookb2/", rule: ruleWebhookURL, keep: len("webhook.office.com/webhookb2/"), parts: parts(run(&isPath, 40, 0))},
	{prefix: "outlook.office.com/webhook/", rule: ruleWebhookURL, keep: len("outlook.office.com/webhook/"), parts: parts(run(&isPath, 40, 0))},
	{prefix: "hooks.zapier.com/hooks/", rule: ruleWebhookURL, keep: len("hooks.zapier.com/hooks/"), parts: parts(run(&isPath, 10, 0))},
	{prefix: "maker.ifttt.com/", rule: ruleWebhookURL, match: iftttWebhook},
	{prefix: "hooks/", rule: ruleWebhookURL, match: mattermostWebhook},
	{prefix: "open.feishu.cn/open-apis/bot/v2/hook/", rule: ruleWebhookURL, keep: len("open.feishu.cn/open-apis/bot/v2/hook/"), parts: parts(run(&isPath, 20, 0))},
	{prefix: "open.larksuite.com/open-apis/bot/v2/hook/", rule: ruleWebhookURL, keep: len("open.larksuite.com/open-apis/bot/v2/hook/"), parts: parts(run(&isPath, 20, 0))},
	{prefix: "webexapis.com/v1/webhooks/incoming/", rule: ruleWebhookURL, keep: len("webexapis.com/v1/webhooks/incoming/"), parts: parts(run(&isPath, 20, 0))},

	// Payment and commerce.
	{prefix: "shpat_", rule: ruleShopify, parts: parts(exactly(&isHexAny, 32))},
	{prefix: "shpca_", rule: ruleShopify, parts: parts(exactly(&isHexAny, 32))},
	{prefix: "shppa_", rule: ruleShopify, parts: parts(exactly(&isHexAny, 32))},
	{prefix: "shpss_", rule: ruleShopify, parts: parts(exactly(&isHexAny, 32))},
	{prefix: "sq0atp-", rule: ruleSquare, parts: parts(run(&isB64URLT, 22, 60))},
	{prefix: "sq0csp-", rule: ruleSquare, parts: parts(run(&isB64URLT, 43, 60))},
	{prefix: "EAAA", rule: ruleSquare, parts: parts(run(&isB64URLT, 22, 60))},
	{prefix: "access_token$production$", rule: ruleBraintree, parts: parts(exactly(&isLowerAlnum, 16), lit("$"), exactly(&isHexLower, 32))},
	{prefix: "access_token$sandbox$", rule: ruleBraintree, parts: parts(exactly(&isLowerAlnum, 16), lit("$"), exactly(&isHexLower, 32))},
	{prefix: "FLWSECK_TEST-", rule: ruleFlutterwave, parts: parts(run(&isHexLower, 12, 32), run(&isDashX, 0, 2))},
	{prefix: "FLWSECK-", rule: ruleFlutterwave, parts: parts(run(&isHexLower, 12, 32), run(&isDashX, 0, 2))},
	{prefix: "access-sandbox-", rule: rulePlaid, parts: uuidParts(&isHexLower)},
	{prefix: "access-development-", rule: rulePlaid, parts: uuidParts(&isHexLower)},
	{prefix: "access-production-", rule: rulePlaid, parts: uuidParts(&isHexLower)},
	{prefix: "duffel_test_", rule: ruleDuffel, parts: parts(exactly(&isB64URLEq, 43))},
	{prefix: "duffel_live_", rule: ruleDuffel, parts: parts(exactly(&isB64URLEq, 43))},
	{prefix: "EZAK", rule: ruleEasyPost, parts: parts(exactly(&isAlnum, 54))},
	{prefix: "EZTK", rule: ruleEasyPost, parts: parts(exactly(&isAlnum, 54))},
	{prefix: "shippo_live_", rule: ruleShippo, parts: parts(exactly(&isHexAny, 40))},
	{prefix: "shippo_test_", rule: ruleShippo, parts: parts(exactly(&isHexAny, 40))},

	// AI providers.
	{prefix: "sk-proj-", rule: ruleOpenAI, parts: parts(run(&isB64URLT, 40, 0))},
	{prefix: "sk-svcacct-", rule: ruleOpenAI, parts: parts(run(&isB64URLT, 40, 0))},
	{prefix: "sk-admin-", rule: ruleOpenAI, parts: parts(run(&isB64URLT, 40, 0))},
	{prefix: "sk-None-", rule: ruleOpenAI, parts: parts(run(&isB64URLT, 40, 0))},
	{prefix: "sk-", rule: ruleOpenAI, parts: parts(exactly(&isAlnum, 20), lit("T3BlbkFJ"), exactly(&isAlnum, 20))},
	{prefix: "sk-ant-", rule: ruleAnthropic, parts: parts(run(&isLowerAlnum, 4, 10), lit("-"), run(&isB64URLT, 80, 0))},
	{prefix: "sk-or-v1-", rule: ruleOpenRouter, parts: parts(exactly(&isHexLower, 64))},
	{prefix: "hf_", rule: ruleHuggingFace, parts: parts(exactly(&isLetters, 34))},
	{prefix: "api_org_", rule: ruleHuggingFace, parts: parts(exactly(&isLetters, 34))},
	{prefix: "gsk_", rule: ruleGroq, parts: parts(exactly(&isAlnum, 52))},
	{prefix: "r8_", rule: ruleReplicate, parts: parts(exactly(&isAlnum, 37))},
	{prefix: "pplx-", rule: rulePerplexity, parts: parts(exactly(&isAlnum, 48))},
	{prefix: "xai-", rule: ruleXAI, parts: parts(exactly(&isAlnum, 80))},
	{prefix: "lsv2_pt_", rule: ruleLangSmith, parts: parts(exactly(&isHexLower, 32), lit("_"), exactly(&isHexLower, 10))},
	{prefix: "lsv2_sk_", rule: ruleLangSmith, parts: parts(exactly(&isHexLower, 32), lit("_"), exactly(&isHexLower, 10))},

	// Existing rules, more forms.
	{prefix: "ZXlKaGJHY2lPaU", rule: ruleJWT, parts: parts(run(&isB64T, 40, 0), run(&isPad, 0, 2))},
	{prefix: "ZXlKMGVYQWlPaU", rule: ruleJWT, parts: parts(run(&isB64T, 40, 0), run(&isPad, 0, 2))},
	{prefix: "ZXlKcmFXUWlP", rule: ruleJWT, parts: parts(run(&isB64T, 40, 0), run(&isPad, 0, 2))},
	{prefix: "ZXlKbGJtTWlPaU", rule: ruleJWT, parts: parts(run(&isB64T, 40, 0), run(&isPad, 0, 2))},
	{prefix: "PuTTY-User-Key-File-", rule: rulePrivateKey, match: puttyKey},
	{prefix: "jdbc:oracle:thin:", rule: ruleURLPassword, match: oracleThin},
	{prefix: "PASSWORD '", rule: ruleKeyValue, keep: len("PASSWORD '"), match: sqlQuoted},
	{prefix: "Password '", rule: ruleKeyValue, keep: len("Password '"), match: sqlQuoted},
	{prefix: "password '", rule: ruleKeyValue, keep: len("password '"), match: sqlQuoted},
	{prefix: "IDENTIFIED BY '", rule: ruleKeyValue, keep: len("IDENTIFIED BY '"), match: sqlQuoted},
	{prefix: "identified by '", rule: ruleKeyValue, keep: len("identified by '"), match: sqlQuoted},
}

var authressParts = parts(run(&isAlnum, 5, 30), lit("."), run(&isAlnum, 4, 6), lit(".acc"), exactly(&isUnderDash, 1),
	run(&isLowerDash, 10, 32), lit("."), run(&isB64Any, 30, 120))

// The prefilter: pairMasks[c][d] has the bit of a word length (lengthBits) when a format or
// a hand-written rule may start with a word of that length whose first two bytes are c and d;
// nil for the first bytes nothing starts with. firstFormats[c] are the formats starting with
// c, grouped by second byte.
var (
	pairMasks    [256]*[256]uint16
	firstFormats [256][]formatGroup
)

type formatGroup struct {
	second     byte
	wmin, wmax int // the range of the first words of fs
	fs         []*format
}

// lengthBits[n] is the bit of the words of n bytes (of 63 or more for n = 63): one bit per
// length up to 12, then one for 13-15, 16-23, 24-31 and 32 or more.
var lengthBits = func() (t [64]uint16) {
	for n := range t {
		switch {
		case n <= 12:
			t[n] = 1 << max(n-1, 0)
		case n <= 15:
			t[n] = 1 << 12
		case n <= 23:
			t[n] = 1 << 13
		case n <= 31:
			t[n] = 1 << 14
		default:
			t[n] = 1 << 15
		}
	}
	return t
}()

// lengthMask is the mask of the word lengths lo to hi.
func lengthMask(lo, hi int) uint16 {
	var m uint16
	for n := min(max(lo, 1), 63); n <= min(hi, 63); n++ {
		m |= lengthBits[n]
	}
	return m
}

// setPair marks words starting with c and d, of lo to hi bytes.
func setPair(c, d byte, lo, hi int) {
	if pairMasks[c] == nil {
		pairMasks[c] = new([256]uint16)
	}
	pairMasks[c][d] |= lengthMask(lo, hi)
}

// prefilter reports whether the word s[i:e] may start a token.
func prefilter(s string, i, e int) bool {
	p := pairMasks[s[i]]
	return p != nil && i+1 < len(s) && p[s[i+1]]&lengthBits[min(e-i, 63)] != 0
}

func init() {
	const unbounded = 1 << 30
	// The hand-written rules of word: their first bytes, their second where it is fixed, and
	// the lengths of their first words.
	for _, p := range []string{"AK", "AS", "AB", "AC", "A3"} { // AWS access keys
		setPair(p[0], p[1], 20, 20)
	}
	setPair('e', 'y', 10, unbounded) // JWTs, Grafana API keys
	for _, c := range []byte("Bb") { // Bearer, Basic
		for _, d := range []byte("Ee") {
			setPair(c, d, 6, 6)
		}
		for _, d := range []byte("Aa") {
			setPair(c, d, 5, 5)
		}
	}
	setPair('g', 'h', 34, unbounded) // GitHub
	setPair('g', 'i', 33, unbounded)
	setPair('x', 'o', 4, 4) // Slack
	setPair('x', 'a', 4, 4)
	setPair('s', 'k', 18, unbounded) // Stripe
	setPair('r', 'k', 18, unbounded)
	setPair('w', 'h', 26, unbounded)
	for d := 0; d < 256; d++ {
		if !isAlnum[d] {
			continue
		}
		for _, c := range []byte("MNO") { // Discord
			setPair(c, byte(d), 24, 28)
		}
		setPair('2', byte(d), 49, 49) // ngrok
		if isDigit(byte(d)) {
			for c := byte('2'); c <= '6'; c++ { // cards
				setPair(c, byte(d), 4, 4)
				setPair(c, byte(d), 13, 19)
			}
		}
	}

	fs := make([]*format, len(formatTable))
	for i := range formatTable {
		f := &formatTable[i]
		f.minLen = len(f.prefix)
		for _, p := range f.parts {
			f.minLen += len(p.lit) + p.min
		}
		f.wmin, f.wmax = f.firstWord()
		fs[i] = f
		setPair(f.prefix[0], f.prefix[1], f.wmin, f.wmax)
	}
	// Longest prefix first, then table order.
	sortStable(fs, func(a, b *format) bool { return len(a.prefix) > len(b.prefix) })
	for _, f := range fs {
		c, d := f.prefix[0], f.prefix[1]
		gs := firstFormats[c]
		k := 0
		for k < len(gs) && gs[k].second != d {
			k++
		}
		if k == len(gs) {
			gs = append(gs, formatGroup{second: d, wmin: f.wmin, wmax: f.wmax})
		}
		g := &gs[k]
		g.fs = append(g.fs, f)
		g.wmin, g.wmax = min(g.wmin, f.wmin), max(g.wmax, f.wmax)
		firstFormats[c] = gs
	}
}

// firstWord returns the range of the length of the first word of a token of format f: the
// scanner finds tokens at the start of words, and most words are rejected by their length.
func (f *format) firstWord() (lo, hi int) {
	const unbounded = 1 << 30
	for k := 0; k < len(f.prefix); k++ {
		if !isWord[f.prefix[k]] {
			return k, k
		}
	}
	lo, hi = len(f.prefix), len(f.prefix)
	if f.match != nil {
		return lo, unbounded
	}
	for _, p := range f.parts {
		if p.lit != "" {
			for k := 0; k < len(p.lit); k++ {
				if !isWord[p.lit[k]] {
					return lo + k, hi + k
				}
			}
			lo, hi = lo+len(p.lit), hi+len(p.lit)
			continue
		}
		in, out := false, false // whether the class has word bytes, and other bytes
		for b := range p.class {
			if p.class[b] {
				in = in || isWord[b]
				out = out || !isWord[b]
			}
		}
		switch {
		case !in: // the word ends before the run
			return lo, hi
		case out: // it may end anywhere in the run, or go on after it
			return lo, unbounded
		}
		lo += p.min
		if p.max == 0 {
			hi = unbounded
		} else {
			hi += p.max
		}
	}
	return lo, hi
}

// sortStable is an insertion sort (the table is sorted once, at init).
func sortStable(fs []*format, less func(a, b *format) bool) {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && less(fs[j], fs[j-1]); j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}

// formats tries the table formats starting at the word s[i:e].
func (sc *scanner) formats(i, e int) (match, bool) {
	s := sc.s
	if i+1 >= len(s) {
		return match{}, false
	}
	d, n := s[i+1], e-i
	for gi := range firstFormats[s[i]] {
		g := &firstFormats[s[i]][gi]
		if g.second != d {
			continue
		}
		if n < g.wmin || n > g.wmax {
			break
		}
		for _, f := range g.fs {
			if n < f.wmin || n > f.wmax || len(s)-i < f.minLen || !strings.HasPrefix(s[i:], f.prefix) || sc.r.off[f.rule] {
				continue
			}
			if f.match != nil {
				if m, ok := f.match(s, sc.r, i, e); ok {
					return m, true
				}
				continue
			}
			if end, ok := f.matchParts(s, i); ok {
				return match{i + f.keep, end, f.rule}, true
			}
		}
		break
	}
	return match{}, false
}

// matchParts matches the parts of f after its prefix at i; it returns the end of the token,
// which must not be followed by a byte of its last class or a word byte.
func (f *format) matchParts(s string, i int) (int, bool) {
	j := i + len(f.prefix)
	var last *[256]bool
	for _, p := range f.parts {
		if p.lit != "" {
			if !strings.HasPrefix(s[j:], p.lit) {
				return 0, false
			}
			j += len(p.lit)
			continue
		}
		lim := len(s)
		if p.max > 0 && j+p.max < lim {
			lim = j + p.max
		}
		k := j
		for k < lim && p.class[s[k]] {
			k++
		}
		if k-j < p.min {
			return 0, false
		}
		j = k
		if p.max > 0 || p.min > 0 {
			last = p.class
		}
	}
	if j < len(s) && (isWord[s[j]] || last != nil && last[s[j]]) {
		return 0, false
	}
	return j, true
}

// terraform matches a Terraform Cloud / HCP API token: 14 [A-Za-z0-9], ".atlasv1." and 60 to
// 70 [A-Za-z0-9_=-]; i is the start of "atlasv1.".
func terraform(s string, r *Redactor, i, _ int) (match, bool) {
	start := i - 15
	if start < 0 || s[i-1] != '.' || runEnd(s, start, &isAlnum) != i-1 || start > 0 && isWord[s[start-1]] {
		return match{}, false
	}
	j := i + len("atlasv1.")
	end := runEnd(s, j, &isB64URLEq)
	if n := end - j; n < 60 || n > 70 || end < len(s) && isWord[s[end]] {
		return match{}, false
	}
	return match{start, end, ruleTerraform}, true
}

// onePasswordKey matches a 1Password account secret key: "A3-", 6 [A-Z0-9], '-', 11 (or 6,
// '-', 5), then three more groups of '-' and 5.
func onePasswordKey(s string, r *Redactor, i, _ int) (match, bool) {
	group := func(j, n int) int { // the end of a group of n [A-Z0-9] at j, or -1
		if j+n > len(s) || runEnd(s[:j+n], j, &isUpperNum) != j+n {
			return -1
		}
		return j + n
	}
	j := group(i+3, 6)
	if j < 0 || j >= len(s) || s[j] != '-' {
		return match{}, false
	}
	if k := group(j+1, 11); k >= 0 && k < len(s) && s[k] == '-' {
		j = k
	} else if k := group(j+1, 6); k >= 0 && k < len(s) && s[k] == '-' {
		if j = group(k+1, 5); j < 0 {
			return match{}, false
		}
	} else {
		return match{}, false
	}
	for n := 0; n < 3; n++ {
		if j >= len(s) || s[j] != '-' {
			return match{}, false
		}
		if j = group(j+1, 5); j < 0 {
			return match{}, false
		}
	}
	if j < len(s) && isWord[s[j]] {
		return match{}, false
	}
	return match{i, j, ruleOnePassword}, true
}

// discordWebhook matches the id and token of a Discord webhook URL, after ".../api/",
// "webhooks/" or "v<N>/webhooks/".
func discordWebhook(s string, r *Redactor, i, _ int) (match, bool) {
	j := i + strings.Index(s[i:], "/api/") + len("/api/")
	if j+1 < len(s) && s[j] == 'v' && isDigit(s[j+1]) {
		j = runEnd(s, j+1, &isDigitTable)
		if j >= len(s) || s[j] != '/' {
			return match{}, false
		}
		j++
	}
	if !strings.HasPrefix(s[j:], "webhooks/") {
		return match{}, false
	}
	j += len("webhooks/")
	end := runEnd(s, j, &isPath)
	if end-j < 20 {
		return match{}, false
	}
	return match{j, end, ruleWebhookURL}, true
}

// iftttWebhook matches the key of an IFTTT Maker webhook URL: maker.ifttt.com/trigger/<event>/
// with/key/<key> or maker.ifttt.com/use/<key>.
func iftttWebhook(s string, r *Redactor, i, _ int) (match, bool) {
	j := i + len("maker.ifttt.com/")
	pathEnd := runEnd(s, j, &isPath)
	path := s[j:pathEnd]
	k := -1
	if strings.HasPrefix(path, "use/") {
		k = j + len("use/")
	} else if n := strings.Index(path, "/with/key/"); strings.HasPrefix(path, "trigger/") && n >= 0 {
		k = j + n + len("/with/key/")
	}
	if k < 0 {
		return match{}, false
	}
	end := runEnd(s, k, &isB64URLT)
	if end-k < 16 {
		return match{}, false
	}
	return match{k, end, ruleWebhookURL}, true
}

// mattermostWebhook matches the id of a Mattermost (or Rocket.Chat-style) incoming webhook:
// "/hooks/" and 26 [a-z0-9] ending the path.
func mattermostWebhook(s string, r *Redactor, i, _ int) (match, bool) {
	if i == 0 || s[i-1] != '/' {
		return match{}, false
	}
	j := i + len("hooks/")
	end := runEnd(s, j, &isLowerAlnum)
	if end-j != 26 || end < len(s) && isPath[s[end]] && s[end] != '/' {
		return match{}, false
	}
	return match{j, end, ruleWebhookURL}, true
}

// puttyKey matches the private part of a PuTTY key file: the base64 lines after
// "Private-Lines: <n>", up to "Private-MAC:" (or the end of s).
func puttyKey(s string, r *Redactor, i, _ int) (match, bool) {
	lim := min(len(s), i+16<<10)
	n := strings.Index(s[i:lim], "Private-Lines:")
	if n < 0 {
		return match{}, false
	}
	start := i + n + len("Private-Lines:")
	for start < len(s) && (isSpace(s[start]) || isDigit(s[start])) {
		start++
	}
	end := len(s)
	if n := strings.Index(s[start:], "Private-MAC:"); n >= 0 {
		end = start + n
	}
	for start < end && (isPEMSpace(s[start]) || s[start] == '\\' && start+1 < end && (s[start+1] == 'n' || s[start+1] == 'r')) {
		if s[start] == '\\' {
			start++
		}
		start++
	}
	for end > start && isPEMSpace(s[end-1]) {
		end--
	}
	if end-start < 16 || strings.HasPrefix(s[start:], r.maskPrefix) {
		return match{}, false
	}
	return match{start, end, rulePrivateKey}, true
}

// oracleThin matches the password of an Oracle thin JDBC URL, jdbc:oracle:thin:user/password@...
func oracleThin(s string, r *Redactor, i, _ int) (match, bool) {
	j := i + len("jdbc:oracle:thin:")
	end := runEnd(s, j, &isNotBlank)
	at := strings.LastIndexByte(s[j:end], '@')
	if at < 0 {
		return match{}, false
	}
	slash := strings.IndexByte(s[j:j+at], '/')
	if slash < 0 || slash+1 == at || strings.HasPrefix(s[j+slash+1:], r.maskPrefix) {
		return match{}, false
	}
	return match{j + slash + 1, j + at, ruleURLPassword}, true
}

// sqlQuoted matches the quoted password of SQL's PASSWORD '...' and IDENTIFIED BY '...'
// (CREATE USER, ALTER ROLE); i is the start of the keyword, which must start a word.
func sqlQuoted(s string, r *Redactor, i, _ int) (match, bool) {
	start := i + strings.IndexByte(s[i:], '\'') + 1
	end := len(s)
	if n := strings.IndexByte(s[start:], '\''); n >= 0 {
		end = start + n
	}
	if end == start || strings.HasPrefix(s[start:], r.maskPrefix) {
		return match{}, false
	}
	return match{start, end, ruleKeyValue}, true
}
