package main

import (
	"net/http"

	"github.com/canary-dev/canary/web/dashboard"
)

// withDashboard serves the web dashboard at / (its pages and embedded
// assets) and hands every other request to next, the API.
func withDashboard(next http.Handler) http.Handler {
	h, err := dashboard.New(dashboard.Config{Next: next})
	if err != nil {
		// The assets are embedded at build time: a failure here is a
		// broken build, caught by the dashboard's tests.
		panic(err)
	}
	return h
}
