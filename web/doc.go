// Package web is the JSON API of `canary serve`: apply plans, list and
// read rollouts and their events (paged, or live as server-sent events),
// control them, and read their post-deployment reports. New builds the
// handler on a api.API; it holds no state of its own.
//
// # Routes
//
//	method  path                                               role      success
//	POST    /api/v1/rollouts[?force=true]                      operator  201 ApplyResult (created), 200 (unchanged or updated)
//	GET     /api/v1/rollouts[?phase=P&limit=N]                 viewer    200 {"items":[Rollout...]}
//	GET     /api/v1/rollouts/{namespace}/{name}                viewer    200 Rollout
//	DELETE  /api/v1/rollouts/{namespace}/{name}                operator  200 DeleteResult (every generation, or {name}@GEN only; finished only, else 409)
//	GET     /api/v1/rollouts/{namespace}/{name}/events[?after=N&limit=M]
//	                                                           viewer    200 {"items":[Event...],"next":N}
//	GET     /api/v1/rollouts/{namespace}/{name}/events/stream  viewer    200 text/event-stream
//	POST    /api/v1/rollouts/{namespace}/{name}/pause          operator  200 Rollout
//	POST    /api/v1/rollouts/{namespace}/{name}/resume         operator  200 Rollout
//	POST    /api/v1/rollouts/{namespace}/{name}/promote        operator  200 Rollout ({"full":true}: straight to 100%)
//	POST    /api/v1/rollouts/{namespace}/{name}/approve        operator  200 Rollout
//	POST    /api/v1/rollouts/{namespace}/{name}/abort          operator  200 Rollout ({"immediate":true}: immediate rollback)
//	POST    /api/v1/rollouts/{namespace}/{name}/retry          operator  200 Rollout
//	GET     /api/v1/rollouts/{namespace}/{name}/report[?format=json]
//	                                                           viewer    200 text/markdown (json: report.Data)
//	GET     /api/v1/rollouts/{namespace}/{name}/notifications[?status=S&limit=N]
//	                                                           viewer    200 NotificationPage
//	GET     /api/v1/whoami                                     viewer    200 Whoami {"name","role"}
//	GET     /healthz                                           none      200 while the process serves
//	GET     /readyz                                            none      200 when the manager is ready, else 503
//	GET     /metrics                                           viewer    Prometheus exposition of Config.Registry (none with MetricsPublic)
//
// The plan of POST /api/v1/rollouts is the body, YAML or JSON (at most
// Config.MaxBody, default 1 MiB; Content-Type absent, application/yaml,
// application/x-yaml, text/yaml, text/plain, application/json, or
// curl's default application/x-www-form-urlencoded, read as the plan). Applying
// the same plan again is a no-op (200, "unchanged": true). The control
// routes take an optional JSON body {"full":bool,"immediate":bool,
// "reason":string} (ControlBody); unknown fields, "full" on anything but
// promote and "immediate" on anything but abort are 400. ?limit= is 1 to
// 1000; ?after= is the last Seq already seen (0: from the start); a page's
// "next" is the ?after= of the next page. Rollouts are named by
// namespace and name, each a DNS label (1 to 63 of a-z, 0-9, '-'); any
// other name, including an encoded slash (%2F), dots or a 10,000-character
// one, is 400 before the manager is called, so no name can reach the store
// as a path. A path with empty, . or .. segments (//, /./, /../) is 400,
// not redirected to its cleaned form as ServeMux would: a request never
// lands on a route other than the one sent. A 403 quotes the request as
// sent (POST /api/v1/rollouts/default/web/pause needs role operator).
// {name} may end in "@GEN" (a whole number from 1) to name one generation
// of the rollout ("web@2"): the reads, the report and DELETE then see
// that generation; without it they see the latest and DELETE removes
// every generation. The control routes act on the latest only (an older
// @GEN is 409). /metrics counts requests by route pattern and status,
// never by raw path.
//
// The notifications route reads the rollout's notification outbox: counts
// by status over all of them, then the newest ?limit= (1 to 1000, default
// 100) that pass ?status= (pending, claimed, delivered, dead, or failed:
// retried or given up), newest first, and "more": how many older ones
// were left out. Each has its key, audience, channel, event type,
// status, attempts, last error (as the deliverer recorded it, scrubbed of
// secrets) and times (api.Notification). Whoami names the request's
// token and its role, never the secret; the dashboard asks it to know
// which controls to show.
//
// The event stream sends each event as `id: SEQ`, `event: TYPE` and
// `data: JSON` lines, resumes after the Last-Event-ID header (or ?after=),
// sends a `: keep-alive` comment every Config.KeepAlive while idle and
// ends when the client goes away. Event numbers belong to one generation
// of a rollout: when a plan with a new spec.version is applied under the
// same name, the stream sends `event: generation` (data: Generation) at
// its next wake-up (new events or keep-alive) and ends; reopen it with
// ?after=0. At most Config.MaxStreams are open at once, and at most
// Config.MaxStreamsPerToken (32) per token, or per client IP when
// Insecure (503 beyond, naming the token and the limit), so one token
// cannot take every slot.
//
// # Errors
//
// Every error is one JSON shape, ErrorBody:
//
//	{"error":{"code":"invalid","message":"the plan is invalid: 2 problems",
//	          "details":["plan:7:3: spec.steps[1].weight: ...", "..."]}}
//
// and the status comes from one function (writeError): code invalid is
// 400, not_found 404, conflict 409 (a control that does not apply in the
// rollout's phase, deleting an active rollout), unavailable 503, internal
// 500 (an error that is not a *canary.Error is logged and answered with a
// generic message). An invalid plan (plan.ErrorList) is 400 with one
// detail per problem, exactly as `canary validate` prints them. A missing
// or unknown token is 401 with code unauthenticated and a WWW-Authenticate:
// Bearer header; a token whose role is too low is 403 with code forbidden,
// naming the role needed. A body over the limit is 413, an unaccepted
// Content-Type 415, a wrong method 405 with Allow, all with code invalid.
// A request over the rate limit is 429 with code rate_limited and a
// Retry-After header (whole seconds).
//
// # Rate limit
//
// With Config.RateLimit (`canary serve --rate-limit`, default 20 a second
// with bursts of --rate-burst 40), each token has a token bucket: RateBurst
// requests at once, refilled at RateLimit a second. Requests without a
// valid token (401s included, so guessing tokens is slow) and every
// request of an Insecure server share a bucket per client IP
// (RemoteAddr: behind a reverse proxy, one bucket for all). Handlers of
// Config.Mount (the flag API and OFREP under `canary serve`) spend the
// same buckets. An event stream counts once, when it opens, not per event;
// /healthz, /readyz and a MetricsPublic /metrics are never limited. Refusals are counted by token name in
// canary_http_rate_limited_total ("(none)" for the per-IP buckets). One
// dashboard page load makes about 5 requests.
//
// # Security
//
// Tokens (LoadTokens, ParseTokens; `name:role:secret` lines) have a role:
// viewer reads, operator also applies, controls and deletes. A secret is
// MinTokenLength (32) to 512 characters of the base64url alphabet
// (NewSecret makes one); Tokens.Replace swaps the whole set while the
// server runs (`canary serve` on SIGHUP). A secret is
// kept only as its SHA-256 and compared with every token in constant
// time; no token, header or body is ever logged. The token's name is the
// audit actor: engine.Command.Actor of controls and the actor of Apply.
// New refuses to build a handler without tokens unless Config.Insecure is
// set (every request is then an operator called "anonymous"). TLS, the
// listen address (127.0.0.1 by default) and server timeouts belong to the
// http.Server of `canary serve`; the handler clears the write deadline of
// event streams itself. A panic in a handler is a 500 and is logged; the
// server stays up.
package web
