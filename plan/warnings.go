package plan

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// yaml11Bools are the plain scalars YAML 1.1 reads as booleans. canary
// reads plans as YAML 1.2, where they are strings; kubectl reads YAML 1.1,
// so `on:` written bare becomes the key "true" there.
var yaml11Bools = map[string]bool{"y": true, "yes": true, "n": true, "no": true, "on": true, "off": true}

// Warnings returns what is valid in a plan but surprising elsewhere:
// today, mapping keys that YAML 1.1 (kubectl) reads as booleans, such as a
// notify entry's bare `on:`, which would stop the plan from applying
// unchanged as a Rollout with kubectl. Each is "file:line:col: what (how to
// fix)". A file that does not parse has none (Parse reports it).
func Warnings(filename string, data []byte) []string {
	root, errs := parseYAML(filename, data)
	if root == nil || len(errs) > 0 {
		return nil
	}
	var out []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if k.Kind == yaml.ScalarNode && k.Style == 0 && yaml11Bools[strings.ToLower(k.Value)] {
					out = append(out, fmt.Sprintf("%s:%d:%d: key %s: kubectl reads a bare %s as a boolean (YAML 1.1), so this plan would not apply as a Rollout (write %q:)",
						filename, k.Line, k.Column, k.Value, k.Value, k.Value))
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(root)
	return out
}
