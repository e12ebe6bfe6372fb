package web

import (
	"net/http"
	"time"
)

// mounted serves a handler of Config.Mount: counted and logged as route,
// behind the API's rate limit. The handler checks the token itself; here
// a valid token of any role only picks the bucket (its name), and a
// request without one is limited by client IP, as on the API's routes.
func (s *server) mounted(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		info := &reqInfo{route: route}
		r = r.WithContext(withInfo(r.Context(), info))
		start := time.Now()
		defer func() { s.observe(r, rec, info, time.Since(start)) }()
		actor, err := s.authenticate(r, RoleViewer)
		if err != nil {
			actor = ""
		}
		if err := s.rateLimit(r, actor); err != nil {
			s.writeError(rec, r, err)
			return
		}
		info.actor = actor
		h.ServeHTTP(rec, r)
	})
}
