// Package flags is canary's feature-flag service and its flag providers.
//
// A flag has three settable fields, as the runbook's flag API has them:
// enabled, rollout_percentage (0..100) and environment. Every change is
// recorded with its actor (the rollout or API token that made it) and a
// reason. Flags live in a Store: the SQLite store of `canary serve`
// (*store.Store) or an in-memory Memory for `canary run` and the demo.
//
// Evaluation is the proxy's sticky split: an enabled flag is on for a
// targeting key iff canary.Bucket(key) < rollout_percentage×100. So a user
// routed to the canary at weight w sees a flag at w% on, and a user who
// sees it on keeps seeing it on as the percentage grows.
//
// Handler serves two APIs over one Store:
//
//	GET  /feature-flags                     list the flags
//	GET  /feature-flags/{name}              one flag (?history=1 adds its changes)
//	GET  /feature-flags/{name}/history      the flag with its changes
//	POST /feature-flags/{name}              create or change, e.g. {"rollout_percentage": 10}
//	POST /ofrep/v1/evaluate/flags/{key}     OpenFeature remote evaluation (OFREP), one flag
//	POST /ofrep/v1/evaluate/flags           OFREP, every flag (ETag, If-None-Match → 304)
//	GET  /ofrep/v1/configuration            OFREP provider configuration
//
// The engine moves a flag through a canary.FlagSetter: Builtin writes the
// Store in-process; Client speaks the runbook's API to an external flag
// service and reads every change back, failing when it did not take
// effect. NewSetter picks one from a plan's featureFlag.
package flags
