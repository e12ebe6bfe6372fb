package web

import (
	"github.com/canary-dev/canary/api"
	"net/http"

	"github.com/canary-dev/canary"
)

// Whoami is the body of GET /api/v1/whoami: the request's token as the
// audit trail names it, and its role. The secret is never in it.
type Whoami struct {
	// Name is the token's name, the actor recorded for its commands
	// ("anonymous" without tokens).
	Name string `json:"name"`
	// Role is viewer or operator.
	Role Role `json:"role"`
	// Insecure is true when the server runs without tokens (--insecure):
	// every request is an operator called anonymous.
	Insecure bool `json:"insecure,omitempty"`
}

// whoami is GET /api/v1/whoami: who the token is and what it may do, so a
// client (the dashboard) shows only what the token allows.
func (s *server) whoami(w http.ResponseWriter, r *http.Request, actor string) error {
	me := Whoami{Name: actor, Role: RoleOperator, Insecure: s.insecure}
	if info, ok := r.Context().Value(infoKey{}).(*reqInfo); ok && info.role != "" {
		me.Role = info.role
	}
	writeJSON(w, http.StatusOK, me)
	return nil
}

// notifications is GET .../notifications?status=S&limit=N: the rollout's
// notifications, newest first, with counts by status.
func (s *server) notifications(w http.ResponseWriter, r *http.Request, _ string) error {
	name, err := rolloutName(r)
	if err != nil {
		return err
	}
	limit, err := intParam(r, "limit", api.DefaultNotificationLimit, 1, api.MaxNotificationLimit)
	if err != nil {
		return err
	}
	status := api.NotificationFilter(r.URL.Query().Get("status"))
	if !status.Valid() {
		return canary.Errorf(canary.EINVALID, "?status=%q: want pending, claimed, delivered, dead or failed (retried or given up)",
			truncate(string(status), 32))
	}
	page, err := s.api.Notifications(r.Context(), name, api.NotificationOptions{Status: status, Limit: int(limit)})
	if err != nil {
		return err
	}
	if page.Items == nil {
		page.Items = []api.Notification{}
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}
