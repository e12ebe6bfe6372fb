package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/canarytest"
	"github.com/canary-dev/canary/store"
)

// corruptRollouts overwrites the root page of the rollouts table of the
// closed database at path with garbage.
func corruptRollouts(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	var root, pageSize int64
	if err := db.QueryRow(`SELECT rootpage FROM sqlite_schema WHERE name = 'rollouts'`).Scan(&root); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`PRAGMA page_size`).Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xa5}, int(pageSize)), (root-1)*pageSize); err != nil {
		t.Fatal(err)
	}
}

// TestServeRefusesACorruptDatabase: canary serve on a database with a
// damaged page stays alive (/healthz 200) but never ready: /readyz and the
// API answer 503 naming the file and how to recover. It used to open the
// file and report ready.
func TestServeRefusesACorruptDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := store.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		name := fmt.Sprintf("team/r%d", i)
		if _, err := st.Create(t.Context(), name, []byte("plan"), canary.State{Name: name, Phase: canary.PhaseSucceeded}, nil); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	corruptRollouts(t, path)

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	api := freeAddr(t)
	done := make(chan int, 1)
	var stderr canarytest.Buffer
	go func() {
		done <- Main(ctx, []string{"serve", "--insecure", "--listen", api, "--state", path}, io.Discard, &stderr)
	}()
	waitHTTP(t, "http://"+api+"/healthz")
	for _, route := range []string{"/readyz", "/api/v1/rollouts"} {
		resp, err := http.Get("http://" + api + route)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), path) ||
			!strings.Contains(string(body), ".recover") || !strings.Contains(string(body), "corrupt") {
			t.Errorf("GET %s on a corrupt database: %d %s; want 503 naming the file and how to recover", route, resp.StatusCode, body)
		}
	}
	if resp, err := http.Get("http://" + api + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz on a corrupt database: %v, %v; want 200 (alive, not ready)", resp, err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve exited %d after its context ended", code)
	}
	if !strings.Contains(stderr.String(), "failed its check") {
		t.Errorf("log: %s; want the check's failure", stderr.String())
	}
}
