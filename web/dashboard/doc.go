// Package dashboard is the web dashboard of `canary serve`: a page listing
// the rollouts, a page per rollout to watch a release live, and a printable
// post-deployment report. New returns the handler that serves the pages and
// their assets, and hands every other request (the JSON API, /healthz,
// /metrics) to Config.Next.
//
// # Pages
//
//	GET /                                        the rollouts (filter by phase)
//	GET /rollouts/{namespace}/{name}             one rollout, live
//	GET /rollouts/{namespace}/{name}/report      its post-deployment report, printable
//	GET /assets/{file}                           the page's script, style and icon
//
// Every page is the same HTML shell; the script reads the path and builds
// the page from the JSON API in the browser. Nothing is rendered on the
// server, so the pages hold no rollout data and need no token to load.
//
// # Invariants
//
//   - Self-contained: the assets are embedded in the binary (embed.FS) and
//     the pages request nothing but this server: no CDN, no font, no
//     framework. The Content-Security-Policy of every page (default-src
//     'none', scripts, styles and connections from 'self' only) makes the
//     browser enforce it.
//   - The API decides: the dashboard holds no state and no secret. The
//     browser asks for an API token once, keeps it in sessionStorage (this
//     tab only) and sends it as "Authorization: Bearer" with fetch; the
//     event stream is read with fetch and a ReadableStream for the same
//     reason (EventSource cannot send a header). The API's roles apply
//     unchanged: the page learns the token's name and role from GET
//     /api/v1/whoami; a viewer sees the pages without the controls, an
//     operator gets the controls, each asking for confirmation.
//   - Live without reloading: a rollout's page follows its event stream
//     (resuming after the last event seen) and re-reads the rollout after
//     each batch of events; the evaluated events' Evaluations are the
//     charts' points (Value: the canary, or the service for burnRate;
//     Stable: the stable track), with each rule's threshold drawn. Its
//     notifications (GET .../notifications, the newest 50) are read again
//     a second after a batch of events, and, while one is queued, being
//     sent or waiting for a retry, once more when it is due: no polling
//     otherwise.
//   - No markup from data: every text from the API is set as text
//     (textContent), never parsed as HTML; the report's Markdown is
//     rendered by the dashboard's own small renderer into DOM nodes.
package dashboard
