package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/manager"
	"github.com/canary-dev/canary/web"
)

// The services API of canary serve (mounted beside the rollouts API):
//
//	GET    /api/v1/services            every front door (viewer)
//	DELETE /api/v1/services/{address}  remove one (operator)

// servicesPath is the services API's prefix.
const servicesPath = "/api/v1/services"

// ServiceView is one front door as the API, canary get services and the
// dashboard show it.
type ServiceView struct {
	Address string `json:"address"`
	Holder  string `json:"holder"`
	// Open is false when the listener could not be restored.
	Open   bool   `json:"open"`
	Stable string `json:"stable"`
	Canary string `json:"canary"`
	Weight int    `json:"weight"`
	// LiveRollout names the active rollout driving it, if any.
	LiveRollout *LiveRollout `json:"liveRollout,omitempty"`
	// Tracks are the last 10 seconds' traffic per track.
	Tracks    map[canary.Track]TrackTraffic `json:"tracks"`
	UpdatedAt time.Time                     `json:"updatedAt"`
}

// LiveRollout is the rollout driving a service now.
type LiveRollout struct {
	Name       string       `json:"name"`
	Generation int          `json:"generation"`
	Version    string       `json:"version"`
	Phase      canary.Phase `json:"phase"`
}

// TrackTraffic is one track's recent traffic.
type TrackTraffic struct {
	RequestsPerSecond float64 `json:"requestsPerSecond"`
	ErrorRate         float64 `json:"errorRate"`
}

// trafficWindow is the window of ServiceView.Tracks.
const trafficWindow = 10 * time.Second

// servicesHandler serves the services API.
type servicesHandler struct {
	mgr   *manager.Manager
	doors *frontDoors
	auth  func(r *http.Request, need web.Role) (string, error)
	log   *slog.Logger
}

// withServiceRoutes adds the services API to the mounted routes m.
func withServiceRoutes(m map[string]http.Handler, h *servicesHandler) map[string]http.Handler {
	m[servicesPath] = h
	m[servicesPath+"/"] = h
	return m
}

func (h *servicesHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	addr := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, servicesPath), "/")
	need := web.RoleViewer
	if r.Method != http.MethodGet {
		need = web.RoleOperator
	}
	actor, err := h.auth(r, need)
	if err != nil {
		status := http.StatusUnauthorized
		if errors.Is(err, web.ErrForbidden) {
			status = http.StatusForbidden
		}
		writeServiceJSON(w, status, errorBody("unauthenticated", err.Error()))
		return
	}
	switch {
	case r.Method == http.MethodGet && addr == "":
		views, err := h.list(r.Context())
		if err != nil {
			writeServiceError(w, err)
			return
		}
		writeServiceJSON(w, http.StatusOK, map[string]any{"items": views})
	case r.Method == http.MethodDelete && addr != "":
		if err := h.mgr.DeleteService(r.Context(), addr); err != nil {
			writeServiceError(w, err)
			return
		}
		h.log.Info("service deleted", "address", addr, "actor", actor)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, DELETE")
		writeServiceJSON(w, http.StatusMethodNotAllowed, errorBody("method_not_allowed",
			"use GET "+servicesPath+" or DELETE "+servicesPath+"/ADDRESS"))
	}
}

// list returns every service with its live rollout and traffic.
func (h *servicesHandler) list(ctx context.Context) ([]ServiceView, error) {
	svcs, err := h.mgr.Services(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]ServiceView, 0, len(svcs))
	for _, svc := range svcs {
		v := ServiceView{Address: svc.Address, Holder: svc.Holder, Stable: svc.Stable, Canary: svc.Canary,
			Weight: svc.Weight, UpdatedAt: svc.UpdatedAt, Tracks: map[canary.Track]TrackTraffic{}}
		if fd := h.doors.get(svc.Address); fd != nil {
			v.Open = true
			v.Stable, v.Canary, v.Weight = fd.px.Routing()
			for _, tr := range []canary.Track{canary.TrackStable, canary.TrackCanary} {
				if st, err := fd.rec.Stats(tr, trafficWindow, now); err == nil {
					v.Tracks[tr] = TrackTraffic{RequestsPerSecond: st.RequestRate(), ErrorRate: st.ErrorRate()}
				}
			}
		}
		if ro, err := h.mgr.Get(ctx, svc.Holder); err == nil && !ro.State.Phase.Terminal() {
			v.LiveRollout = &LiveRollout{Name: ro.Name, Generation: ro.Generation, Version: ro.State.Version, Phase: ro.State.Phase}
		}
		out = append(out, v)
	}
	return out, nil
}

func errorBody(code, msg string) map[string]any {
	return map[string]any{"error": map[string]string{"code": code, "message": msg}}
}

// writeServiceError answers err with the API's status for its code.
func writeServiceError(w http.ResponseWriter, err error) {
	status := map[string]int{canary.EINVALID: http.StatusBadRequest, canary.ENOTFOUND: http.StatusNotFound,
		canary.ECONFLICT: http.StatusConflict, canary.EUNAVAILABLE: http.StatusServiceUnavailable}[canary.ErrorCode(err)]
	code := canary.ErrorCode(err)
	if status == 0 {
		status, code = http.StatusInternalServerError, canary.EINTERNAL
	}
	writeServiceJSON(w, status, errorBody(code, err.Error()))
}

// writeServiceJSON writes v as JSON, credentials in URLs redacted.
func writeServiceJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"encode the response"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append([]byte(canary.RedactURLCredentials(string(b))), '\n'))
}
