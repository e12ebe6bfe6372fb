package web

import (
	"path"
	"strings"
)

// CanonicalPath reports whether p is a path ServeMux would serve as it is:
// rooted, without empty, . or .. segments (a trailing slash is allowed).
// ServeMux redirects any other path to its cleaned form (307); the API and
// the dashboard refuse it instead, so /api/v1/rollouts/a/b/../c never
// becomes a different request behind the client's back.
func CanonicalPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	return clean == p
}
