package web

import (
	"log/slog"
	"net/http"
	"testing"
)

// TestLogLevel: the dashboard's polling (reads that went well) stays out
// of the default log; changes, refusals and failures do not.
func TestLogLevel(t *testing.T) {
	tests := []struct {
		method string
		status int
		want   slog.Level
	}{
		{http.MethodGet, 200, slog.LevelDebug},
		{http.MethodHead, 304, slog.LevelDebug},
		{http.MethodGet, 404, slog.LevelDebug},
		{http.MethodPost, 201, slog.LevelInfo},
		{http.MethodDelete, 204, slog.LevelInfo},
		{http.MethodGet, 401, slog.LevelWarn},
		{http.MethodPost, 403, slog.LevelWarn},
		{http.MethodGet, 429, slog.LevelWarn},
		{http.MethodGet, 500, slog.LevelError},
		{http.MethodPost, 503, slog.LevelError},
	}
	for _, tt := range tests {
		if got := logLevel(tt.method, tt.status); got != tt.want {
			t.Errorf("logLevel(%s, %d) = %s, want %s", tt.method, tt.status, got, tt.want)
		}
	}
}
