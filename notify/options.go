package notify

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/canary-dev/canary"
)

// Sender delivers one message on one channel. Send must honour ctx's
// deadline, never put a secret in its error, and mark errors that retrying
// cannot fix with Permanent.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Factory builds the Sender of one audience's channel (slack, email,
// webhook or pagerduty). An audience without that channel, or an unknown
// channel, is an error.
type Factory func(a canary.Audience, channel string) (Sender, error)

// Options are what every channel shares: how to reach the network, find
// secrets and link to the rollout. The zero value works.
type Options struct {
	// HTTPClient sends Slack, webhook and PagerDuty requests. Default: a
	// client without a timeout of its own; each send is bounded by its
	// context (the Deliverer's Timeout).
	HTTPClient *http.Client
	// BaseURL is where canary's web UI is reached, e.g.
	// https://canary.example.com. When set, messages link to the rollout at
	// BaseURL/rollouts/<id>. Default: no link.
	BaseURL string
	// Secrets resolves secret references at send time. Default:
	// ResolveSecret (env:NAME and file:/path).
	Secrets SecretResolver
	// Clock stamps webhook signatures and email dates. Default:
	// canary.SystemClock.
	Clock canary.Clock
	// TLSConfig is used for SMTP STARTTLS, e.g. with RootCAs for a private
	// CA. Its ServerName is set to the SMTP host. Default: the system's
	// roots.
	TLSConfig *tls.Config
	// Dial connects to SMTP servers: canary serve and the operator pass
	// their outbound policy's dialer (HTTPClient carries it for the other
	// channels). Default: net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// New returns the Sender of audience a's channel: a Factory.
func (o Options) New(a canary.Audience, channel string) (Sender, error) {
	var s Sender
	switch channel {
	case ChannelSlack:
		if a.Slack != nil {
			s = &Slack{WebhookURL: a.Slack.WebhookURL, Options: o}
		}
	case ChannelEmail:
		if e := a.Email; e != nil {
			s = &Email{To: e.To, From: e.From, SMTP: e.SMTP, Username: e.Username, Password: e.Password, TLS: e.TLS, Options: o}
		}
	case ChannelWebhook:
		if w := a.Webhook; w != nil {
			s = &Webhook{URL: w.URL, Secret: w.Secret, Options: o}
		}
	case ChannelPagerDuty:
		if p := a.PagerDuty; p != nil {
			s = &PagerDuty{RoutingKey: p.RoutingKey, URL: p.URL, Options: o}
		}
	default:
		return nil, Permanent(fmt.Errorf("unknown channel %q (use slack, email, webhook or pagerduty)", channel))
	}
	if s == nil {
		return nil, Permanent(fmt.Errorf("audience %q has no %s channel", a.Audience, channel))
	}
	return s, nil
}

func (o Options) httpClient() *http.Client {
	if o.HTTPClient != nil {
		return o.HTTPClient
	}
	return http.DefaultClient
}

func (o Options) secret(ref canary.SecretRef) (string, error) {
	if o.Secrets != nil {
		return o.Secrets(ref)
	}
	return ResolveSecret(ref)
}

func (o Options) now() time.Time {
	if o.Clock != nil {
		return o.Clock.Now()
	}
	return time.Now()
}

// link is the rollout's page, or "" without a BaseURL or a rollout ID.
func (o Options) link(m Message) string {
	if o.BaseURL == "" || m.RolloutID == 0 {
		return ""
	}
	u, err := url.JoinPath(o.BaseURL, "rollouts", strconv.FormatInt(m.RolloutID, 10))
	if err != nil {
		return ""
	}
	return u
}
