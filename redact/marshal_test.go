package redact_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"go.vlog.dev/redact"
)

type tagged struct {
	User    string
	PIN     string `log:"secret"`
	Note    string `json:"note" log:"secret"`
	Skipped string `json:"-" log:"secret"`
	Other   string `log:"other,secret"`
	Deep    *taggedInner
	Any     any
	hidden  string // unexported: ignored by json and by the walk
}

type taggedInner struct {
	Card  map[string]string `json:"card_data" log:"secret"`
	Level int
}

type embedded struct {
	taggedInner
	Name string
}

type cyclic struct {
	Next *cyclic
	Pass string `log:"secret"`
}

type cyclicMap map[string]any

type panicker struct{}

func (panicker) MarshalJSON() ([]byte, error) { panic("boom with password=hunter2") }

func TestMarshalTags(t *testing.T) {
	r := mustNew(t, nil)
	f := func(v any, want string) {
		t.Helper()
		got, err := r.Marshal(v)
		require.NoError(t, err)
		require.JSONEq(t, want, string(got))
	}

	f(tagged{User: "bob", PIN: "1234", Note: "n", Skipped: "s", Other: "o", hidden: "h"},
		`{"User":"bob","PIN":"[REDACTED]","note":"[REDACTED]","Other":"[REDACTED]","Deep":null,"Any":null}`)
	f(&tagged{Deep: &taggedInner{Card: map[string]string{"pan": "4111"}, Level: 2}},
		`{"User":"","PIN":"[REDACTED]","note":"[REDACTED]","Other":"[REDACTED]","Deep":{"card_data":"[REDACTED]","Level":2},"Any":null}`)
	// Through interfaces, maps and slices.
	f(map[string]any{"list": []any{tagged{User: "a", PIN: "1"}}, "x": 1},
		`{"list":[{"User":"a","PIN":"[REDACTED]","note":"[REDACTED]","Other":"[REDACTED]","Deep":null,"Any":null}],"x":1}`)
	f(tagged{Any: taggedInner{Card: map[string]string{}}},
		`{"User":"","PIN":"[REDACTED]","note":"[REDACTED]","Other":"[REDACTED]","Deep":null,"Any":{"card_data":"[REDACTED]","Level":0}}`)
	// Embedded structs are flattened by encoding/json.
	f(embedded{taggedInner: taggedInner{Card: map[string]string{"a": "b"}, Level: 1}, Name: "e"},
		`{"card_data":"[REDACTED]","Level":1,"Name":"e"}`)
	// Key names and value rules still apply; a same-named member elsewhere is masked too
	// (documented over-masking).
	f(map[string]any{"t": tagged{}, "PIN": "9", "api_key": "k", "msg": "Bearer abc123def456"},
		`{"t":{"User":"","PIN":"[REDACTED]","note":"[REDACTED]","Other":"[REDACTED]","Deep":null,"Any":null},"PIN":"[REDACTED]","api_key":"[REDACTED]","msg":"Bearer [REDACTED]"}`)
	// No tags: plain json.Marshal plus AppendJSON.
	f(struct{ A, B string }{"x", "y"}, `{"A":"x","B":"y"}`)
	f(nil, `null`)
	f(redact.Secret("hunter2"), `"[REDACTED]"`)
}

func TestMarshalFailures(t *testing.T) {
	r := mustNew(t, nil)

	c := &cyclic{Pass: "p"}
	c.Next = c
	_, err := r.Marshal(c)
	require.ErrorContains(t, err, "cycle")

	m := cyclicMap{}
	m["self"] = m
	_, err = r.Marshal(m)
	require.Error(t, err)

	_, err = r.Marshal(panicker{})
	require.ErrorContains(t, err, "panic: boom")

	_, err = r.Marshal(map[string]any{"f": func() {}})
	require.Error(t, err)

	_, err = r.Marshal(make(chan int))
	require.Error(t, err)
}

func TestMarshalTagCycleWalk(t *testing.T) {
	// A cycle through an interface that json.Marshal never reaches (the field is omitted) must
	// not loop in the tag walk.
	type node struct {
		Self any    `json:"-"`
		Pass string `log:"secret"`
	}
	n := &node{Pass: "p"}
	n.Self = n
	r := mustNew(t, nil)
	got, err := r.Marshal(n)
	require.NoError(t, err)
	require.JSONEq(t, `{"Pass":"[REDACTED]"}`, string(got))
	require.True(t, json.Valid(got))
}
