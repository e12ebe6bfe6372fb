package checks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/canary-dev/canary"
)

// PreCheck runs pc as the runbook's `curl -s URL | jq EXPR`: it GETs pc.URL
// within pc.Timeout (default 10s), requires a 2xx answer, decodes the JSON
// body (at most MaxBody bytes) and evaluates pc.JQ on it. The check passes
// when every result of the expression is truthy (anything but null and
// false) and there is at least one; with no expression a 2xx answer
// passes.
//
// output is the result as compact JSON (several results separated by
// spaces), truncated to MaxResultOutput bytes, or the status line when
// there is no expression. A failing check returns an error that shows the
// expression, its result and, for a comparison, the values compared:
//
//	.avg_success_rate >= 0.99 was false (.avg_success_rate is 0.97)
func (r *Runner) PreCheck(ctx context.Context, pc canary.PreCheck) (output string, err error) {
	return r.clean(r.preCheck(ctx, pc))
}

func (r *Runner) preCheck(ctx context.Context, pc canary.PreCheck) (string, error) {
	code, err := compileJQ(pc.JQ)
	if err != nil {
		return "", err
	}
	u, err := checkURL(pc.URL)
	if err != nil {
		return "", err
	}
	timeout := orDefault(pc.Timeout.D(), DefaultPreCheckTimeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := r.client().Do(req)
	if err != nil {
		return "", timeoutHint(ctx, err, timeout)
	}
	defer resp.Body.Close()
	body, more, err := readCapped(resp.Body, MaxBody)
	if !is2xx(resp.StatusCode) {
		return "", statusError(http.MethodGet, u, resp, body)
	}
	if err != nil {
		return "", fmt.Errorf("GET %s: reading body: %w", u.Redacted(), timeoutHint(ctx, err, timeout))
	}
	if more {
		return "", fmt.Errorf("GET %s: body larger than %d bytes", u.Redacted(), MaxBody)
	}
	if code == nil {
		return resp.Status, nil
	}
	input, err := decodeJSON(body)
	if err != nil {
		return "", fmt.Errorf("GET %s: body is not JSON (%v): %s", u.Redacted(), err, oneLine(string(body), 80))
	}
	return code.eval(ctx, input)
}

// userAgent identifies canary's requests in the servers' logs.
const userAgent = "canary-checks"

// decodeJSON decodes exactly one JSON value, keeping numbers exact.
func decodeJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty body")
		}
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

// timeoutHint adds the timeout to an error caused by the call's own
// deadline, so "context deadline exceeded" says which deadline.
func timeoutHint(ctx context.Context, err error, timeout time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w (timed out after %s)", err, timeout)
	}
	return err
}

// maxResults bounds how many results of an expression are collected.
const maxResults = 16

// eval runs the expression on input and judges the results.
func (c *jqCode) eval(ctx context.Context, input any) (string, error) {
	iter := c.code.RunWithContext(ctx, input)
	var results []any
	for len(results) < maxResults {
		v, ok := iter.Next()
		if !ok {
			break
		}
		if err, isErr := v.(error); isErr {
			return "", fmt.Errorf("jq %s: %w", c.src, err)
		}
		results = append(results, v)
	}
	out := formatResults(results)
	if len(results) == 0 {
		return out, fmt.Errorf("%s produced no result", c.src)
	}
	for _, v := range results {
		if !truthy(v) {
			return out, fmt.Errorf("%s was %s%s", c.src, truncate(out, 200), c.explain(ctx, input))
		}
	}
	return out, nil
}

// truthy is jq's truth: everything but null and false.
func truthy(v any) bool { return v != nil && v != false }

// formatResults writes results as compact JSON separated by spaces.
func formatResults(results []any) string {
	parts := make([]string, 0, len(results))
	for _, v := range results {
		b, err := gojqMarshal(v)
		if err != nil {
			b = []byte(fmt.Sprint(v))
		}
		parts = append(parts, string(b))
	}
	return truncate(strings.Join(parts, " "), MaxResultOutput)
}
