package main

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// TestLogsRedactURLCredentials: serve's and the operator's log handler
// redacts credentials written in URLs from the message, string and error
// attributes, groups and WithAttrs, and leaves the rest as it was.
func TestLogsRedactURLCredentials(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(redactLogs(slog.NewJSONHandler(&buf, nil))).With("plan", "url: http://u:with-attrs-pw@h/x")
	log.Warn("pre-check http://a:msg-pw@h/ failed",
		"url", "https://h/p?api_key=attr-key&page=2",
		"err", errors.New(`Get "http://b:err-pw@h/": EOF`),
		slog.Group("provider", "address", "http://c:group-pw@prom:9090"),
		"count", 3)
	out := buf.String()
	for _, s := range []string{"with-attrs-pw", "msg-pw", "attr-key", "err-pw", "group-pw"} {
		if strings.Contains(out, s) {
			t.Errorf("the log line shows %q: %s", s, out)
		}
	}
	for _, s := range []string{"http://a:redacted@h/", "api_key=redacted&page=2", `"count":3`, "http://c:redacted@prom:9090"} {
		if !strings.Contains(out, s) {
			t.Errorf("the log line lacks %s: %s", s, out)
		}
	}
}
