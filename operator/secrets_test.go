package operator_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/operator"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestSecretResolver reads secret:NAME/KEY from real Secrets (directly,
// as the operator's identity with deploy/operator's RBAC, which grants
// only get) and refuses env:/file:, which would read the operator pod's
// own environment and files; every error names the reference and what to
// do, never the value.
func TestSecretResolver(t *testing.T) { // not parallel: t.Setenv
	env := operatorEnv(t)
	applyManifests(t, env)
	ns := env.Namespace(t)
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "prom"},
		StringData: map[string]string{"token": "  tok-9f8e7d\n", "empty": " ", "multi": "a\nb-secretvalue"}}
	if err := env.Client.Create(t.Context(), sec); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CANARY_TEST_OPERATOR_TOKEN", "env-tok-1234")
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("file-tok-5678\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	asOperator := rest.CopyConfig(env.Config)
	asOperator.Impersonate = rest.ImpersonationConfig{UserName: operatorUser}
	opClient, err := client.New(asOperator, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	nobody := rest.CopyConfig(env.Config)
	nobody.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + ns + ":nobody"}
	nobodyClient, err := client.New(nobody, client.Options{})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		reader  client.Reader
		ref     canary.SecretRef
		want    string   // the value
		errHas  []string // substrings of the error
		errCode string
	}{
		{"key of a Secret, trimmed", opClient, "secret:prom/token", "tok-9f8e7d", nil, ""},
		{"missing Secret", opClient, "secret:nope/token", "", []string{"secret secret:nope/token", `there is no Secret "nope" in namespace ` + ns, "kubectl -n " + ns + " create secret generic nope --from-literal=token="}, canary.ENOTFOUND},
		{"missing key", opClient, "secret:prom/password", "", []string{`Secret "prom" in namespace ` + ns + ` has no key "password" (its keys: empty, multi, token)`, "add the key"}, canary.ENOTFOUND},
		{"empty value", opClient, "secret:prom/empty", "", []string{"secret secret:prom/empty is empty"}, canary.EINVALID},
		{"line break", opClient, "secret:prom/multi", "", []string{"holds a line break"}, canary.EINVALID},
		// An identity without get on secrets: the fix is RBAC.
		{"forbidden", nobodyClient, "secret:prom/token", "", []string{"may not read Secret \"prom\" in namespace " + ns, "grant get on secrets"}, canary.EUNAVAILABLE},
		// The operator pod's own environment and files are not a plan's to read.
		{"env reference", opClient, "env:CANARY_TEST_OPERATOR_TOKEN", "", []string{"reads only Kubernetes Secrets in the rollout's own namespace"}, canary.EINVALID},
		{"file reference", opClient, canary.SecretRef("file:" + file), "", []string{"reads only Kubernetes Secrets in the rollout's own namespace"}, canary.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := operator.SecretResolver{Reader: tt.reader, Namespace: ns}.Resolve(t.Context(), tt.ref)
			if tt.errHas == nil {
				if err != nil || got != tt.want {
					t.Fatalf("Resolve(%s) = %q, %v; want %q", tt.ref, got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Resolve(%s) = %q, want an error", tt.ref, got)
			}
			for _, want := range tt.errHas {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if code := canary.ErrorCode(err); code != tt.errCode {
				t.Errorf("code %s, want %s", code, tt.errCode)
			}
			for _, secret := range []string{"tok-9f8e7d", "secretvalue"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows the secret", err)
				}
			}
		})
	}
}
