package canary

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// APIVersion and Kind identify a plan; a plan file is also a Kubernetes
// object, so the same file works with `canary run` and `kubectl apply`.
const (
	APIVersion = "canary.dev/v1alpha1"
	Kind       = "Rollout"
)

// Plan is a rollout plan: one release of one service from its stable
// version to a canary version, as a Kubernetes-style object.
type Plan struct {
	// APIVersion must be canary.dev/v1alpha1.
	APIVersion string `json:"apiVersion"`
	// Kind must be Rollout.
	Kind string `json:"kind"`
	// Metadata names the rollout.
	Metadata Metadata `json:"metadata"`
	// Spec is what to do.
	Spec Spec `json:"spec"`
}

// Metadata names a rollout, as Kubernetes object metadata does.
type Metadata struct {
	// Name of the rollout: lower-case letters, digits and '-', at most 63
	// characters. Required.
	Name string `json:"name"`
	// Namespace of the rollout (and of its Kubernetes objects). Default:
	// "default".
	Namespace string `json:"namespace,omitempty"`
	// Labels are free-form key/value pairs copied onto every event.
	Labels map[string]string `json:"labels,omitempty"`
}

// Spec is the declarative rollout: how traffic moves, what is watched,
// when to roll back and whom to tell.
type Spec struct {
	// Version is the canary's version, shown in events and notifications
	// (e.g. v1.0.0-elite). Required.
	Version string `json:"version"`
	// Traffic says how traffic is split between stable and canary: exactly
	// one of proxy, helm, gatewayAPI or replicas. Required.
	Traffic Traffic `json:"traffic"`
	// FeatureFlag, when set, is moved in lockstep with the canary weight:
	// set to the same percentage at every step, disabled first on an
	// immediate rollback, set to 0 on a gradual one.
	FeatureFlag *FeatureFlag `json:"featureFlag,omitempty"`
	// PreChecks run before any traffic moves; if one fails the rollout ends
	// Failed with nothing changed.
	PreChecks []PreCheck `json:"preChecks,omitempty"`
	// Hooks run at fixed points of the rollout (before it, after each step,
	// on rollback, after promotion). A failing beforeRollout hook stops the
	// rollout before any traffic moves; other failures are recorded.
	Hooks []Hook `json:"hooks,omitempty"`
	// Strategy is how the new version is released: a canary (the default:
	// the steps' weights, matches and mirrors) or blueGreen.
	Strategy Strategy `json:"strategy,omitzero"`
	// Steps are the traffic weights with their holds, increasing; the last
	// must be weight 100 with no hold, and reaching it promotes. Required.
	Steps []Step `json:"steps"`
	// Analysis says how often and from where the SLOs are measured.
	Analysis Analysis `json:"analysis,omitempty"`
	// SLO is the service's objective, used by burnRate rules and reports.
	SLO SLO `json:"slo,omitempty"`
	// Rules are the rollback decision matrix, one row each. At least one.
	Rules []Rule `json:"rules"`
	// Rollback configures rollbacks.
	Rollback RollbackPolicy `json:"rollback,omitempty"`
	// ActionTimeout is how long a failing action (set weight, set flag,
	// remove canary) is retried before the rollout pauses with the error.
	// Default: 5m.
	ActionTimeout Duration `json:"actionTimeout,omitempty"`
	// Notify lists the audiences told about the rollout and on which events.
	Notify []Audience `json:"notify,omitempty"`
	// Cleanup runs at the end of the rollout, whatever the outcome (the
	// runbook's post-deployment cleanup). Failures are recorded as events.
	Cleanup []Hook `json:"cleanup,omitempty"`
}

// Traffic selects the traffic provider: exactly one field is set.
type Traffic struct {
	// Proxy uses canary's built-in L7 proxy.
	Proxy *ProxyTraffic `json:"proxy,omitempty"`
	// Helm upgrades a canary Helm release with the weight as a value.
	Helm *HelmTraffic `json:"helm,omitempty"`
	// GatewayAPI sets the backendRef weights of an HTTPRoute.
	GatewayAPI *GatewayAPITraffic `json:"gatewayAPI,omitempty"`
	// Replicas approximates the weight by sharing pods between a stable
	// and a canary Deployment behind one Service (no gateway needed).
	Replicas *ReplicasTraffic `json:"replicas,omitempty"`
	// Istio sets the destination weights of an Istio VirtualService's
	// HTTP routes.
	Istio *IstioTraffic `json:"istio,omitempty"`
	// NGINXIngress splits traffic with ingress-nginx's canary Ingress: a
	// copy of the stable Ingress sending to the canary Service, with the
	// nginx.ingress.kubernetes.io/canary annotations.
	NGINXIngress *NGINXIngressTraffic `json:"nginxIngress,omitempty"`
}

// Provider returns the name of the configured provider, or "" if none.
func (t Traffic) Provider() string {
	switch {
	case t.Proxy != nil:
		return "proxy"
	case t.Helm != nil:
		return "helm"
	case t.GatewayAPI != nil:
		return "gatewayAPI"
	case t.Replicas != nil:
		return "replicas"
	case t.Istio != nil:
		return "istio"
	case t.NGINXIngress != nil:
		return "nginxIngress"
	}
	return ""
}

// ProxyTraffic configures the built-in proxy.
type ProxyTraffic struct {
	// Listen is the address clients connect to. Default: 127.0.0.1:8080.
	Listen string `json:"listen,omitempty"`
	// Admin is the address of /metrics and /healthz. Default: none (the
	// admin listener is off).
	Admin string `json:"admin,omitempty"`
	// Stable is the URL of the stable version. Required.
	Stable string `json:"stable"`
	// Canary is the URL of the canary version. Required.
	Canary string `json:"canary"`
	// StickyHeader names a request header (e.g. X-User-ID) whose value keeps
	// a user on one track: its hash bucket 0..9999 goes to the canary when
	// below weight×100, so users only ever move stable→canary as it grows.
	StickyHeader string `json:"stickyHeader,omitempty"`
	// StickyCookie is like StickyHeader for a cookie.
	StickyCookie string `json:"stickyCookie,omitempty"`
}

// HelmTraffic drives the runbook's Helm commands.
type HelmTraffic struct {
	// Release is the main (stable) release, upgraded on promotion.
	Release string `json:"release"`
	// CanaryRelease is the canary release, installed for the first step and
	// uninstalled at the end. Default: Release + "-canary".
	CanaryRelease string `json:"canaryRelease,omitempty"`
	// Chart is the chart path or reference. Required.
	Chart string `json:"chart"`
	// WeightValue is the chart value that carries the weight. Default:
	// canary.weight.
	WeightValue string `json:"weightValue,omitempty"`
	// Set are values set on the canary release (like helm --set).
	Set map[string]string `json:"set,omitempty"`
}

// GatewayAPITraffic splits traffic with a Gateway API HTTPRoute.
type GatewayAPITraffic struct {
	// HTTPRoute is the route's name in the rollout's namespace. Required.
	HTTPRoute string `json:"httpRoute"`
	// StableService is the stable Service's name. Required.
	StableService string `json:"stableService"`
	// CanaryService is the canary Service's name. Required.
	CanaryService string `json:"canaryService"`
	// Port of both Services. Default: 80.
	Port int `json:"port,omitempty"`
}

// ReplicasTraffic approximates the canary weight with pod counts: the
// canary Deployment gets the share of the pods nearest the weight (at
// least one pod above 0%) and the stable Deployment the rest, and one
// Service selecting both spreads requests over all their pods. With 4
// pods, 5%, 10% and 25% all mean 1 canary pod (25% of requests): use more
// replicas, gatewayAPI or the built-in proxy for exact weights. Growing
// the canary waits for its new pods to be ready before the stable shrinks;
// promotion copies the canary's pod template into the stable Deployment.
type ReplicasTraffic struct {
	// StableDeployment is the stable version's Deployment in the rollout's
	// namespace. Required.
	StableDeployment string `json:"stableDeployment"`
	// CanaryDeployment is the canary version's Deployment (created by you,
	// e.g. at 0 replicas, with the new version's pod template). Required.
	CanaryDeployment string `json:"canaryDeployment"`
	// Total is the number of pods shared out. Default: the two
	// Deployments' replicas at the start (usually the stable's).
	Total int `json:"total,omitempty"`
	// ReadyTimeout is how long one step waits for new pods to be ready
	// before the action is retried. Default: 20s.
	ReadyTimeout Duration `json:"readyTimeout,omitempty"`
}

// IstioTraffic splits traffic with the weights of an Istio VirtualService
// (networking.istio.io/v1). Every HTTP route of the VirtualService that
// sends traffic to the stable destination is managed (or only the routes
// named in Routes): the router sets the stable destination's weight to
// 100-w and the canary's to w, adding the canary destination (with the
// stable's port) when it is missing, and removes it after a rollback.
// Other routes, matches and destinations are left as they are.
type IstioTraffic struct {
	// VirtualService is the VirtualService's name in the rollout's
	// namespace. Required.
	VirtualService string `json:"virtualService"`
	// Routes names the HTTP routes (http[].name) to manage. Default: every
	// HTTP route with a destination to the stable one.
	Routes []string `json:"routes,omitempty"`
	// Stable is the stable version's destination. Required.
	Stable IstioDestination `json:"stable"`
	// Canary is the canary version's destination: another host, or
	// another subset (of a DestinationRule) of the stable's host.
	// Required.
	Canary IstioDestination `json:"canary"`
}

// IstioDestination is a destination of a VirtualService's route: a host
// and optionally a subset.
type IstioDestination struct {
	// Host is the destination's host, e.g. recoveryos or
	// recoveryos.prod.svc.cluster.local, written as in the VirtualService.
	// Default for the canary: the stable's host (then name a subset).
	Host string `json:"host,omitempty"`
	// Subset is a subset defined in the host's DestinationRule, e.g. v2.
	// Default: none.
	Subset string `json:"subset,omitempty"`
}

// NGINXIngressTraffic splits traffic with ingress-nginx's canary Ingress.
// The router creates a canary Ingress beside the stable one, copying its
// class, hosts, TLS and the paths that send to the stable Service (with
// the canary Service instead), and sets its annotations
// nginx.ingress.kubernetes.io/canary: "true" and canary-weight. The stable
// Ingress is never written. After a rollback the canary Ingress is
// deleted; after a promotion it keeps serving everything.
type NGINXIngressTraffic struct {
	// Ingress is the stable Ingress's name in the rollout's namespace.
	// Required.
	Ingress string `json:"ingress"`
	// CanaryIngress is the name of the canary Ingress the router creates
	// and owns (an existing Ingress of that name that canary did not
	// create is refused). Default: Ingress + "-canary".
	CanaryIngress string `json:"canaryIngress,omitempty"`
	// StableService is the stable version's Service, as named in the
	// stable Ingress's backends. Required.
	StableService string `json:"stableService"`
	// CanaryService is the canary version's Service. Required.
	CanaryService string `json:"canaryService"`
	// Port of the canary Service. Default: the stable backend's port.
	Port int `json:"port,omitempty"`
}

// FeatureFlag is the flag moved with the weight.
type FeatureFlag struct {
	// Name of the flag, e.g. release_20250814. Required.
	Name string `json:"name"`
	// Environment of the flag. Default: production.
	Environment string `json:"environment,omitempty"`
	// Provider is "builtin" (canary's own flag service) or "http" (a service
	// speaking the runbook's POST /feature-flags/{name} API). Default:
	// builtin.
	Provider string `json:"provider,omitempty"`
	// URL is the http provider's base URL.
	URL string `json:"url,omitempty"`
	// Token is the http provider's bearer token reference (env:NAME or
	// file:/path).
	Token SecretRef `json:"token,omitempty"`
}

// PreCheck is one pre-deployment check: GET a URL and evaluate a jq
// expression on the JSON body, as the runbook's `curl -s URL | jq EXPR`.
// The check passes when the response is 2xx and the expression yields true
// (or, for a non-boolean result, anything but null and false).
type PreCheck struct {
	// Name shown in events. Required, unique.
	Name string `json:"name"`
	// URL to GET. Required.
	URL string `json:"url"`
	// JQ is the expression, e.g. '.avg_success_rate >= 0.99'. Default: none
	// (a 2xx response passes).
	JQ string `json:"jq,omitempty"`
	// Timeout of the request. Default: 10s.
	Timeout Duration `json:"timeout,omitempty"`
}

// Hook points.
const (
	HookBeforeRollout  = "beforeRollout"
	HookAfterStep      = "afterStep"
	HookOnRollback     = "onRollback"
	HookAfterPromotion = "afterPromotion"
	HookPromote        = "promote"
)

// Hook is an HTTP call or a command run at a point of the rollout.
type Hook struct {
	// Name shown in events. Required, unique among hooks (and among cleanup).
	Name string `json:"name"`
	// At is when it runs: beforeRollout, afterStep, onRollback, promote or
	// afterPromotion. promote hooks are the promotion's actions: they run
	// in order with 100% on the canary, before traffic moves back to the
	// stable slot (deploy the new version there, check its health); a
	// failing one is retried and then pauses the rollout. With them the
	// built-in proxy sends 100% back to its stable upstream at promotion;
	// without, the canary's upstream becomes the stable one.
	// afterPromotion hooks run after it, best effort. Required for hooks,
	// not allowed in cleanup.
	At string `json:"at,omitempty"`
	// HTTP makes a request; a non-2xx answer fails the hook.
	HTTP *HTTPHook `json:"http,omitempty"`
	// Command runs a program (no shell) with these arguments; a non-zero
	// exit fails the hook.
	Command []string `json:"command,omitempty"`
	// Env adds variables to the command's environment, each value a
	// secret reference read when the command runs, from the sources the
	// host allows (under canary serve env:CANARY_SECRET_… and files in a
	// --secret-dir; under canary operator secret:NAME/KEY), e.g.
	// {API_TOKEN: env:CANARY_SECRET_API_TOKEN}. Command hooks only; PATH,
	// HOME and LANG are set by the host. Default: none.
	Env map[string]SecretRef `json:"env,omitempty"`
	// Timeout for the call. Default: 30s.
	Timeout Duration `json:"timeout,omitempty"`
}

// HTTPHook is an HTTP request made by a hook.
type HTTPHook struct {
	// URL to call. Required.
	URL string `json:"url"`
	// Method. Default: POST.
	Method string `json:"method,omitempty"`
	// Body sent as application/json. Default: the rollout's state as JSON.
	Body string `json:"body,omitempty"`
}

// Strategy selects the release strategy: none set is a canary.
type Strategy struct {
	// BlueGreen releases the new version beside the old one with no user
	// traffic: every step before the last mirrors the stable's requests to
	// it (mirror is required there, or nothing could be judged) and has no
	// weight or match; once the last of them passes, all traffic switches
	// to it at once (the last step, weight 100), the old version is kept
	// for scaleDownDelay while the rules keep judging, and a rollback
	// switches all traffic back at once.
	BlueGreen *BlueGreen `json:"blueGreen,omitempty"`
	// MirrorBodies opts in to mirroring requests with a body: the steps'
	// mirror then copies requests of any method whose body is at most this
	// size (e.g. 64KiB, at most 1MiB); larger bodies are not copied (the
	// proxy counts them). Without it only GET and HEAD requests without a
	// body are mirrored. Built-in proxy only: Gateway API and Istio would
	// mirror every method whatever the body's size, so a plan setting it
	// with them is refused. Default: none.
	MirrorBodies ByteSize `json:"mirrorBodies,omitempty"`
}

// BlueGreen configures the blue/green strategy.
type BlueGreen struct {
	// Preview is an address (host:port) where the built-in proxy sends
	// every request to the new version before the switch, for people and
	// smoke tests; its requests do not count in the analysis. Built-in
	// proxy only. Default: none.
	Preview string `json:"preview,omitempty"`
	// ScaleDownDelay is how long the old version is kept after the switch:
	// the rules keep judging the new version, and a rollback switches all
	// traffic back at once; after it the rollout promotes. Default: 5m.
	ScaleDownDelay Duration `json:"scaleDownDelay,omitempty"`
}

// Step is one traffic weight and how long to hold it.
type Step struct {
	// Weight is the canary's share of traffic in percent, 1 to 100; 0 (or
	// omitted) only with match or mirror. Weights increase from step to
	// step; a step may repeat the previous weight with other matches or
	// mirror.
	Weight int `json:"weight,omitempty"`
	// Match sends the requests matching any entry to the canary whatever
	// the weight (A/B testing), e.g. [{header: {name: X-Beta, exact:
	// "1"}}]. The traffic provider must express every entry, or the plan
	// is refused naming it. Not with featureFlag: the flag service does
	// not see these matches, so the same users would not get the new code
	// through both. Default: none.
	Match []Match `json:"match,omitempty"`
	// Mirror copies this share of the stable's GET and HEAD requests
	// (and, with strategy.mirrorBodies, requests with small bodies) to
	// the canary, in whole percent (e.g. 10%): the copies' responses are
	// discarded and the users never see them; their errors and latency
	// count in the canary's rules, never in the service's burn rate.
	// Default: none.
	Mirror Percent `json:"mirror,omitempty"`
	// Hold is how long the weight is held with judged evaluations before
	// the next step. Required except on the 100 step, which has none.
	Hold Duration `json:"hold,omitempty"`
	// Approval, when set, makes the step wait after its hold for a person's
	// approval or a webhook's yes before advancing.
	Approval *Approval `json:"approval,omitempty"`
}

// Approval gates a step's advance.
type Approval struct {
	// Manual waits for `canary promote` (or the API's approve).
	Manual bool `json:"manual,omitempty"`
	// Webhook is polled every interval with a POST; a 2xx answer approves,
	// 403 rejects (the rollout pauses), anything else keeps waiting.
	Webhook string `json:"webhook,omitempty"`
	// Timeout after which an unanswered approval pauses the rollout.
	// Default: 0, wait for ever.
	Timeout Duration `json:"timeout,omitempty"`
}

// Analysis configures the measurements.
type Analysis struct {
	// Interval between evaluations. Default: 30s.
	Interval Duration `json:"interval,omitempty"`
	// MinRequests is how many canary requests a window needs before a rule
	// is judged; fewer makes the evaluation "insufficient". Default: 100.
	MinRequests int `json:"minRequests,omitempty"`
	// MaxHoldExtension is how far a hold may be extended for lack of
	// judged evaluations before the rollout pauses and says why. Outages
	// of the metric source (evaluations that measured nothing: an error,
	// or no data from either track) extend the hold by their own length on
	// top of it, and pause the rollout only when they add up to more than
	// MaxHoldExtension in one step. Default: 0, meaning as long as the
	// step's hold.
	MaxHoldExtension Duration `json:"maxHoldExtension,omitempty"`
	// Confidence of threshold rules (rules with above or below): a rule
	// breaches only when the lower confidence bound of what it measures
	// (the share of failed requests, of requests slower than the latency,
	// of the service's requests that failed) is above its threshold, with
	// bounds valid under repeated looks, so judging every interval does
	// not add false breaches. A rule's confidence overrides it. Above 50%
	// and below 100%. Default: 95% (docs/decisions.md gives the numbers
	// behind it). compare: baseline rules have their own default, 99%.
	Confidence Percent `json:"confidence,omitempty"`
	// Metrics is where measurements come from. Default: builtin.
	Metrics MetricsSource `json:"metrics,omitempty"`
}

// MetricsSource selects the metrics provider: at most one field is set.
type MetricsSource struct {
	// Builtin reads the built-in proxy's own measurements.
	Builtin *BuiltinMetrics `json:"builtin,omitempty"`
	// Prometheus queries a Prometheus server.
	Prometheus *PrometheusMetrics `json:"prometheus,omitempty"`
	// Web asks any HTTP(S) API and reads the value from its JSON answer
	// with a jq expression.
	Web *WebMetrics `json:"web,omitempty"`
	// InfluxDB queries an InfluxDB 1.x server (or 2.x's 1.x API) in
	// InfluxQL.
	InfluxDB *InfluxDBMetrics `json:"influxdb,omitempty"`
	// Graphite queries a Graphite server's render API.
	Graphite *GraphiteMetrics `json:"graphite,omitempty"`
	// Datadog queries Datadog's metrics API (APM trace metrics by
	// default).
	Datadog *DatadogMetrics `json:"datadog,omitempty"`
	// CloudWatch reads Amazon CloudWatch metrics with GetMetricData (an
	// Application Load Balancer's target group metrics by default).
	CloudWatch *CloudWatchMetrics `json:"cloudwatch,omitempty"`
	// NewRelic runs NRQL queries over New Relic's NerdGraph API (APM
	// Transaction events by default).
	NewRelic *NewRelicMetrics `json:"newRelic,omitempty"`
}

// Provider returns the name of the configured source ("builtin",
// "prometheus", "web", "influxdb", "graphite", "datadog", "cloudwatch",
// "newRelic"), or "" if none is set.
func (m MetricsSource) Provider() string {
	switch {
	case m.Prometheus != nil:
		return "prometheus"
	case m.Web != nil:
		return "web"
	case m.InfluxDB != nil:
		return "influxdb"
	case m.Graphite != nil:
		return "graphite"
	case m.Datadog != nil:
		return "datadog"
	case m.CloudWatch != nil:
		return "cloudwatch"
	case m.NewRelic != nil:
		return "newRelic"
	case m.Builtin != nil:
		return "builtin"
	}
	return ""
}

// BuiltinMetrics has no settings yet.
type BuiltinMetrics struct{}

// PrometheusMetrics configures the Prometheus provider.
type PrometheusMetrics struct {
	// Address of the server, e.g. http://prometheus:9090. Required.
	Address string `json:"address"`
	// Timeout of one query. Default: 10s.
	Timeout Duration `json:"timeout,omitempty"`
	// BearerToken is a reference to a token (env:NAME or file:/path).
	BearerToken SecretRef `json:"bearerToken,omitempty"`
	// BasicAuth authenticates with a username and a password reference
	// instead of a bearer token.
	BasicAuth *BasicAuth `json:"basicAuth,omitempty"`
	// CAFile is a PEM file of the certificate authorities that sign the
	// server's certificate (https addresses). Default: the system's.
	CAFile string `json:"caFile,omitempty"`
	// Queries overrides the query templates by metric name (latency,
	// latencyBuckets, errorRate, requestRate, requests). latencyBuckets
	// gives the window's latency histogram per bucket (by le) for
	// compare: baseline rules.
	Queries map[string]string `json:"queries,omitempty"`
}

// BasicAuth is HTTP basic authentication.
type BasicAuth struct {
	// Username sent with every request. Required.
	Username string `json:"username"`
	// Password is a reference (env:NAME or file:/path). Required.
	Password SecretRef `json:"password"`
}

// SLO is the service level objective.
type SLO struct {
	// Objective is the availability objective, e.g. 99.9%. burnRate rules
	// divide the error ratio by 1 − Objective. Default: 99.9%.
	Objective Percent `json:"objective,omitempty"`
	// LatencyP95 is the latency objective, shown in reports.
	LatencyP95 Duration `json:"latencyP95,omitempty"`
	// ErrorRate is the 5xx objective, shown in reports.
	ErrorRate Percent `json:"errorRate,omitempty"`
}

// Rule actions, most severe last.
const (
	ActionPause             = "pause"
	ActionRollbackGradual   = "rollback-gradual"
	ActionRollbackImmediate = "rollback-immediate"
)

// Severity orders rule actions: immediate > gradual > pause.
func Severity(action string) int {
	switch action {
	case ActionPause:
		return 1
	case ActionRollbackGradual:
		return 2
	case ActionRollbackImmediate:
		return 3
	}
	return 0
}

// Urgency of a rule or event.
type Urgency string

// The urgencies, in order.
const (
	UrgencyLow      Urgency = "low"
	UrgencyMedium   Urgency = "medium"
	UrgencyHigh     Urgency = "high"
	UrgencyCritical Urgency = "critical"
)

// Rank orders urgencies; unknown is 0.
func (u Urgency) Rank() int {
	switch u {
	case UrgencyLow:
		return 1
	case UrgencyMedium:
		return 2
	case UrgencyHigh:
		return 3
	case UrgencyCritical:
		return 4
	}
	return 0
}

// Rule is one row of the rollback decision matrix.
type Rule struct {
	// Name shown in events. Default: derived, e.g. "latencyP95 > 600ms for
	// 5m". Unique.
	Name string `json:"name,omitempty"`
	// Metric judged: latencyP50/P90/P95/P99 (or any latencyPNN), errorRate
	// (5xx/requests of the canary), requestRate (requests/s of the canary),
	// burnRate (the whole service's error ratio ÷ (1 − slo.objective)).
	Metric Metric `json:"metric"`
	// Above breaches when the value is greater than this threshold (a value
	// equal to it passes). Latencies as durations (600ms), rates as
	// percentages (1%), burn as multipliers (2x). Exactly one of Above and
	// Below.
	//
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	Above Quantity `json:"above,omitzero"`
	// Below breaches when the value is less than this threshold.
	//
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	Below Quantity `json:"below,omitzero"`
	// Vs is what burnRate is relative to: "slo" (1 − objective),
	// "baseline" (the service's burn measured before the rollout started,
	// falling back to the stable track's burn in the same window) or
	// "stable" (the stable track's burn in the same window, but at least
	// 1x, so a degradation both tracks share does not count against the
	// canary and a healthy stable counts as the budget). Judged with
	// confidence, a breach against baseline or stable needs the service's
	// lower bound above the multiple of the base's upper bound (each at
	// half the error rate): the base is measured, not known. Default: slo.
	Vs string `json:"vs,omitempty"`
	// Window over which the metric is measured. Default: analysis.interval;
	// for a latency rule with compare: baseline, 10 intervals. For an
	// errorRate rule with compare: baseline it must be the interval: that
	// rule's test counts every request since the step started.
	Window Duration `json:"window,omitempty"`
	// ShortWindow makes a burnRate rule multi-window, as the SRE workbook's
	// alerts on burn rates: the rule breaches only when the burn over both
	// window and shortWindow is past the threshold (e.g. 14.4x over 1h and
	// 5m), so it needs a sustained burn to fire and stops breaching as soon
	// as the burn stops. Shorter than window. Default: none (one window).
	ShortWindow Duration `json:"shortWindow,omitempty"`
	// Compare is what the canary is judged against: empty for the
	// threshold in above or below, or "baseline" for the stable track over
	// the same time, with a statistical test and no threshold. errorRate is
	// tested with a one-sided sequential test of the two error ratios (a
	// mixture SPRT) on every request since the step started, and since 5
	// later starts spread over its hold, so a late regression is not
	// diluted (each of the rollout's tests at its share of 1 −
	// confidence); it is always valid, so checking it every interval does
	// not add false alarms. A latency metric is tested, when the metric
	// source gives latency histograms, with the Wilcoxon signed-rank test
	// on the per-interval Hodges-Lehmann shifts of the canary's latencies
	// over the stable's (over the window, at least 10 intervals: the
	// interval, not the request, is the unit of independence), else with
	// the signed-rank test on the pairs of per-interval quantiles the
	// metric names (each interval's canary and stable, which cancels what
	// both share). See docs/statistics.md. The rule breaches when the canary is worse than the
	// stable by more than worseBy with the rule's confidence, passes when,
	// with that confidence, it is not, and is insufficient in between.
	// Only errorRate and latency metrics; not with above or below.
	Compare string `json:"compare,omitempty"`
	// WorseBy is how much worse than the stable the canary may be before a
	// compare: baseline rule breaches. For errorRate, a difference of error
	// ratios in percentage points (0.5pp; 0.5% means the same); for a
	// latency, a duration (50ms: the canary's latencies shifted up by 50ms)
	// or a percentage (20%: the canary's latencies typically 20% higher).
	// Required with compare.
	//
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	WorseBy Quantity `json:"worseBy,omitzero"`
	// Confidence of the rule's verdicts. For a compare: baseline rule, a
	// breach needs the canary to be worse by more than worseBy with this
	// confidence, and a pass needs it to be not worse by more with this
	// confidence; default 99%. For a threshold rule, a breach needs the
	// lower confidence bound above the threshold (and pass: evidence the
	// upper bound at or below it); default analysis.confidence. Above 50%
	// and below 100%.
	Confidence Percent `json:"confidence,omitempty"`
	// Judge is how a threshold rule reads its measurement: "confidence"
	// (a breach only on evidence: the lower confidence bound of the share
	// of failed, slow or burning requests is above the threshold; windows
	// too small to decide look back over earlier intervals of the step)
	// or "point" (the runbook's literal reading: the window's value is
	// compared with the threshold once it holds minRequests canary
	// requests). Only threshold rules. Default: confidence; requestRate
	// rules, below thresholds and latency rules without a latency
	// distribution from the metric source are always judged by point.
	Judge string `json:"judge,omitempty"`
	// Pass is what a threshold rule judged with confidence needs to pass:
	// "estimate" (the value at or below the threshold over at least
	// minRequests canary requests, as the runbook reads it) or "evidence"
	// (the upper confidence bound at or below the threshold, which takes
	// more requests: see docs/decisions.md). Either way a window that is
	// neither a breach nor a pass is insufficient. Default: estimate.
	Pass string `json:"pass,omitempty"`
	// For is how long the breach must hold across evaluations before the
	// rule fires, like a Prometheus alerting rule's for. At least the
	// interval. Default: analysis.interval.
	For Duration `json:"for,omitempty"`
	// Action when the rule fires: rollback-gradual, rollback-immediate or
	// pause. Required.
	Action string `json:"action"`
	// Urgency of the rollback: low, medium, high or critical. Default:
	// medium.
	Urgency Urgency `json:"urgency,omitempty"`
}

// CompareBaseline is Rule.Compare for judging the canary against the
// stable track.
const CompareBaseline = "baseline"

// Rule.Judge and Rule.Pass values.
const (
	JudgeConfidence = "confidence"
	JudgePoint      = "point"
	PassEstimate    = "estimate"
	PassEvidence    = "evidence"
)

// Threshold returns the rule's threshold and comparison ("above"/"below").
func (r Rule) Threshold() (Quantity, string) {
	if !r.Below.IsZero() {
		return r.Below, "below"
	}
	return r.Above, "above"
}

// DisplayName is the rule's name, or one derived from its terms.
func (r Rule) DisplayName() string {
	if r.Name != "" {
		return r.Name
	}
	q, op := r.Threshold()
	sym := ">"
	if op == "below" {
		sym = "<"
	}
	s := fmt.Sprintf("%s %s %s", r.Metric, sym, q.Text)
	if r.Compare == CompareBaseline {
		s = fmt.Sprintf("%s worse than baseline by %s", r.Metric, r.WorseBy.Text)
	}
	if r.ShortWindow != 0 {
		s += fmt.Sprintf(" over %s and %s", r.Window, r.ShortWindow)
	}
	if r.Vs == "baseline" || r.Vs == "stable" {
		s += " vs " + r.Vs
	}
	return s + " for " + r.For.String()
}

// RollbackPolicy configures rollbacks.
type RollbackPolicy struct {
	// Drain is how long a gradual rollback waits at weight 0 before
	// removing the canary, so in-flight work finishes. Default: 5m.
	Drain Duration `json:"drain,omitempty"`
}

// Audience is one group of people and how and when they are told.
type Audience struct {
	// Audience is the group's name (engineering, product, ...). Required,
	// unique.
	Audience string `json:"audience"`
	// Slack posts to an incoming webhook.
	Slack *SlackChannel `json:"slack,omitempty"`
	// Email sends mail over SMTP.
	Email *EmailChannel `json:"email,omitempty"`
	// Webhook posts the event as signed JSON.
	Webhook *WebhookChannel `json:"webhook,omitempty"`
	// PagerDuty triggers and resolves incidents (Events API v2).
	PagerDuty *PagerDutyChannel `json:"pagerduty,omitempty"`
	// On lists the event types sent: all, or any of the EventType values
	// (stepStarted, stepCompleted, paused, rollbackStarted, rolledBack,
	// promoted, preChecksFailed, ...). Default: all.
	On []string `json:"on,omitempty"`
	// MinUrgency drops events below this urgency. Default: none.
	MinUrgency Urgency `json:"minUrgency,omitempty"`
}

// SlackChannel is a Slack incoming webhook.
type SlackChannel struct {
	// WebhookURL reference (env:NAME or file:/path). Required.
	WebhookURL SecretRef `json:"webhookURL"`
}

// EmailChannel sends mail.
type EmailChannel struct {
	// To lists recipients. Required.
	To []string `json:"to"`
	// From address. Default: canary@localhost.
	From string `json:"from,omitempty"`
	// SMTP server host:port. Default: localhost:25.
	SMTP string `json:"smtp,omitempty"`
	// Username for SMTP auth (optional).
	Username string `json:"username,omitempty"`
	// Password reference for SMTP auth.
	Password SecretRef `json:"password,omitempty"`
	// TLS protects the connection: starttls (the server must offer
	// STARTTLS; a server that does not gets no mail and the send fails
	// with that reason), tls (implicit TLS from the first byte, SMTPS) or
	// none (plain text, only for a relay on the same host or a trusted
	// network; a username is refused with it, so no credential is ever
	// sent in clear). Default: tls on port 465, else starttls.
	TLS EmailTLS `json:"tls,omitempty"`
}

// EmailTLS is how an email channel protects its SMTP connection.
type EmailTLS string

// The EmailTLS values.
const (
	// EmailSTARTTLS requires STARTTLS: the default except on port 465.
	EmailSTARTTLS EmailTLS = "starttls"
	// EmailImplicitTLS speaks TLS from the start: the default on port 465.
	EmailImplicitTLS EmailTLS = "tls"
	// EmailNoTLS sends in plain text, without authentication.
	EmailNoTLS EmailTLS = "none"
)

// WebhookChannel posts signed JSON.
type WebhookChannel struct {
	// URL to post to. Required.
	URL string `json:"url"`
	// Secret reference for the HMAC-SHA256 signature.
	Secret SecretRef `json:"secret,omitempty"`
}

// PagerDutyChannel is a PagerDuty Events API v2 integration.
type PagerDutyChannel struct {
	// RoutingKey reference (env:NAME or file:/path). Required.
	RoutingKey SecretRef `json:"routingKey"`
	// URL of the events API. Default: the public PagerDuty endpoint.
	URL string `json:"url,omitempty"`
}

// Metric names a measured quantity.
type Metric string

// The base metrics. Latency quantiles are written latencyP<percentile>.
const (
	MetricErrorRate   Metric = "errorRate"
	MetricRequestRate Metric = "requestRate"
	MetricBurnRate    Metric = "burnRate"
	MetricLatencyP95  Metric = "latencyP95"
)

// Quantile returns q for a latency metric (latencyP95 → 0.95,
// latencyP99.9 → 0.999) and ok=false for anything else.
func (m Metric) Quantile() (q float64, ok bool) {
	s, found := strings.CutPrefix(string(m), "latencyP")
	if !found || s == "" {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v <= 0 || v >= 100 || strings.ContainsAny(s, "+-eE") {
		return 0, false
	}
	return v / 100, true
}

// Known reports whether m is a metric rules can use.
func (m Metric) Known() bool {
	if _, ok := m.Quantile(); ok {
		return true
	}
	switch m {
	case MetricErrorRate, MetricRequestRate, MetricBurnRate:
		return true
	}
	return false
}

// Kind is the unit a threshold on m must be written in.
func (m Metric) Kind() QuantityKind {
	if _, ok := m.Quantile(); ok {
		return KindDuration
	}
	switch m {
	case MetricErrorRate:
		return KindPercent
	case MetricBurnRate:
		return KindMultiplier
	}
	return KindNumber
}

// Defaults used when a plan leaves a field empty.
const (
	DefaultInterval      = 30 * time.Second
	DefaultMinRequests   = 100
	DefaultDrain         = 5 * time.Minute
	DefaultActionTimeout = 5 * time.Minute
	DefaultObjective     = 0.999
	DefaultConfidence    = 0.99
	// DefaultThresholdConfidence is analysis.confidence: threshold rules'.
	DefaultThresholdConfidence = 0.95
	DefaultNamespace           = "default"
	// DefaultScaleDownDelay is strategy.blueGreen.scaleDownDelay's.
	DefaultScaleDownDelay = 5 * time.Minute
)
