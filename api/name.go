package api

import (
	"strconv"
	"strings"

	"github.com/canary-dev/canary"
)

// A rollout's name is "namespace/name"; "namespace/name@GEN" names one of
// its generations (GEN counts from 1), where the bare name stands for the
// latest. The API's routes take "name@GEN" in the {name} segment, and
// API's methods take it in their name argument.

// SplitGeneration splits "ns/name@GEN" into "ns/name" and GEN; a name
// without "@" has generation 0 (the latest). A GEN that is not a positive
// integer is an invalid error.
func SplitGeneration(s string) (name string, gen int, err error) {
	name, g, ok := strings.Cut(s, "@")
	if !ok {
		return s, 0, nil
	}
	n, err := strconv.Atoi(g)
	if err != nil || n < 1 || strings.ContainsAny(g, "+-") {
		return "", 0, canary.Errorf(canary.EINVALID,
			"%q: the generation after '@' must be a whole number from 1 (as in %s@2)", s, name)
	}
	return name, n, nil
}

// WithGeneration is "name@gen", or name for gen 0 (the latest).
func WithGeneration(name string, gen int) string {
	if gen <= 0 {
		return name
	}
	return name + "@" + strconv.Itoa(gen)
}

// DeleteResult says what Delete removed: the generations of the name,
// all of them for a bare name, the one named with "@GEN".
type DeleteResult struct {
	Name        string `json:"name"`
	Generations []int  `json:"generations"`
}
