package notify

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/canary-dev/canary"
)

// DefaultPagerDutyURL is the Events API v2 endpoint.
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// PagerDuty triggers and resolves an incident per rollout through the
// Events API v2. Every message of one rollout carries the same dedup_key
// (Message.Incident), so repeated triggers add to one incident, a retried
// delivery is absorbed by PagerDuty, and the resolve sent when the rollout
// ends closes it. Which events trigger: see PagerDutyAction.
type PagerDuty struct {
	// RoutingKey references the integration's routing key. Required.
	RoutingKey canary.SecretRef
	// URL of the Events API. Default: DefaultPagerDutyURL.
	URL string
	Options
}

var _ Sender = (*PagerDuty)(nil)

// pdEvent is an Events API v2 request.
type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Payload     *pdPayload `json:"payload,omitempty"`
	Client      string     `json:"client,omitempty"`
	ClientURL   string     `json:"client_url,omitempty"`
	Links       []pdLink   `json:"links,omitempty"`
}

type pdPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

type pdLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// pdSeverity maps an urgency to a PagerDuty severity.
func pdSeverity(u canary.Urgency) string {
	switch u {
	case canary.UrgencyCritical:
		return "critical"
	case canary.UrgencyHigh:
		return "error"
	case canary.UrgencyMedium:
		return "warning"
	}
	return "info"
}

// pagerDutyEvent renders m. A resolve carries only the key; a trigger the
// summary, severity and details.
func pagerDutyEvent(m Message, routingKey, link string) pdEvent {
	ev := pdEvent{RoutingKey: routingKey, EventAction: m.Action, DedupKey: m.Incident()}
	if ev.EventAction == "" {
		ev.EventAction = ActionTrigger
	}
	if ev.EventAction != ActionTrigger {
		return ev
	}
	details := map[string]any{
		"rollout": m.Name(), "version": m.Version, "event": m.Event.Type, "step": m.Event.Step + 1,
		"weight": m.Event.Weight, "urgency": m.Event.Urgency, "delivery": m.Key,
	}
	if m.Event.Rule != "" {
		details["rule"] = m.Event.Rule
	}
	if m.Event.Error != "" {
		details["error"] = m.Event.Error
	}
	if len(m.Evaluations) > 0 {
		rules := map[string]string{}
		for _, e := range m.Evaluations {
			rules[e.Rule] = fmt.Sprintf("canary %s, stable %s, threshold %s: %s",
				valueText(e), stableText(e), thresholdText(e), verdictText(e))
		}
		details["rules"] = rules
	}
	ev.Payload = &pdPayload{
		Summary:   truncate(m.Event.Message, 1024),
		Source:    "canary " + m.Name(),
		Severity:  pdSeverity(m.Event.Urgency),
		Component: m.Event.Rollout, Group: m.Namespace, Class: string(m.Event.Type),
		CustomDetails: details,
	}
	if !m.Event.Time.IsZero() {
		ev.Payload.Timestamp = m.Event.Time.UTC().Format(time.RFC3339)
	}
	ev.Client = "canary"
	if link != "" {
		ev.ClientURL = link
		ev.Links = []pdLink{{Href: link, Text: "Rollout in canary"}}
	}
	return ev
}

// Send posts m's trigger or resolve. Any 2xx answer (PagerDuty answers 202)
// is success; 400 (an invalid event) is permanent; 429 and 5xx are retried.
func (p *PagerDuty) Send(ctx context.Context, m Message) error {
	url := p.URL
	if url == "" {
		url = DefaultPagerDutyURL
	}
	what := "PagerDuty " + RedactURL(url)
	key, err := p.secret(p.RoutingKey)
	if err != nil {
		return err
	}
	body, err := marshal(pagerDutyEvent(m, key, p.link(m)))
	if err != nil {
		return Permanent(fmt.Errorf("encode PagerDuty event: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("%s: %s", what, scrub(err.Error(), url)))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "canary-notify/1")
	req.Header.Set(HeaderDelivery, m.Key)
	resp, err := p.httpClient().Do(req)
	if err != nil {
		return transportError("post to "+what, err, key, url)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return nil
	}
	return statusError(what, resp, key)
}
