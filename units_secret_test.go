package canary

import (
	"strings"
	"testing"
)

func TestSecretRefForms(t *testing.T) {
	t.Setenv("CANARY_TEST_SECRET", " s3cr3t \n")
	for _, tc := range []struct {
		ref       SecretRef
		valid     bool
		name, key string
	}{
		{"env:CANARY_TEST_SECRET", true, "", ""},
		{"file:/etc/token", true, "", ""},
		{"secret:slack-webhook/url", true, "slack-webhook", "url"},
		{"secret:a.b-c/KEY_1.x", true, "a.b-c", "KEY_1.x"},
		{"secret:Upper/url", false, "", ""},
		{"secret:name", false, "", ""},
		{"secret:/url", false, "", ""},
		{"secret:name/", false, "", ""},
		{"secret:name/a/b", false, "", ""},
		{"xoxb-literal", false, "", ""},
	} {
		err := tc.ref.Validate()
		if (err == nil) != tc.valid {
			t.Errorf("%q: Validate() = %v, want valid=%v", tc.ref, err, tc.valid)
		}
		if err != nil && strings.Contains(err.Error(), string(tc.ref)) {
			t.Errorf("%q: the error repeats the value: %v", tc.ref, err)
		}
		name, key, ok := tc.ref.KubernetesSecret()
		if name != tc.name || key != tc.key || ok != (tc.name != "") {
			t.Errorf("%q: KubernetesSecret() = %q, %q, %v", tc.ref, name, key, ok)
		}
	}
	if v, err := SecretRef("env:CANARY_TEST_SECRET").Resolve(); err != nil || v != "s3cr3t" {
		t.Errorf("env: Resolve() = %q, %v", v, err)
	}
	_, err := SecretRef("secret:slack-webhook/url").Resolve()
	if err == nil || !strings.Contains(err.Error(), "only canary operator reads") || ErrorCode(err) != EINVALID {
		t.Errorf("secret: Resolve() outside the operator = %v, want an invalid error saying only the operator reads it", err)
	}
}
