package release_test

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// podman runs podman with args and returns its stdout, failing t with its
// stderr.
func podman(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("podman", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// TestImage builds the Dockerfile with podman from hack/release.sh's image
// folder (FROM scratch: no registry needed) and checks the image: its
// config runs /canary as user 65532 with the OCI labels; its files are the
// binary, CA certificates, time-zone data, passwd/group and the license,
// and no shell; the binary copied out of it runs `canary version` and the
// healthy demo on this machine. (`podman run` cannot run here: crun cannot
// set rlimits, so the container is created and exported, not started.)
// Skipped when podman is missing, except in CI (hack/test.sh installs it).
func TestImage(t *testing.T) {
	if _, err := exec.LookPath("podman"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("podman is missing in CI: hack/test.sh installs it (CANARY_APT_PACKAGES)")
		}
		t.Skip("podman is not installed (apt-get install -y podman)")
	}
	out := releaseOut(t)
	v := releaseVersion(t, out)
	tag := fmt.Sprintf("localhost/canary-image-test:%d", os.Getpid())
	podman(t, "build", "--quiet", "-f", "../Dockerfile", "--build-arg", "VERSION="+v,
		"--build-arg", "REVISION=0123abc", "--build-arg", "CREATED=2026-01-02T03:04:05Z", "-t", tag, filepath.Join(out, "image"))
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", tag).Run() })

	var inspect []struct {
		Config struct {
			User       string
			Entrypoint []string
			Cmd        []string
			Labels     map[string]string
		}
	}
	if err := json.Unmarshal(podman(t, "image", "inspect", tag), &inspect); err != nil || len(inspect) != 1 {
		t.Fatalf("podman image inspect: %v (%d images)", err, len(inspect))
	}
	cfg := inspect[0].Config
	if cfg.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532", cfg.User)
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/canary"}) || len(cfg.Cmd) != 0 {
		t.Errorf("entrypoint %q cmd %q, want [/canary] and none", cfg.Entrypoint, cfg.Cmd)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.source":   "https://github.com/canary-dev/canary",
		"org.opencontainers.image.version":  v,
		"org.opencontainers.image.licenses": "Apache-2.0",
		"org.opencontainers.image.revision": "0123abc",
	} {
		if cfg.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, cfg.Labels[k], want)
		}
	}

	id := strings.TrimSpace(string(podman(t, "create", tag, "version")))
	t.Cleanup(func() { exec.Command("podman", "rm", "-f", id).Run() })
	bin := filepath.Join(t.TempDir(), "canary")
	files := exportFiles(t, id, "canary", bin)
	for _, f := range []string{"canary", "etc/ssl/certs/ca-certificates.crt", "usr/share/zoneinfo/Europe/Berlin",
		"usr/share/zoneinfo/UTC", "etc/passwd", "etc/group", "LICENSE"} {
		if !slices.Contains(files, f) {
			t.Errorf("the image has no /%s", f)
		}
	}
	for _, f := range files {
		if strings.HasPrefix(f, "bin/") || strings.HasPrefix(f, "sbin/") || strings.HasSuffix(f, "/sh") || strings.HasSuffix(f, "bash") {
			t.Errorf("the image holds /%s: want no shell", f)
		}
	}

	if got, err := exec.Command(bin, "version").Output(); err != nil || !strings.HasPrefix(string(got), "canary "+v+"\n") {
		t.Errorf("the image's canary version: %v\n%s", err, got)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	// 400 requests/s instead of 1000: the demo judges real latencies, and
	// this test runs beside others (the healthy canary's P95 is 120ms, its
	// SLO 600ms; a starved load generator and proxy add the difference).
	demo := exec.CommandContext(ctx, bin, "demo", "--scenario", "healthy", "--rps", "400", "--no-color")
	if got, err := demo.CombinedOutput(); err != nil {
		t.Errorf("the image's canary demo --scenario healthy: %v\n%s", err, got)
	}
}

// exportFiles lists the files of container id (podman export) and writes
// the one named extract to dest, executable.
func exportFiles(t *testing.T, id, extract, dest string) []string {
	t.Helper()
	cmd := exec.Command("podman", "export", id)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	var files []string
	tr := tar.NewReader(stdout)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(h.Name, "./")
		name = strings.TrimPrefix(name, "/")
		if h.Typeflag == tar.TypeDir {
			continue
		}
		files = append(files, name)
		if name == extract {
			f, err := os.OpenFile(dest, os.O_CREATE|os.O_WRONLY, 0o755)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
	return files
}
