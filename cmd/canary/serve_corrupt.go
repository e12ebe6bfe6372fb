package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/web"
)

// serveCorrupt is canary serve on a state database that failed its check
// at open (--check-db): it runs no rollout and never becomes ready, so an
// orchestrator keeps traffic and restarts away from it while a person
// reads why. /healthz answers 200 (the process is alive; restarting it
// cannot mend the file); /readyz and every other route answer 503 with the
// check's error, which names the file and how to recover. Serving instead
// of exiting also keeps the database's lock, so no second server starts
// on the damaged file meanwhile.
func serveCorrupt(ctx context.Context, f serveFlags, checkErr error, log *slog.Logger) error {
	log.Error("not ready: the state database failed its check; no rollout runs until it is repaired", "err", checkErr)
	body, err := json.Marshal(web.ErrorBody{Error: web.ErrorDetail{Code: canary.EUNAVAILABLE,
		Message: "not ready: " + checkErr.Error()}})
	if err != nil {
		return err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/healthz" {
			_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write(append(body, '\n'))
	})
	return listenAndServe(ctx, f, h, log)
}
