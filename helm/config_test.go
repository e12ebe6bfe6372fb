package helm_test

import (
	"strings"
	"testing"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/helm"

	"k8s.io/client-go/rest"
)

func TestNewValidates(t *testing.T) {
	rc := &rest.Config{Host: "https://127.0.0.1:1"}
	tests := []struct {
		name string
		cfg  helm.Config
		want string
	}{
		{"no rest config", helm.Config{Traffic: canary.HelmTraffic{Release: "a", Chart: chartDir}}, "no kubernetes client configuration"},
		{"no release", helm.Config{RESTConfig: rc, Traffic: canary.HelmTraffic{Chart: chartDir}}, "name the release and the chart"},
		{"same names", helm.Config{RESTConfig: rc, Traffic: canary.HelmTraffic{Release: "a", CanaryRelease: "a", Chart: chartDir}}, "both"},
		{"missing chart", helm.Config{RESTConfig: rc, Traffic: canary.HelmTraffic{Release: "a", Chart: "./nope"}}, "load chart ./nope"},
		{"bad set", helm.Config{RESTConfig: rc, Traffic: canary.HelmTraffic{Release: "a", Chart: chartDir, Set: map[string]string{"a[": "1"}}}, "set a["},
		// A weight value without a parent leaves no place for "enabled".
		{"flat weight value", helm.Config{RESTConfig: rc, Traffic: canary.HelmTraffic{Release: "a", Chart: chartDir, WeightValue: "weight"}}, "has no parent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := helm.New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
