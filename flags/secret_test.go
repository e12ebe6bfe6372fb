package flags

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
)

// TestSecretsSeam: the http provider reads its token through
// SetterConfig.Secrets (canary operator's secret:NAME/KEY) at every
// request, and a failing resolver's error names the reference, not a
// value.
func TestSecretsSeam(t *testing.T) {
	fs := newFlagService(t, &Memory{}, "flag-token-789")
	calls := 0
	resolve := func(_ context.Context, ref canary.SecretRef) (string, error) {
		calls++
		if ref == "secret:flags/token" {
			return "flag-token-789", nil
		}
		return "", canary.Errorf(canary.ENOTFOUND, "secret %s: Secret not found", ref)
	}
	ff := &canary.FeatureFlag{Provider: ProviderHTTP, Name: "new-checkout", URL: fs.srv.URL, Token: "secret:flags/token"}
	s, err := NewSetter(t.Context(), ff, SetterConfig{Rollout: "shop/checkout", Secrets: resolve})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetFlag(t.Context(), "new-checkout", true, 25); err != nil {
		t.Fatalf("SetFlag with the token from the resolver: %v", err)
	}
	if calls < 3 { // NewClient's check, the POST and the read-back
		t.Errorf("resolver called %d times, want at every request (3)", calls)
	}
	ff.Token = "secret:flags/missing"
	_, err = NewSetter(t.Context(), ff, SetterConfig{Secrets: resolve})
	if err == nil || !strings.Contains(err.Error(), "featureFlag.token: secret secret:flags/missing") || canary.ErrorCode(err) != canary.ENOTFOUND {
		t.Errorf("missing Secret: %v (code %s); want the reference and code not_found", err, canary.ErrorCode(err))
	}
	var e *canary.Error
	if !errors.As(err, &e) {
		t.Errorf("error %T is not a *canary.Error", err)
	}
	// Without the seam a secret:NAME/KEY reference is refused with the reason.
	ff.Token = "secret:flags/token"
	if _, err := NewSetter(t.Context(), ff, SetterConfig{}); err == nil || !strings.Contains(err.Error(), "only canary operator reads") {
		t.Errorf("secret: without a resolver: %v", err)
	}
}
