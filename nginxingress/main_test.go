package nginxingress_test

import (
	"os"
	"testing"

	"github.com/canary-dev/canary/kube/kubetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	kubetest.StopShared()
	os.Exit(code)
}
