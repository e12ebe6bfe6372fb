package main

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/canary-dev/canary/web"
)

// TestServicesAPIRefusesStrangers: the front doors' API, as an attacker
// tries it: no token, a wrong token and a viewer deleting are refused
// before anything is read or removed.
func TestServicesAPIRefusesStrangers(t *testing.T) {
	tokens, err := web.ParseTokens("ops:operator:" + ctlOpToken + ",ci:viewer:" + ctlViewToken)
	if err != nil {
		t.Fatal(err)
	}
	// No manager and no front doors: a request that got past the check
	// would panic, so each refusal below is the check's.
	h := &servicesHandler{auth: web.Authorizer(tokens, false), log: slog.New(slog.DiscardHandler)}
	tests := []struct {
		name, method, path, token string
		want                      int
	}{
		{"list without a token", "GET", servicesPath, "", http.StatusUnauthorized},
		{"list with a wrong token", "GET", servicesPath, "not-a-real-token-not-a-real-token-00", http.StatusUnauthorized},
		{"delete without a token", "DELETE", servicesPath + "/127.0.0.1:8080", "", http.StatusUnauthorized},
		{"delete as a viewer", "DELETE", servicesPath + "/127.0.0.1:8080", ctlViewToken, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("%s %s: %d %s, want %d", tt.method, tt.path, rec.Code, rec.Body.String(), tt.want)
			}
		})
	}
}
