package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestSystemdUnit: deploy/systemd/canary.service starts `canary serve`
// with flags serve has, its --state inside the unit's StateDirectory, and
// the hardening README.md promises.
func TestSystemdUnit(t *testing.T) {
	unit := readUnit(t, "canary.service")
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

// TestSystemdBackupUnit: deploy/systemd/canary-backup.service runs
// `canary serve backup` with flags it has on canary.service's --state, as
// canary.service's user (so it may read the state directory), writing
// into a state directory of its own; the timer starts it daily.
func TestSystemdBackupUnit(t *testing.T) {
	serve, backup := readUnit(t, "canary.service"), readUnit(t, "canary-backup.service")
	exec := strings.Fields(backup["ExecStart"][0])
	if len(exec) < 3 || exec[0] != "/usr/local/bin/canary" || exec[1] != "serve" || exec[2] != "backup" {
		t.Fatalf("ExecStart %v, want /usr/local/bin/canary serve backup …", exec)
	}
	c := newServeBackupCmd()
	if err := c.ParseFlags(exec[3:]); err != nil {
		t.Fatalf("canary serve backup refuses the unit's flags %v: %v", exec[3:], err)
	}
	if err := c.Args(c, c.Flags().Args()); err != nil {
		t.Fatalf("canary serve backup %v: %v", exec[3:], err)
	}
	s := newServeCmd()
	if err := s.ParseFlags(strings.Fields(serve["ExecStart"][0])[2:]); err != nil {
		t.Fatal(err)
	}
	want, _ := s.Flags().GetString("state")
	if got, _ := c.Flags().GetString("state"); got != want {
		t.Errorf("the backup unit reads --state %s, canary.service writes %s", got, want)
	}
	if fmt.Sprint(backup["User"]) != fmt.Sprint(serve["User"]) || len(serve["User"]) != 1 || backup["DynamicUser"][0] != "yes" {
		t.Errorf("backup User=%v DynamicUser=%v, want canary.service's User=%v", backup["User"], backup["DynamicUser"], serve["User"])
	}
	dirs := strings.Fields(backup["StateDirectory"][0])
	if !slices.Contains(dirs, serve["StateDirectory"][0]) {
		t.Errorf("backup StateDirectory=%v does not include canary.service's %v", dirs, serve["StateDirectory"])
	}
	dst := c.Flags().Arg(0)
	if !slices.ContainsFunc(dirs, func(d string) bool {
		return d != serve["StateDirectory"][0] && strings.HasPrefix(dst, "/var/lib/"+d+"/")
	}) {
		t.Errorf("the backup %s is not in a state directory of the backup unit's own (%v)", dst, dirs)
	}
	if timer := readUnit(t, "canary-backup.timer"); len(timer["OnCalendar"]) != 1 {
		t.Errorf("canary-backup.timer OnCalendar=%v", timer["OnCalendar"])
	}
}

// readUnit reads deploy/systemd/NAME's KEY=VALUE lines.
func readUnit(t *testing.T, name string) map[string][]string {
	t.Helper()
	f, err := os.Open("../../deploy/systemd/" + name)
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
	return unit
}
