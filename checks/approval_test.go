package checks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestApproval(t *testing.T) {
	tests := []struct {
		status int
		want   Answer
	}{
		{200, Approved},
		{204, Approved},
		{403, Rejected},
		{404, Waiting},
		{401, Waiting},
		{425, Waiting},
		{500, Waiting},
		{503, Waiting},
	}
	var r Runner
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			url, seen := recorder(t, tt.status, "")
			got, err := r.Approval(context.Background(), url+"/approve", []byte(`{"step":1}`))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("status %d: got %q, want %q", tt.status, got, tt.want)
			}
			want := request{"POST", "application/json", `{"step":1}`}
			if req := <-seen; req != want {
				t.Errorf("server saw %+v, want %+v", req, want)
			}
		})
	}
}

func TestApprovalTransportError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	var r Runner
	got, err := r.Approval(context.Background(), url, nil)
	if err == nil {
		t.Fatalf("got %q and no error, want an error", got)
	}
	if got != "" {
		t.Errorf("answer = %q, want none with an error", got)
	}
}
