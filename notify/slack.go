package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/canary-dev/canary"
	"github.com/slack-go/slack"
)

// Slack posts messages to a Slack incoming webhook as Block Kit: the
// event's message (the runbook's "✅ Canary step 1 (5%) successful. P95:
// 450ms, Error rate: 0.1%"), the rules' values for a completed step or a
// rollback, and a context line with the rollout, version, step and a link.
type Slack struct {
	// WebhookURL references the incoming webhook's URL, which is a secret
	// (it carries the token). Required.
	WebhookURL canary.SecretRef
	Options
}

var _ Sender = (*Slack)(nil)

// Slack limits: section text 3000 characters, a field 2000, 10 fields.
const (
	slackTextMax   = 3000
	slackFieldMax  = 2000
	slackFieldsMax = 10
)

// Send posts m. A 4xx answer other than 408 and 429 (a revoked or archived
// webhook, an invalid payload) is permanent; 429 waits for Retry-After.
func (s *Slack) Send(ctx context.Context, m Message) error {
	what := "slack webhook " + s.WebhookURL.String()
	u, err := s.secret(s.WebhookURL)
	if err != nil {
		return err
	}
	capture := &bodyCapture{base: s.httpClient().Transport}
	client := *s.httpClient()
	client.Transport = capture
	err = slack.PostWebhookCustomHTTPContext(ctx, u, &client, slackMessage(m, s.link(m)))
	var rl *slack.RateLimitedError
	var sc slack.StatusCodeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &rl):
		return &retryAfterError{err: fmt.Errorf("%s answered 429 Too Many Requests", what), after: rl.RetryAfter}
	case errors.As(err, &sc) && sc.Code/100 == 2:
		return nil // slack-go wants 200; any 2xx is a yes (Slack-compatible receivers answer 202, 204)
	case errors.As(err, &sc):
		resp := &http.Response{StatusCode: sc.Code, Status: sc.Status, Header: http.Header{},
			Body: io.NopCloser(strings.NewReader(capture.detail))}
		return statusError(what, resp, urlSecrets(u)...)
	}
	return transportError("post to "+what, err, urlSecrets(u)...)
}

// bodyCapture keeps the start of a failed answer's body, where Slack says
// what is wrong (invalid_token, channel_is_archived), since slack-go drops
// it.
type bodyCapture struct {
	base   http.RoundTripper
	detail string
}

func (c *bodyCapture) RoundTrip(req *http.Request) (*http.Response, error) {
	base := c.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil || resp.StatusCode < 300 {
		return resp, err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	c.detail = string(b)
	resp.Body = io.NopCloser(strings.NewReader(c.detail))
	return resp, nil
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// slackMessage renders m as an incoming-webhook message with Block Kit
// blocks; text is the notification's fallback.
func slackMessage(m Message, link string) *slack.WebhookMessage {
	text := slackEscape(m.Event.Message)
	blocks := []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, truncate(text, slackTextMax), false, false), nil, nil),
	}
	if fields := slackFields(m); len(fields) > 0 {
		blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil))
	}
	ctx := []string{"*" + slackEscape(m.Name()) + "*"}
	if m.Version != "" {
		ctx = append(ctx, slackEscape(m.Version))
	}
	if !m.Test {
		ctx = append(ctx, whereInline(m.Event))
	}
	if link != "" {
		ctx = append(ctx, "<"+link+"|Open in canary>")
	}
	blocks = append(blocks, slack.NewContextBlock("",
		slack.NewTextBlockObject(slack.MarkdownType, strings.Join(ctx, " · "), false, false)))
	return &slack.WebhookMessage{Text: text, Blocks: &slack.Blocks{BlockSet: blocks}}
}

// slackFields shows every rule's canary and stable value for a completed
// step or a rollback, one field per rule.
func slackFields(m Message) []*slack.TextBlockObject {
	if m.Event.Type != canary.EvStepCompleted && m.Event.Type != canary.EvRollbackStarted {
		return nil
	}
	var fields []*slack.TextBlockObject
	for i, e := range m.Evaluations {
		if i == slackFieldsMax {
			break
		}
		s := fmt.Sprintf("*%s*\ncanary %s · stable %s · %s", slackEscape(e.Rule), valueText(e), stableText(e), verdictText(e))
		fields = append(fields, slack.NewTextBlockObject(slack.MarkdownType, truncate(s, slackFieldMax), false, false))
	}
	return fields
}
