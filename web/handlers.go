package web

import (
	"bytes"
	"context"
	"errors"
	"github.com/canary-dev/canary/api"
	"net/http"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/engine"
	"github.com/canary-dev/canary/report"
)

// MaxLimit is the largest ?limit= of the list and events routes.
const MaxLimit = 1000

// maxReportEvents bounds the events a report reads (a rollout evaluated
// every 30s for a week has about 20,000).
const maxReportEvents = 50_000

// List is the body of GET /api/v1/rollouts.
type List struct {
	Items []api.Rollout `json:"items"`
}

// EventPage is the body of GET .../events: the events after ?after= and
// the Seq to ask after next (the last one's, or ?after= when none came).
type EventPage struct {
	Items []canary.Event `json:"items"`
	Next  int64          `json:"next"`
}

// apply is POST /api/v1/rollouts: 201 when a rollout was created, 200
// when the plan was already applied or updated.
func (s *server) apply(w http.ResponseWriter, r *http.Request, actor string) error {
	force, err := boolParam(r, "force")
	if err != nil {
		return err
	}
	body, err := readBody(w, r, s.maxBody, planTypes...)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return canary.Errorf(canary.EINVALID, "the body is empty: send the plan as YAML or JSON")
	}
	res, err := s.api.Apply(r.Context(), body, force, actor)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	writeJSON(w, status, res)
	return nil
}

// list is GET /api/v1/rollouts?phase=&limit=.
func (s *server) list(w http.ResponseWriter, r *http.Request, _ string) error {
	phase, err := phaseParam(r)
	if err != nil {
		return err
	}
	limit, err := intParam(r, "limit", 0, 1, MaxLimit)
	if err != nil {
		return err
	}
	items, err := s.api.List(r.Context(), api.ListOptions{Phase: phase, Limit: int(limit)})
	if err != nil {
		return err
	}
	if items == nil {
		items = []api.Rollout{}
	}
	writeJSON(w, http.StatusOK, List{Items: items})
	return nil
}

// get is GET /api/v1/rollouts/{namespace}/{name}.
func (s *server) get(w http.ResponseWriter, r *http.Request, _ string) error {
	name, err := rolloutName(r)
	if err != nil {
		return err
	}
	ro, err := s.api.Get(r.Context(), name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ro)
	return nil
}

// delete is DELETE /api/v1/rollouts/{namespace}/{name}: 200 with the
// generations removed (all of the name's, or the one {name}@GEN names).
func (s *server) delete(w http.ResponseWriter, r *http.Request, _ string) error {
	name, err := rolloutName(r)
	if err != nil {
		return err
	}
	res, err := s.api.Delete(r.Context(), name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// events is GET .../events?after=N&limit=M.
func (s *server) events(w http.ResponseWriter, r *http.Request, _ string) error {
	name, err := rolloutName(r)
	if err != nil {
		return err
	}
	after, err := intParam(r, "after", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	limit, err := intParam(r, "limit", MaxLimit, 1, MaxLimit)
	if err != nil {
		return err
	}
	evs, err := s.api.Events(r.Context(), name, after, int(limit))
	if err != nil {
		return err
	}
	page := EventPage{Items: evs, Next: after}
	if page.Items == nil {
		page.Items = []canary.Event{}
	}
	if n := len(evs); n > 0 {
		page.Next = evs[n-1].Seq
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// control is POST .../{pause|resume|promote|approve|abort|retry}; the
// token's name is the command's actor.
func (s *server) control(kind engine.CommandKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, actor string) error {
		name, err := rolloutName(r)
		if err != nil {
			return err
		}
		body, err := readBody(w, r, min(s.maxBody, maxControlBody), controlTypes...)
		if err != nil {
			return err
		}
		cmd, err := decodeControl(kind, body)
		if err != nil {
			return err
		}
		cmd.Actor = actor
		ro, err := s.api.Control(r.Context(), name, cmd)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, ro)
		return nil
	}
}

// report is GET .../report: the Markdown post-deployment report, or with
// ?format=json the same report as data (report.Data).
func (s *server) report(w http.ResponseWriter, r *http.Request, _ string) error {
	name, err := rolloutName(r)
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	if format != "" && format != "markdown" && format != "json" {
		return canary.Errorf(canary.EINVALID, "?format=%q: use markdown or json", format)
	}
	ro, err := s.api.Get(r.Context(), name)
	if err != nil {
		return err
	}
	evs, err := allEvents(r.Context(), s.api, name)
	if err != nil {
		return err
	}
	if format == "json" {
		writeJSON(w, http.StatusOK, report.JSON(ro, evs))
		return nil
	}
	md := report.Markdown(ro, evs)
	if len(evs) >= maxReportEvents {
		md += "\n> This report covers the first " + itoa(maxReportEvents) + " events only; the event log has them all.\n"
	}
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write([]byte(md))
	return nil
}

// allEvents reads a rollout's events page by page, at most
// maxReportEvents.
func allEvents(ctx context.Context, api api.API, name string) ([]canary.Event, error) {
	var all []canary.Event
	var after int64
	for len(all) < maxReportEvents {
		evs, err := api.Events(ctx, name, after, MaxLimit)
		if err != nil {
			return nil, err
		}
		all = append(all, evs...)
		if len(evs) < MaxLimit {
			break
		}
		after = evs[len(evs)-1].Seq
	}
	return all, nil
}

// healthz is GET /healthz: 200 while the process serves.
func (s *server) healthz(w http.ResponseWriter, _ *http.Request, _ string) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz is GET /readyz: 200 when the manager can serve, else 503.
func (s *server) readyz(w http.ResponseWriter, r *http.Request, _ string) error {
	if err := s.api.Ready(r.Context()); err != nil {
		msg := "not ready (the server log has the details)"
		if ce := (*canary.Error)(nil); errors.As(err, &ce) {
			msg = "not ready: " + ce.Message
		} else {
			s.log.Warn("not ready", "err", err)
		}
		return canary.Errorf(canary.EUNAVAILABLE, "%s", msg)
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}
