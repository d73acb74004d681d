package redact

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// DefaultMask is the replacement for a secret when [Options.Mask] is empty. It is also what a
// [Secret] always shows.
const DefaultMask = "[REDACTED]"

// minHashKeyLen is the shortest accepted [Options.HashKey]. With a shorter key the replacements
// of low-entropy secrets (passwords) could be brute-forced by guessing key and secret together.
const minHashKeyLen = 16

// hashHexLen is the number of hex digits of the HMAC shown in a hashed replacement.
const hashHexLen = 12

// Options configures a [Redactor]. The zero value (and a nil *Options) means the defaults: every
// built-in key name and rule, replacement [DefaultMask], no hashing.
type Options struct {
	// Keys adds secret key names to the built-in list. Names are compared after normalization
	// (ASCII lowercased, '-', '_', '.' and ' ' dropped), and a key is secret when its normalized
	// form ends with a normalized name, so "session_key" also catches "user_session_key".
	// A name must not normalize to the empty string or to more than 64 bytes.
	Keys []string

	// IgnoreKeys lists key names that are never secret. A key whose normalized form equals a
	// normalized ignored name is not secret, whatever name it ends with; an ignored name that is
	// also a built-in name is besides removed from the list of suffixes, so ignoring "token"
	// lets "github_token" through too while ignoring "page_token" exempts that key alone.
	// A name may not be both in Keys and in IgnoreKeys.
	IgnoreKeys []string

	// DisableRules turns rules off by name (see [RuleNames]). Disabling "key" turns off masking
	// by key name: IsSecretKey then always reports false (the "key_value" rule, which finds
	// key=value pairs inside text, is separate). Rules overlap: disabling one does not stop
	// another from matching the same text.
	DisableRules []string

	// Mask replaces secrets. Default: [DefaultMask]. It must be valid UTF-8 and cannot be
	// combined with HashKey.
	Mask string

	// HashKey, when non-empty, makes the replacement of a secret "[REDACTED:" + the first 12 hex
	// digits of HMAC-SHA256(HashKey, secret) + "]", so that the same secret can be correlated
	// across records without being shown. Card numbers are hashed by their digits alone, so
	// "4111 1111 1111 1111" and "4111111111111111" correlate. It must be at least 16 bytes
	// long. Values masked without being read ([Redactor.MaskKey], non-string values under a
	// secret key) still get the plain [DefaultMask].
	HashKey []byte
}

// A Redactor finds and masks secrets in log keys, strings and JSON. It is safe for concurrent
// use; its configuration is fixed by [New] and only its counters change afterwards. A Redactor
// must not be copied after first use.
type Redactor struct {
	keys       keySet
	keyOn      bool
	off        [numRules]bool
	mask       string
	maskPrefix string // a value starting with it is already masked; keeps String idempotent
	hashKey    []byte
	hashes     sync.Pool // of hash.Hash (HMAC-SHA256 keyed with hashKey)
	counts     [numRules]atomic.Uint64
	// keyCache remembers IsSecretKey's answer for the keys seen (see keys.go).
	keyCache [keyCacheSlots]atomic.Pointer[keyEntry]
}

// rule identifies a redaction rule; it indexes Redactor.counts.
type rule uint8

// The rules. The first thirteen are the original ones; their names are metric labels
// (vlog_redactions_total{rule}) and never change. A new rule gets a new name, appended.
const (
	ruleKey rule = iota
	ruleKeyValue
	ruleAWSAccessKey
	ruleAWSSecretKey
	ruleJWT
	ruleBearer
	ruleBasic
	rulePrivateKey
	ruleGitHub
	ruleSlack
	ruleStripe
	ruleURLPassword
	ruleCard
	// Cloud providers.
	ruleAWSSessionToken
	ruleAWSBedrock
	ruleGoogle
	ruleAzure
	ruleAlibaba
	ruleTencent
	ruleDigitalOcean
	ruleHeroku
	ruleCloudflare
	ruleFlyio
	ruleYandex
	ruleAkamai
	// Secret managers and infrastructure tools.
	ruleVault
	ruleTerraform
	ruleDoppler
	rulePulumi
	ruleOnePassword
	ruleAge
	ruleTailscale
	ruleNgrok
	ruleDefinedNetworking
	// Databases and data platforms.
	ruleDatabricks
	rulePlanetScale
	ruleSupabase
	ruleClickHouse
	// Code hosts, CI and developer tools.
	ruleGitLab
	ruleAtlassian
	ruleOpenShift
	ruleSourcegraph
	ruleSonarQube
	ruleCircleCI
	ruleBuildkite
	ruleHarness
	ruleOctopus
	ruleScalingo
	rulePrefect
	ruleInfracost
	ruleDeno
	ruleFigma
	rulePostman
	// Package registries.
	ruleNpm
	rulePyPI
	ruleRubyGems
	ruleNuGet
	ruleDocker
	ruleArtifactory
	ruleClojars
	ruleCratesIO
	// SaaS and API providers.
	ruleLinear
	ruleNotion
	ruleAirtable
	ruleHubSpot
	ruleSentry
	ruleGrafana
	ruleNewRelic
	ruleDynatrace
	ruleTypeform
	ruleFrameio
	ruleReadme
	ruleSettlemint
	ruleAdobe
	ruleMaxMind
	ruleIntra42
	ruleContentful
	ruleMapbox
	ruleDropbox
	ruleFacebook
	ruleTwitter
	ruleAuthress
	// Mail, messaging and chat.
	ruleSendGrid
	ruleMailgun
	ruleMailchimp
	ruleBrevo
	ruleTwilio
	ruleTelegram
	ruleDiscord
	ruleFirebase
	ruleWebhookURL
	// Payment and commerce.
	ruleShopify
	ruleSquare
	ruleBraintree
	ruleFlutterwave
	rulePlaid
	ruleDuffel
	ruleEasyPost
	ruleShippo
	// AI providers.
	ruleOpenAI
	ruleAnthropic
	ruleHuggingFace
	ruleGroq
	ruleReplicate
	rulePerplexity
	ruleXAI
	ruleOpenRouter
	ruleLangSmith
	// Command lines.
	ruleCurlAuth
	numRules
)

var ruleNames = [numRules]string{
	ruleKey:          "key",
	ruleKeyValue:     "key_value",
	ruleAWSAccessKey: "aws_access_key",
	ruleAWSSecretKey: "aws_secret_key",
	ruleJWT:          "jwt",
	ruleBearer:       "bearer",
	ruleBasic:        "basic",
	rulePrivateKey:   "private_key",
	ruleGitHub:       "github",
	ruleSlack:        "slack",
	ruleStripe:       "stripe",
	ruleURLPassword:  "url_password",
	ruleCard:         "card",

	ruleAWSSessionToken:   "aws_session_token",
	ruleAWSBedrock:        "aws_bedrock",
	ruleGoogle:            "google",
	ruleAzure:             "azure",
	ruleAlibaba:           "alibaba",
	ruleTencent:           "tencent",
	ruleDigitalOcean:      "digitalocean",
	ruleHeroku:            "heroku",
	ruleCloudflare:        "cloudflare",
	ruleFlyio:             "flyio",
	ruleYandex:            "yandex",
	ruleAkamai:            "akamai",
	ruleVault:             "vault",
	ruleTerraform:         "terraform",
	ruleDoppler:           "doppler",
	rulePulumi:            "pulumi",
	ruleOnePassword:       "onepassword",
	ruleAge:               "age",
	ruleTailscale:         "tailscale",
	ruleNgrok:             "ngrok",
	ruleDefinedNetworking: "defined_networking",
	ruleDatabricks:        "databricks",
	rulePlanetScale:       "planetscale",
	ruleSupabase:          "supabase",
	ruleClickHouse:        "clickhouse",
	ruleGitLab:            "gitlab",
	ruleAtlassian:         "atlassian",
	ruleOpenShift:         "openshift",
	ruleSourcegraph:       "sourcegraph",
	ruleSonarQube:         "sonarqube",
	ruleCircleCI:          "circleci",
	ruleBuildkite:         "buildkite",
	ruleHarness:           "harness",
	ruleOctopus:           "octopus",
	ruleScalingo:          "scalingo",
	rulePrefect:           "prefect",
	ruleInfracost:         "infracost",
	ruleDeno:              "deno",
	ruleFigma:             "figma",
	rulePostman:           "postman",
	ruleNpm:               "npm",
	rulePyPI:              "pypi",
	ruleRubyGems:          "rubygems",
	ruleNuGet:             "nuget",
	ruleDocker:            "docker",
	ruleArtifactory:       "artifactory",
	ruleClojars:           "clojars",
	ruleCratesIO:          "crates_io",
	ruleLinear:            "linear",
	ruleNotion:            "notion",
	ruleAirtable:          "airtable",
	ruleHubSpot:           "hubspot",
	ruleSentry:            "sentry",
	ruleGrafana:           "grafana",
	ruleNewRelic:          "newrelic",
	ruleDynatrace:         "dynatrace",
	ruleTypeform:          "typeform",
	ruleFrameio:           "frameio",
	ruleReadme:            "readme",
	ruleSettlemint:        "settlemint",
	ruleAdobe:             "adobe",
	ruleMaxMind:           "maxmind",
	ruleIntra42:           "intra42",
	ruleContentful:        "contentful",
	ruleMapbox:            "mapbox",
	ruleDropbox:           "dropbox",
	ruleFacebook:          "facebook",
	ruleTwitter:           "twitter",
	ruleAuthress:          "authress",
	ruleSendGrid:          "sendgrid",
	ruleMailgun:           "mailgun",
	ruleMailchimp:         "mailchimp",
	ruleBrevo:             "brevo",
	ruleTwilio:            "twilio",
	ruleTelegram:          "telegram",
	ruleDiscord:           "discord",
	ruleFirebase:          "firebase",
	ruleWebhookURL:        "webhook_url",
	ruleShopify:           "shopify",
	ruleSquare:            "square",
	ruleBraintree:         "braintree",
	ruleFlutterwave:       "flutterwave",
	rulePlaid:             "plaid",
	ruleDuffel:            "duffel",
	ruleEasyPost:          "easypost",
	ruleShippo:            "shippo",
	ruleOpenAI:            "openai",
	ruleAnthropic:         "anthropic",
	ruleHuggingFace:       "huggingface",
	ruleGroq:              "groq",
	ruleReplicate:         "replicate",
	rulePerplexity:        "perplexity",
	ruleXAI:               "xai",
	ruleOpenRouter:        "openrouter",
	ruleLangSmith:         "langsmith",
	ruleCurlAuth:          "curl_auth",
}

// RuleNames returns the names of all rules, as used by [Options.DisableRules] and as keys of
// [Redactor.Counts], in a fixed order.
func RuleNames() []string {
	return append([]string(nil), ruleNames[:]...)
}

// New returns a Redactor configured by opts; nil opts means the defaults. It reports an error
// naming the offending field and value when an option is invalid.
func New(opts *Options) (*Redactor, error) {
	if opts == nil {
		opts = &Options{}
	}
	r := &Redactor{keyOn: true, mask: DefaultMask}
	if opts.Mask != "" {
		if !utf8.ValidString(opts.Mask) {
			return nil, errors.New("redact: Options.Mask is not valid UTF-8")
		}
		if len(opts.HashKey) > 0 {
			return nil, errors.New("redact: Options.Mask and Options.HashKey cannot be combined: HashKey fixes the replacement to \"[REDACTED:<hmac>]\"")
		}
		r.mask = opts.Mask
	}
	r.maskPrefix = r.mask
	if len(opts.HashKey) > 0 {
		if len(opts.HashKey) < minHashKeyLen {
			return nil, fmt.Errorf("redact: Options.HashKey is %d bytes, need at least %d", len(opts.HashKey), minHashKeyLen)
		}
		r.hashKey = append([]byte(nil), opts.HashKey...)
		r.maskPrefix = "[REDACTED:"
		key := r.hashKey
		r.hashes.New = func() any { return hmac.New(sha256.New, key) }
	}
	for i, name := range opts.DisableRules {
		ru, ok := ruleByName(name)
		if !ok {
			return nil, fmt.Errorf("redact: Options.DisableRules[%d]: unknown rule %q (known: %s)", i, name, strings.Join(ruleNames[:], ", "))
		}
		r.off[ru] = true
	}
	r.keyOn = !r.off[ruleKey]
	ks, err := newKeySet(opts.Keys, opts.IgnoreKeys)
	if err != nil {
		return nil, err
	}
	r.keys = ks
	return r, nil
}

func ruleByName(name string) (rule, bool) {
	for i, n := range ruleNames {
		if n == name {
			return rule(i), true
		}
	}
	return 0, false
}

// on reports whether rule ru is enabled.
func (r *Redactor) on(ru rule) bool { return !r.off[ru] }

// Counts returns the number of redactions made so far, by rule name (see [RuleNames]). Rules
// that have not fired are absent. Counting uses atomic counters, so Counts may be called while
// other goroutines redact; the snapshot is not atomic across rules.
func (r *Redactor) Counts() map[string]uint64 {
	m := make(map[string]uint64)
	for i := range r.counts {
		if n := r.counts[i].Load(); n > 0 {
			m[ruleNames[i]] = n
		}
	}
	return m
}

// MaskKey returns the replacement for a whole value under a secret key, whatever its type, and
// counts one redaction by rule "key". It is the configured mask, also in hash mode (the value is
// not read, so it cannot be hashed: see [Redactor.MaskKeyString]).
func (r *Redactor) MaskKey() string {
	r.counts[ruleKey].Add(1)
	return r.mask
}

// MaskKeyString returns the replacement for the string value v under a secret key and counts
// one redaction by rule "key". It is the mask, or in hash mode the hashed replacement of v. It
// allocates only in hash mode.
func (r *Redactor) MaskKeyString(v string) string {
	r.counts[ruleKey].Add(1)
	if r.hashKey == nil {
		return r.mask
	}
	return string(r.appendHashed(make([]byte, 0, len("[REDACTED:]")+hashHexLen), v))
}

// appendMask appends the replacement of secret, found by rule ru, to dst.
func (r *Redactor) appendMask(dst []byte, ru rule, secret string) []byte {
	if r.hashKey == nil {
		return append(dst, r.mask...)
	}
	if ru == ruleCard {
		var digits [32]byte
		n := 0
		for i := 0; i < len(secret) && n < len(digits); i++ {
			if c := secret[i]; c >= '0' && c <= '9' {
				digits[n] = c
				n++
			}
		}
		return r.appendHashed(dst, string(digits[:n]))
	}
	return r.appendHashed(dst, secret)
}

// appendHashed appends "[REDACTED:" + hex(HMAC-SHA256(hashKey, secret))[:12] + "]" to dst.
func (r *Redactor) appendHashed(dst []byte, secret string) []byte {
	h := r.hashes.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(secret))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	r.hashes.Put(h)
	const hexdigits = "0123456789abcdef"
	dst = append(dst, "[REDACTED:"...)
	for _, b := range sum[:hashHexLen/2] {
		dst = append(dst, hexdigits[b>>4], hexdigits[b&0xf])
	}
	return append(dst, ']')
}
