package canary

import "testing"

// TestRedactURLCredentials: passwords in URLs, token user parts and
// credential query values are redacted wherever the URL sits in the text;
// the rest of the URL and of the text is left as it was.
func TestRedactURLCredentials(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"user and password", "GET http://user:hunter2@prom.internal:9090/api/v1/query failed",
			"GET http://user:redacted@prom.internal:9090/api/v1/query failed"},
		{"token as user", "clone https://ghp_abcdef0123456789@github.com/x/y.git",
			"clone https://redacted@github.com/x/y.git"},
		{"api_key", "pre-check http://status.example.com/health?api_key=s3cr3t&env=prod: 503",
			"pre-check http://status.example.com/health?api_key=redacted&env=prod: 503"},
		{"token, password, case and dashes", "u=https://h/x?Token=a1&PASSWORD=b2&X-Api-Key=c3&page=2#top",
			"u=https://h/x?Token=redacted&PASSWORD=redacted&X-Api-Key=redacted&page=2#top"},
		{"in JSON", `{"url":"http://a:b@h/p?token=t","n":1}`, `{"url":"http://a:redacted@h/p?token=redacted","n":1}`},
		{"in YAML inside JSON", `"plan":"url: http://a:b@h/x\n  next: 1"`, `"plan":"url: http://a:redacted@h/x\n  next: 1"`},
		{"two URLs", "from http://a:1@x to http://b:2@y", "from http://a:redacted@x to http://b:redacted@y"},
		{"clean URL untouched", "see https://canary.example.com/rollouts/7?tab=events", "see https://canary.example.com/rollouts/7?tab=events"},
		{"no URL", "latencyP95 742ms > 600ms for 5m", "latencyP95 742ms > 600ms for 5m"},
		{"email address untouched", "mail to product@example.com", "mail to product@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RedactURLCredentials(tt.in); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
