package kube

import (
	"fmt"
	"time"

	istionetworking "istio.io/client-go/pkg/apis/networking/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Defaults for a client configuration that has none of its own.
const (
	// DefaultTimeout bounds one request to the API server, so a server
	// that stops answering fails the action (which the engine retries)
	// instead of hanging it.
	DefaultTimeout = 20 * time.Second
	// DefaultQPS and DefaultBurst replace client-go's 5 and 10, which
	// throttle Helm's bursts of requests.
	DefaultQPS   = 50
	DefaultBurst = 100
)

// RESTConfig loads a client configuration, in this order: the kubeconfig
// file at path when path is not empty (a missing file is an error), the
// files in $KUBECONFIG, ~/.kube/config, and finally the pod's service
// account when running in a cluster. context names a kubeconfig context
// ("" for the current one). Timeout, QPS and Burst get the defaults above
// when the file leaves them unset.
func RESTConfig(path, context string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	overrides := &clientcmd.ConfigOverrides{CurrentContext: context}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		where := "$KUBECONFIG, ~/.kube/config or the in-cluster service account"
		if path != "" {
			where = path
		}
		return nil, fmt.Errorf("kubernetes client configuration from %s: %w", where, err)
	}
	return WithDefaults(cfg), nil
}

// WithDefaults returns a copy of cfg with DefaultTimeout, DefaultQPS and
// DefaultBurst filled in where cfg has zero.
func WithDefaults(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.QPS == 0 {
		c.QPS = DefaultQPS
	}
	if c.Burst == 0 {
		c.Burst = DefaultBurst
	}
	return c
}

// Scheme returns a scheme with the Kubernetes built-in types the routers
// use, the authorization types (SelfSubjectAccessReview, to check RBAC
// before acting), the Gateway API v1 types and Istio's networking.istio.io/v1
// types (VirtualService).
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, authorizationv1.AddToScheme, networkingv1.AddToScheme, gatewayv1.Install,
		istionetworking.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(fmt.Sprintf("kube: build scheme: %v", err)) // static registration: a bug
		}
	}
	return s
}

// NewClient returns a controller-runtime client for cfg with Scheme(). It
// does not contact the API server until it is used.
func NewClient(cfg *rest.Config) (client.Client, error) {
	c, err := client.New(WithDefaults(cfg), client.Options{Scheme: Scheme()})
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return c, nil
}
