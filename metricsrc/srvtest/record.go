package srvtest

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
)

// Call is one request a Recorder received, as sent.
type Call struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
}

// Reply is a Recorder's answer to a call.
type Reply struct {
	// Status is the HTTP status. Default: 200.
	Status int
	// Body is sent as it is.
	Body string
	// Header is set on the answer. Default: Content-Type:
	// application/json.
	Header map[string]string
}

// File is an answer of status with the content of testdata/NAME, as an
// API's documentation records it.
func File(t testing.TB, status int, name string) Reply {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return Reply{Status: status, Body: string(b)}
}

// Recorder is a local API for recorded-response tests: it keeps every
// request and answers each with what its answer function returns.
type Recorder struct {
	// URL is the server's base URL (http://127.0.0.1:PORT).
	URL string

	mu     sync.Mutex
	calls  []Call
	answer func(Call) Reply
}

// Record starts a Recorder answering with answer; it stops when t ends.
func Record(t testing.TB, answer func(Call) Reply) *Recorder {
	r := &Recorder{answer: answer}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		c := Call{Method: req.Method, Path: req.URL.Path, RawQuery: req.URL.RawQuery, Header: req.Header.Clone(), Body: body}
		r.mu.Lock()
		r.calls = append(r.calls, c)
		answer := r.answer
		r.mu.Unlock()
		reply := answer(c)
		w.Header().Set("Content-Type", "application/json")
		for k, v := range reply.Header {
			w.Header().Set(k, v)
		}
		if reply.Status == 0 {
			reply.Status = http.StatusOK
		}
		w.WriteHeader(reply.Status)
		_, _ = io.WriteString(w, reply.Body)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// Calls returns the requests received so far, in order.
func (r *Recorder) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}

// SetAnswer replaces the answer function.
func (r *Recorder) SetAnswer(answer func(Call) Reply) {
	r.mu.Lock()
	r.answer = answer
	r.mu.Unlock()
}

// FailureCase is a failing query of a recorded-response test: the
// replies to the query under test, attempt by attempt (the last
// repeating), and what the error must be.
type FailureCase struct {
	Name string
	// Replies are the answers in turn.
	Replies []Reply
	// Kind is the metricsrc kind the error must be (errors.Is).
	Kind error
	// Contains are texts the error must hold.
	Contains []string
	// Attempts is how many replies the query must have asked for.
	Attempts int
}

// Failures runs each case as a subtest: measure builds a source against
// a Recorder whose query under test is answered by next, measures once,
// and returns the error. The error must be of the case's kind, hold its
// texts, come after its attempts, and hold none of secrets.
func Failures(t *testing.T, cases []FailureCase, secrets []string, measure func(t *testing.T, next func() Reply) error) {
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			var mu sync.Mutex
			n := 0
			next := func() Reply {
				mu.Lock()
				defer mu.Unlock()
				r := tc.Replies[min(n, len(tc.Replies)-1)]
				n++
				return r
			}
			err := measure(t, next)
			if !errors.Is(err, tc.Kind) {
				t.Fatalf("got %v, want %v", err, tc.Kind)
			}
			for _, s := range tc.Contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			mu.Lock()
			if n != tc.Attempts {
				t.Errorf("got %d attempts, want %d", n, tc.Attempts)
			}
			mu.Unlock()
			for _, s := range secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q holds a secret", err)
				}
			}
		})
	}
}
