package secrets

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/plan"
)

// Ref is one secret reference in a plan and where it is.
type Ref struct {
	// Path is the field's path, e.g. spec.notify[0].slack.webhookURL.
	Path string
	// Ref is the reference.
	Ref canary.SecretRef
}

var secretRefType = reflect.TypeOf(canary.SecretRef(""))

// Refs lists every secret reference of p: each canary.SecretRef field,
// and each url field written as a reference (a webhook URL that embeds a
// token), with its path.
func Refs(p *canary.Plan) []Ref {
	var out []Ref
	walk(reflect.ValueOf(p).Elem(), "", &out)
	return out
}

func walk(v reflect.Value, path string, out *[]Ref) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walk(v.Elem(), path, out)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := strings.Split(f.Tag.Get("json"), ",")[0]
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fv := v.Field(i)
			if f.Type.Kind() == reflect.String && name == "url" && isRef(fv.String()) {
				*out = append(*out, Ref{join(path, name), canary.SecretRef(fv.String())})
				continue
			}
			walk(fv, join(path, name), out)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i), out)
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			walk(v.MapIndex(k), fmt.Sprintf("%s.%v", path, k), out)
		}
	case reflect.String:
		if v.Type() == secretRefType && v.String() != "" {
			*out = append(*out, Ref{path, canary.SecretRef(v.String())})
		}
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func isRef(s string) bool {
	for _, p := range []string{"env:", "file:", "secret:"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// CheckPlan checks every secret reference of p against the policy and
// returns every refusal at once, each naming its field, as a
// plan.ErrorList (an invalid plan).
func (p *Policy) CheckPlan(pl *canary.Plan) error {
	var list plan.ErrorList
	for _, r := range Refs(pl) {
		if err := p.Check(r.Ref); err != nil {
			list = append(list, &plan.Error{Path: r.Path, Msg: err.Error()})
		}
	}
	if len(list) == 0 {
		return nil
	}
	return list
}
