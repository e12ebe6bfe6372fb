// Package sample provides configurable sample backends for `canary demo`
// and end-to-end tests: HTTP services that answer like a version of a real
// service, with a chosen latency distribution, a chosen share of 5xx
// answers, faults scheduled on a clock, and the runbook's staging
// endpoints (/elite/metrics, /elite/system-status) for pre-checks to call.
//
// A Service is an http.Handler; Start serves one on a loopback address.
// Every answer is drawn from one seeded random source, so a test that sends
// the same requests in the same order gets the same answers.
package sample
