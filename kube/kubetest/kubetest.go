// Package kubetest runs a real Kubernetes API server (kube-apiserver and
// etcd through controller-runtime's envtest) for tests, and plays the parts
// of Kubernetes that envtest does not run.
//
// The binaries come from hack/envtest-assets.sh, which builds them once into
// a cache folder and prints it:
//
//	export KUBEBUILDER_ASSETS="$(bash hack/envtest-assets.sh)"
//
// Without KUBEBUILDER_ASSETS a test skips with that hint, unless CI is set
// (CI=true), where it fails: CI must never pass by skipping.
//
// Only the API server and etcd run: no scheduler, controller-manager or
// kubelet. Deployments get no status unless a test writes it
// (PlayDeploymentController), pods stay Pending, garbage collection does not
// run and deleted namespaces stay Terminating, so each test works in a
// namespace of its own (Env.Namespace) and never waits for a deletion.
package kubetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canary-dev/canary/kube"
	"github.com/go-logr/logr"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// Options select what a test API server has.
type Options struct {
	// GatewayAPI installs the Gateway API standard CRDs from the
	// sigs.k8s.io/gateway-api module in the Go module cache.
	GatewayAPI bool
	// CRDPaths are more CRD files or folders to install (e.g. Istio's
	// from the istio.io/api module: IstioCRDs).
	CRDPaths []string
	// Restartable keeps the API server's certificates in a folder of its
	// own, so StopAPIServer and StartAPIServer can restart it on the same
	// port with the same credentials (etcd keeps running).
	Restartable bool
}

// Env is a running API server.
type Env struct {
	// Config is an administrator's client configuration.
	Config *rest.Config
	// Client is a controller-runtime client with kube.Scheme().
	Client client.Client
	// KubeConfig is Config as a kubeconfig file's content.
	KubeConfig []byte
	// Started is how long the start took.
	Started time.Duration

	env     *envtest.Environment
	certDir string
}

// Assets returns the folder of the envtest binaries, skipping t when none
// is configured outside CI and failing it inside CI.
func Assets(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		msg := "KUBEBUILDER_ASSETS is unset; to run the tests on a real API server: export KUBEBUILDER_ASSETS=\"$(bash hack/envtest-assets.sh)\""
		if InCI() {
			t.Fatal("CI is set but " + msg)
		}
		t.Skip(msg)
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			t.Fatalf("KUBEBUILDER_ASSETS=%s has no %s (rebuild with hack/envtest-assets.sh): %v", dir, bin, err)
		}
	}
	return dir
}

// InCI reports whether the CI environment variable is set to something
// other than false or 0.
func InCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v != "" && v != "false" && v != "0"
}

// Start starts an API server for t alone and stops it when t ends.
func Start(t testing.TB, opt Options) *Env {
	t.Helper()
	e, err := start(Assets(t), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Errorf("stop the test API server: %v", err)
		}
	})
	return e
}

var shared struct {
	mu  sync.Mutex
	env *Env
	err error
}

// Shared returns the package's shared API server, starting it on first use
// with opt (later calls' options are ignored). Call StopShared from TestMain
// after m.Run.
func Shared(t testing.TB, opt Options) *Env {
	t.Helper()
	dir := Assets(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.env == nil && shared.err == nil {
		shared.env, shared.err = start(dir, opt)
		if shared.err == nil {
			t.Logf("test API server started in %s", shared.env.Started.Round(time.Millisecond))
		}
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.env
}

// StopShared stops the shared API server, if one was started.
func StopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.env != nil {
		if err := shared.env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "kubetest: stop the shared API server: %v\n", err)
		}
		shared.env = nil
	}
}

// quietGlobalLog gives controller-runtime's global logger a sink that
// drops everything, once per test binary: envtest logs through it, and
// unset it prints a stack trace to stderr 30s after first use. The
// operator logs through its manager's own logger, which tests set.
var quietGlobalLog sync.Once

func start(assets string, opt Options) (*Env, error) {
	quietGlobalLog.Do(func() { ctrllog.SetLogger(logr.Discard()) })
	t0 := time.Now()
	te := &envtest.Environment{BinaryAssetsDirectory: assets, ErrorIfCRDPathMissing: true}
	e := &Env{env: te}
	if opt.GatewayAPI {
		dir, err := GatewayAPICRDs()
		if err != nil {
			return nil, err
		}
		te.CRDDirectoryPaths = []string{dir}
	}
	te.CRDDirectoryPaths = append(te.CRDDirectoryPaths, opt.CRDPaths...)
	if opt.Restartable {
		dir, err := os.MkdirTemp("", "kubetest-certs-")
		if err != nil {
			return nil, err
		}
		e.certDir = dir
		te.ControlPlane.APIServer = &envtest.APIServer{CertDir: dir}
	}
	cfg, err := te.Start()
	if err != nil {
		_ = te.Stop()
		return nil, fmt.Errorf("start the test API server (KUBEBUILDER_ASSETS=%s): %w", assets, err)
	}
	e.Config, e.KubeConfig = cfg, te.KubeConfig
	if e.Client, err = kube.NewClient(cfg); err != nil {
		_ = e.Stop()
		return nil, err
	}
	e.Started = time.Since(t0)
	return e, nil
}

// GatewayAPICRDs returns the folder of the Gateway API standard CRDs in
// the module cache (the version in go.mod).
func GatewayAPICRDs() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		return "", fmt.Errorf("find the sigs.k8s.io/gateway-api module: %w", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "standard")
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("gateway API CRDs: %w (run go mod download)", err)
	}
	return dir, nil
}

// IstioCRDs returns the file of Istio's CRDs in the istio.io/api module
// (the version istio.io/client-go in go.mod requires).
func IstioCRDs() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "istio.io/api").Output()
	if err != nil {
		return "", fmt.Errorf("find the istio.io/api module: %w", err)
	}
	f := filepath.Join(strings.TrimSpace(string(out)), "kubernetes", "customresourcedefinitions.gen.yaml")
	if _, err := os.Stat(f); err != nil {
		return "", fmt.Errorf("istio CRDs: %w (run go mod download)", err)
	}
	return f, nil
}

// Stop stops the API server and etcd.
func (e *Env) Stop() error {
	err := e.env.Stop()
	if e.certDir != "" {
		_ = os.RemoveAll(e.certDir)
	}
	return err
}

// StopAPIServer stops kube-apiserver (etcd keeps running): clients get
// connection refused until StartAPIServer. Needs Options.Restartable.
func (e *Env) StopAPIServer() error {
	if e.certDir == "" {
		return fmt.Errorf("kubetest: StopAPIServer needs Options.Restartable")
	}
	return e.env.ControlPlane.APIServer.Stop()
}

// StartAPIServer starts a stopped kube-apiserver again on the same port
// with the same certificates, and waits until it is healthy.
func (e *Env) StartAPIServer() error {
	return e.env.ControlPlane.APIServer.Start()
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

// Namespace creates a namespace for t, named after the test. It is not
// deleted: envtest cannot finish a namespace deletion, and the API server
// goes away with the test binary.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	base := strings.Trim(nonName.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 50 {
		base = strings.TrimRight(base[:50], "-")
	}
	name := fmt.Sprintf("%s-%04x", base, rand.IntN(1<<16))
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := e.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	return name
}
