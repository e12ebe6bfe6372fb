package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/canary-dev/canary"
)

// maxEventLine bounds one line of the event stream.
const maxEventLine = 8 << 20

// Watch calls fn with each event of rollout name with Seq > after, in
// order: first those already recorded, then each as it happens, until ctx
// is done (Watch then returns nil). When a plan with a new spec.version is
// applied under name, Watch goes on with the new generation's events,
// whose Seq starts again from 1. A stream that breaks after it was
// established is reopened after RetryDelay from the last event seen, so
// no event is missed or repeated; a refusal (an *Error: unknown rollout,
// bad token) or a server that cannot be reached ends Watch with the error.
// fn runs on Watch's goroutine; a slow fn slows the stream, never drops
// events.
func (c *Client) Watch(ctx context.Context, name string, after int64, fn func(canary.Event)) error {
	followed := false // a stream was open before
	for {
		established, err := c.watchOnce(ctx, name, &after, fn)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errNewGeneration) {
			continue
		}
		delay := c.RetryDelay
		if delay <= 0 {
			delay = time.Second
		}
		var apiErr *Error
		switch {
		case followed && errors.As(err, &apiErr) && apiErr.Err != nil && apiErr.Err.Code == CodeRateLimited:
			// Reconnecting too fast for the server's rate limit: wait as
			// long as it asks, then go on following.
			delay = max(delay, apiErr.RetryAfter)
		case !established || !retryable(err):
			return err
		}
		followed = followed || established
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// retryable reports whether a stream that ended with err is reopened:
// when it just ended or the connection broke, not when the server said no.
func retryable(err error) bool {
	var apiErr *Error
	return err == nil || (!errors.As(err, &apiErr) && canary.ErrorCode(err) == canary.EUNAVAILABLE)
}

// watchOnce reads one stream until it ends; established reports whether
// the server accepted it.
func (c *Client) watchOnce(ctx context.Context, name string, after *int64, fn func(canary.Event)) (established bool, err error) {
	hdr := http.Header{"Accept": {"text/event-stream"}}
	q := url.Values{}
	if *after > 0 {
		hdr.Set("Last-Event-ID", strconv.FormatInt(*after, 10))
		q.Set("after", strconv.FormatInt(*after, 10))
	}
	resp, err := c.do(ctx, "GET", rolloutPath(name, "/events/stream"), q, "", nil, hdr)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return false, canary.Errorf(canary.EINTERNAL, "the server sent %q, not an event stream", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), maxEventLine)
	var typ string
	var data []string
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line != "" {
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				typ = value
			case "data":
				data = append(data, value)
			}
			continue
		}
		if len(data) == 0 {
			typ = ""
			continue
		}
		if err := dispatch(typ, strings.Join(data, "\n"), after, fn); err != nil {
			return true, err
		}
		typ, data = "", nil
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return true, c.netError(err)
	}
	return true, nil
}

// errNewGeneration ends a stream whose rollout name now stands for a new
// generation; Watch reopens it at once.
var errNewGeneration = errors.New("a new generation of the rollout was applied")

// dispatch hands one event to fn, or returns the error an "error" event
// carries.
func dispatch(typ, data string, after *int64, fn func(canary.Event)) error {
	if typ == "generation" {
		*after = 0 // a new generation numbers its events from 1
		return errNewGeneration
	}
	if typ == "error" {
		var b errorBody
		if err := json.Unmarshal([]byte(data), &b); err != nil || b.Error.Code == "" {
			return canary.Errorf(canary.EINTERNAL, "the event stream failed: %.200s", data)
		}
		return &Error{Err: &canary.Error{Code: b.Error.Code, Message: b.Error.Message}, Details: b.Error.Details}
	}
	var ev canary.Event
	if err := json.Unmarshal([]byte(data), &ev); err != nil {
		return canary.Errorf(canary.EINTERNAL, "an event of the stream is not JSON: %v", err)
	}
	if ev.Seq <= *after {
		return nil // already seen
	}
	*after = ev.Seq
	fn(ev)
	return nil
}
