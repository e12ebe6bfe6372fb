package checks

import (
	"context"
	"io"
	"net/http"
)

// Answer is an approval webhook's answer to one poll.
type Answer string

// The answers.
const (
	// Approved: the webhook answered 2xx; the step may advance.
	Approved Answer = "approved"
	// Rejected: the webhook answered 403; the rollout pauses.
	Rejected Answer = "rejected"
	// Waiting: any other status (404, 5xx, ...); ask again next interval.
	Waiting Answer = "waiting"
)

// Approval polls an approval webhook once: it POSTs payload (the
// rollout's state as JSON) to url within DefaultApprovalTimeout and maps
// the status to an Answer. A transport error (refused connection,
// timeout) is returned as an error, not as Waiting, so the caller can
// record it; whether it then keeps waiting is the caller's choice.
func (r *Runner) Approval(ctx context.Context, url string, payload []byte) (Answer, error) {
	a, err := r.approval(ctx, url, payload)
	_, err = r.clean("", err)
	return a, err
}

func (r *Runner) approval(ctx context.Context, url string, payload []byte) (Answer, error) {
	u, err := checkURL(url)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultApprovalTimeout)
	defer cancel()
	resp, err := r.post(ctx, http.MethodPost, u.String(), payload)
	if err != nil {
		return "", timeoutHint(ctx, err, DefaultApprovalTimeout)
	}
	// Drain a little so the connection can be reused for the next poll.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, MaxHTTPOutput))
	resp.Body.Close()
	switch {
	case is2xx(resp.StatusCode):
		return Approved, nil
	case resp.StatusCode == http.StatusForbidden:
		return Rejected, nil
	}
	return Waiting, nil
}
