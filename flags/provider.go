package flags

import (
	"context"

	"net/http"

	"github.com/canary-dev/canary"
)

// Provider names of a plan's featureFlag.provider.
const (
	ProviderBuiltin = "builtin"
	ProviderHTTP    = "http"
)

// SetterConfig is what NewSetter needs besides the plan's featureFlag.
type SetterConfig struct {
	// Rollout names the rollout ("namespace/name"): the builtin provider
	// records "rollout <Rollout>" as the actor of its changes, the http
	// provider puts it in the reason it sends.
	Rollout string
	// Store is the builtin provider's store: the SQLite store under
	// `canary serve` (so the flag service serves what the rollout sets),
	// a Memory under `canary run`. Required for builtin.
	Store Store
	// HTTPClient is the http provider's client. Default: see ClientConfig.
	HTTPClient *http.Client
	// Secrets reads the http provider's token. Default: see ClientConfig.
	Secrets SecretResolver
}

// NewSetter returns the flag provider a plan's featureFlag names: builtin
// (the default) or http. An unknown provider is an error (code invalid),
// never a fallback. ctx bounds the http provider's first token read.
func NewSetter(ctx context.Context, ff *canary.FeatureFlag, cfg SetterConfig) (canary.FlagSetter, error) {
	if ff == nil {
		return nil, canary.Errorf(canary.EINVALID, "the plan has no featureFlag")
	}
	switch ff.Provider {
	case "", ProviderBuiltin:
		if cfg.Store == nil {
			return nil, canary.Errorf(canary.EINTERNAL, "builtin flag provider: no flag store was given")
		}
		actor := MemoryActor
		if cfg.Rollout != "" {
			actor = "rollout " + cfg.Rollout
		}
		return &Builtin{Store: cfg.Store, Actor: actor, Environment: ff.Environment}, nil
	case ProviderHTTP:
		return NewClient(ctx, ClientConfig{URL: ff.URL, Token: ff.Token, Environment: ff.Environment,
			Rollout: cfg.Rollout, HTTPClient: cfg.HTTPClient, Secrets: cfg.Secrets})
	}
	return nil, canary.Errorf(canary.EINVALID, "featureFlag.provider %q is not a flag provider: write builtin or http", ff.Provider)
}
