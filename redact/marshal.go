package redact

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// Marshal returns the JSON encoding of v (as json.Marshal) with secrets masked as
// [Redactor.AppendJSON] does, and with the values of struct fields tagged `log:"secret"` masked
// too.
//
// Tagged fields are found by walking v with reflection (through pointers, interfaces, slices,
// arrays, map values and embedded structs) and collecting their JSON names (the name from the
// `json` tag, or the Go field name); then every object member with one of those names is
// masked, at any depth of the output. So a tag can over-mask a member of the same name
// elsewhere in v, never under-mask. Types that cannot contain a tagged field are recognized
// once and not walked. A field of a type with its own MarshalJSON is found only if the output
// keeps its name.
//
// Marshal does not panic: a panic in a MarshalJSON or MarshalText method is returned as an
// error, as are cycles (json.Marshal reports them).
func (r *Redactor) Marshal(v any) ([]byte, error) {
	b, _, err := r.marshal(v)
	return b, err
}

// marshal is Marshal that also reports whether anything was masked.
func (r *Redactor) marshal(v any) (b []byte, changed bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			b, changed, err = nil, false, fmt.Errorf("redact: marshal %T: panic: %s", v, panicString(p))
		}
	}()
	js, err := json.Marshal(v)
	if err != nil {
		return nil, false, err
	}
	names := secretFieldNames(v)
	b, changed = r.appendJSON(make([]byte, 0, len(js)+16), js, names)
	return b, changed, nil
}

// panicString formats a recovered panic value without calling methods that could panic again.
func panicString(p any) (s string) {
	defer func() {
		if recover() != nil {
			s = fmt.Sprintf("(%T)", p)
		}
	}()
	return fmt.Sprint(p)
}

// secretFieldNames returns the JSON names of the fields tagged `log:"secret"` reachable from v,
// or nil.
func secretFieldNames(v any) map[string]struct{} {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() || !mayHaveTags(rv.Type()) {
		return nil
	}
	w := tagWalker{}
	w.walk(rv, 0)
	return w.names
}

// maxWalkDepth bounds the tag walk; json.Marshal itself fails on deeper cycles.
const maxWalkDepth = 1000

type visit struct {
	ptr uintptr
	typ reflect.Type
}

type tagWalker struct {
	names map[string]struct{}
	seen  map[visit]bool
}

func (w *tagWalker) walk(v reflect.Value, depth int) {
	if depth > maxWalkDepth || !v.IsValid() || !mayHaveTags(v.Type()) {
		return
	}
	switch v.Kind() {
	case reflect.Interface:
		if !v.IsNil() {
			w.walk(v.Elem(), depth+1)
		}
	case reflect.Pointer, reflect.Map, reflect.Slice:
		if v.IsNil() || !w.first(v) {
			return
		}
		switch v.Kind() {
		case reflect.Pointer:
			w.walk(v.Elem(), depth+1)
		case reflect.Map:
			for it := v.MapRange(); it.Next(); {
				w.walk(it.Value(), depth+1)
			}
		default:
			for i := 0; i < v.Len(); i++ {
				w.walk(v.Index(i), depth+1)
			}
		}
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			w.walk(v.Index(i), depth+1)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous {
				continue
			}
			if hasSecretTag(f.Tag) {
				if name := jsonName(f); name != "" {
					if w.names == nil {
						w.names = make(map[string]struct{})
					}
					w.names[name] = struct{}{}
				}
				continue
			}
			w.walk(v.Field(i), depth+1)
		}
	}
}

// first reports whether the pointer, map or slice v is seen for the first time.
func (w *tagWalker) first(v reflect.Value) bool {
	k := visit{v.Pointer(), v.Type()}
	if v.Kind() == reflect.Slice {
		// Slices sharing a backing array but of other lengths hold other elements.
		k.ptr += uintptr(v.Len()) << 1
	}
	if w.seen[k] {
		return false
	}
	if w.seen == nil {
		w.seen = make(map[visit]bool)
	}
	w.seen[k] = true
	return true
}

// hasSecretTag reports whether the `log` tag lists "secret".
func hasSecretTag(tag reflect.StructTag) bool {
	t, ok := tag.Lookup("log")
	if !ok {
		return false
	}
	for t != "" {
		var opt string
		opt, t, _ = strings.Cut(t, ",")
		if strings.TrimSpace(opt) == "secret" {
			return true
		}
	}
	return false
}

// jsonName returns the name encoding/json gives field f, or "" if it omits the field.
func jsonName(f reflect.StructField) string {
	tag := f.Tag.Get("json")
	if tag == "-" {
		return ""
	}
	if name, _, _ := strings.Cut(tag, ","); name != "" {
		return name
	}
	return f.Name
}

// tagTypes caches, by reflect.Type, whether a value of the type can contain a tagged field.
var tagTypes sync.Map

// mayHaveTags reports whether a value of type t can contain a struct field tagged
// `log:"secret"`: a tagged field is reachable in the type graph, or an interface is (whose
// dynamic value might contain one).
func mayHaveTags(t reflect.Type) bool {
	if v, ok := tagTypes.Load(t); ok {
		return v.(bool)
	}
	has := typeHasTags(t, make(map[reflect.Type]bool))
	tagTypes.Store(t, has)
	return has
}

func typeHasTags(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false // a recursive type: the other paths decide
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return typeHasTags(t.Elem(), seen)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous {
				continue
			}
			if hasSecretTag(f.Tag) || typeHasTags(f.Type, seen) {
				return true
			}
		}
	}
	return false
}
