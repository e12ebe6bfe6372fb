// Package egress is the owner's outbound policy for what plans make canary
// reach: one dialer for every request a plan causes under canary serve and
// canary operator (pre-checks, hooks, approval webhooks, metric addresses
// such as Prometheus, flag services, notification endpoints), and the
// addresses the built-in proxy may listen on.
//
// A Policy is checked on the IP address actually dialed (net.Dialer's
// Control runs after name resolution, just before connect), so a name
// that resolves to an allowed address at validation and to a metadata
// address later (DNS rebinding) is still refused. By default only the
// link-local and cloud metadata networks (Blocked) are refused; the owner
// adds allow and deny lists of networks and host names.
//
// The checks at apply time (CheckURL for proxy upstreams, Listen.Check for
// the proxy's listen address) resolve names once: they say early what the
// dialer would refuse, they do not replace it.
package egress
