package main

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// TestSystemdUnit: deploy/systemd/canary.service starts `canary serve`
// with flags serve has, its --state inside the unit's StateDirectory, and
// the hardening README.md promises.
func TestSystemdUnit(t *testing.T) {
	f, err := os.Open("../../deploy/systemd/canary.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unit := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			unit[k] = append(unit[k], v)
		}
	}
	exec := strings.Fields(unit["ExecStart"][0])
	if exec[0] != "/usr/local/bin/canary" || exec[1] != "serve" {
		t.Fatalf("ExecStart %v, want /usr/local/bin/canary serve …", exec)
	}
	c := newServeCmd()
	if err := c.ParseFlags(exec[2:]); err != nil {
		t.Fatalf("canary serve refuses the unit's flags %v: %v", exec[2:], err)
	}
	if state, _ := c.Flags().GetString("state"); !strings.HasPrefix(state, "/var/lib/"+unit["StateDirectory"][0]+"/") {
		t.Errorf("--state %s is not in StateDirectory=%v", state, unit["StateDirectory"])
	}
	for k, want := range map[string]string{
		"DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
		"PrivateTmp": "yes", "PrivateDevices": "yes", "CapabilityBoundingSet": "", "MemoryDenyWriteExecute": "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "LoadCredential": "tokens:/etc/canary/tokens",
	} {
		if got := unit[k]; len(got) != 1 || got[0] != want {
			t.Errorf("%s=%v, want %q", k, got, want)
		}
	}
	if !strings.Contains(unit["ExecStart"][0], "--tokens-file %d/tokens") {
		t.Errorf("ExecStart does not read the tokens credential (--tokens-file %%d/tokens)")
	}
}
