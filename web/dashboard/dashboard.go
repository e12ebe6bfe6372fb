package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/canary-dev/canary/web"
)

//go:embed assets
var embedded embed.FS

// CSP is the Content-Security-Policy of every page: scripts, styles,
// images and connections from this server only, no inline script, no
// frames, no form posts elsewhere.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Config configures the dashboard handler.
type Config struct {
	// Next serves every request that is not a dashboard page or asset:
	// the JSON API, /healthz, /readyz, /metrics. Default: 404 Not Found.
	Next http.Handler
}

// asset is one embedded file, ready to serve.
type asset struct {
	name string
	body []byte
	typ  string
	etag string
}

// handler serves the pages and the assets.
type handler struct {
	shell  *asset
	assets map[string]*asset
	mux    *http.ServeMux
	next   http.Handler
}

// New returns the dashboard: the pages of the package documentation, their
// assets, and Config.Next for everything else.
func New(cfg Config) (http.Handler, error) {
	h := &handler{assets: map[string]*asset{}, mux: http.NewServeMux()}
	err := fs.WalkDir(embedded, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := embedded.ReadFile(p)
		if err != nil {
			return err
		}
		typ, ok := contentTypes[path.Ext(p)]
		if !ok {
			return fmt.Errorf("dashboard: asset %s has no known content type", p)
		}
		sum := sha256.Sum256(body)
		a := &asset{name: path.Base(p), body: body, typ: typ, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		h.assets[strings.TrimPrefix(p, "assets/")] = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	if h.shell = h.assets["index.html"]; h.shell == nil {
		return nil, fmt.Errorf("dashboard: no index.html among the assets")
	}
	next := cfg.Next
	if next == nil {
		next = http.NotFoundHandler()
	}
	h.next = next
	h.mux.HandleFunc("GET /{$}", h.page)
	h.mux.HandleFunc("GET /rollouts/{namespace}/{name}", h.page)
	h.mux.HandleFunc("GET /rollouts/{namespace}/{name}/report", h.page)
	h.mux.HandleFunc("GET /assets/{file...}", h.asset)
	h.mux.Handle("/", next)
	return h, nil
}

// contentTypes are the types of the embedded files, by extension.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// ServeHTTP serves a page, an asset, or hands the request to Config.Next.
// A path that is not canonical goes to Config.Next as it is (the API
// refuses it with a 400) instead of being redirected by ServeMux.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !web.CanonicalPath(r.URL.Path) {
		h.next.ServeHTTP(w, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// page serves the HTML shell of every page; the script builds the page.
// A rollout path whose names are not DNS labels is 404, as the API would
// refuse them.
func (h *handler) page(w http.ResponseWriter, r *http.Request) {
	if ns := r.PathValue("namespace"); ns != "" && (!isLabel(ns) || !isGenName(r.PathValue("name"))) {
		http.Error(w, "no such page: rollouts are named by namespace and name, each of a-z, 0-9 and '-' (and name@GEN for one generation)", http.StatusNotFound)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", CSP)
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "no-referrer")
	h.serve(w, r, h.shell)
}

// isGenName accepts a DNS label, or "label@GEN" with GEN a whole number
// from 1 (one generation, as the API takes it).
func isGenName(s string) bool {
	name, gen, ok := strings.Cut(s, "@")
	if !ok {
		return isLabel(s)
	}
	if !isLabel(name) || gen == "" || len(gen) > 9 || gen[0] == '0' {
		return false
	}
	for _, c := range gen {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// asset serves an embedded file.
func (h *handler) asset(w http.ResponseWriter, r *http.Request) {
	a := h.assets[r.PathValue("file")]
	if a == nil || a == h.shell {
		http.NotFound(w, r)
		return
	}
	h.serve(w, r, a)
}

// serve writes a with its type and ETag; the browser revalidates it on
// every use (a new binary may carry new assets), answered by 304.
func (h *handler) serve(w http.ResponseWriter, r *http.Request, a *asset) {
	hdr := w.Header()
	hdr.Set("Content-Type", a.typ)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", a.etag)
	http.ServeContent(w, r, a.name, noModTime, bytes.NewReader(a.body))
}

// isLabel reports whether s is a DNS label, as the API requires of
// namespaces and names.
func isLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// noModTime leaves Last-Modified out: the ETag says whether an asset changed.
var noModTime = time.Time{}
