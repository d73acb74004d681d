package redact_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"go.vlog.dev/redact"
)

// dropTime removes the time from slog's output, so that examples have a fixed output.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

func ExampleNewHandler() {
	r, err := redact.New(nil)
	if err != nil {
		panic(err)
	}
	jsonHandler := slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: dropTime})
	logger := slog.New(redact.NewHandler(jsonHandler, r))

	logger.Info("connecting with password=hunter2",
		"dsn", "postgres://app:hunter2@db:5432/orders",
		"api_key", "k-123",
		"headers", http.Header{"Authorization": {"Bearer abc123def456"}, "Accept": {"*/*"}},
		"order", "ord_12345678901234",
	)
	fmt.Println(r.Counts())
	// Output:
	// {"level":"INFO","msg":"connecting with password=[REDACTED]","dsn":"postgres://app:[REDACTED]@db:5432/orders","api_key":"[REDACTED]","headers":{"Accept":["*/*"],"Authorization":"[REDACTED]"},"order":"ord_12345678901234"}
	// map[key:2 key_value:1 url_password:1]
}

func ExampleRedactor_String() {
	r, err := redact.New(nil)
	if err != nil {
		panic(err)
	}
	for _, s := range []string{
		"login ok for user 42",
		"retrying with Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
		"charged 4111 1111 1111 1111 for order ord_12345678901234",
		"key AKIAIOSFODNN7EXAMPLE, Server=db;Password=p w;",
	} {
		fmt.Println(r.String(s))
	}
	// Output:
	// login ok for user 42 false
	// retrying with Authorization: Bearer [REDACTED] true
	// charged [REDACTED] for order ord_12345678901234 true
	// key [REDACTED], Server=db;Password=[REDACTED]; true
}

func ExampleRedactor_IsSecretKey() {
	r, err := redact.New(&redact.Options{Keys: []string{"ssn"}, IgnoreKeys: []string{"next_page_token"}})
	if err != nil {
		panic(err)
	}
	for _, k := range []string{"X-Api-Key", "db_password", "token_count", "user_ssn", "nextPageToken"} {
		fmt.Println(k, r.IsSecretKey(k))
	}
	// Output:
	// X-Api-Key true
	// db_password true
	// token_count false
	// user_ssn true
	// nextPageToken false
}

func ExampleRedactor_Marshal() {
	type Account struct {
		User   string
		PIN    string `json:"pin" log:"secret"`
		APIKey string `json:"api_key"`
	}
	r, err := redact.New(nil)
	if err != nil {
		panic(err)
	}
	b, err := r.Marshal(Account{User: "bob", PIN: "1234", APIKey: "k-1"})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))
	// Output:
	// {"User":"bob","pin":"[REDACTED]","api_key":"[REDACTED]"}
}

func ExampleRedactor_AppendJSON() {
	r, err := redact.New(nil)
	if err != nil {
		panic(err)
	}
	js, err := json.Marshal(map[string]any{
		"user":  "bob",
		"creds": map[string]string{"token": "t-1"},
		"note":  "see https://bob:pw@example.com",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(r.AppendJSON(nil, js)))
	// Output:
	// {"creds":{"token":"[REDACTED]"},"note":"see https://bob:[REDACTED]@example.com","user":"bob"}
}

func ExampleRedactor_ReplaceAttr() {
	r, err := redact.New(nil)
	if err != nil {
		panic(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			return r.ReplaceAttr(groups, dropTime(groups, a))
		},
	}))
	logger.Info("sent", "to", "bob@example.com", "cookie", "sid=abc")
	// Output:
	// level=INFO msg=sent to=bob@example.com cookie=[REDACTED]
}

func ExampleOptions_hashKey() {
	r, err := redact.New(&redact.Options{HashKey: []byte("a key kept in the secret store")})
	if err != nil {
		panic(err)
	}
	a, _ := r.String("password=hunter2")
	b, _ := r.String("retry with pwd: hunter2")
	fmt.Println(a)
	fmt.Println(b)
	// Output:
	// password=[REDACTED:99b01bc2390c]
	// retry with pwd: [REDACTED:99b01bc2390c]
}

func ExampleSecret() {
	pass := redact.Secret("hunter2")
	fmt.Printf("%v %s %q\n", pass, pass, pass)
	slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: dropTime})).
		Info("connect", "user", "app", "pass", pass)
	// Output:
	// [REDACTED] [REDACTED] "[REDACTED]"
	// level=INFO msg=connect user=app pass=[REDACTED]
}
