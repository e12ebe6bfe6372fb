// Package kube holds the Kubernetes helpers canary's providers share: a
// client configuration from a kubeconfig file or the pod's service account
// (RESTConfig), a controller-runtime client that knows the core, apps and
// Gateway API v1 types (NewClient), and ReplicaRouter, a canary.TrafficRouter
// for plain Kubernetes without a gateway that approximates the canary weight
// by the share of pods behind one Service. TrafficObject is the part the
// Gateway API, Istio and NGINX Ingress routers share: bring one object to
// the state a call wants, write it only when it differs (retried on
// conflict), read it back and check it.
//
// Every router here is absolute and idempotent: it computes the desired
// state from the weight alone, writes only what differs, and reads the
// objects back to confirm before it returns.
package kube
