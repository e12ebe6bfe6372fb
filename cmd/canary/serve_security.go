package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/canary-dev/canary/web"
	"github.com/spf13/pflag"
)

// apiSecurityFlags are canary serve's flags about who may reach the API:
// --metrics-public (and the checks of --insecure and --listen below).
type apiSecurityFlags struct {
	metricsPublic bool
}

// addAPISecurityFlags registers --metrics-public.
func addAPISecurityFlags(fs *pflag.FlagSet, f *apiSecurityFlags) {
	fs.BoolVar(&f.metricsPublic, "metrics-public", false,
		"serve the API's /metrics without a token (by default it needs a viewer token: it names rollouts)")
}

// apply sets the API's /metrics access in cfg.
func (f apiSecurityFlags) apply(cfg web.Config) web.Config {
	cfg.MetricsPublic = f.metricsPublic
	return cfg
}

// checkListenSecurity refuses --insecure on an address other machines can
// reach (every peer would be an anonymous operator), and warns when
// tokens would cross the network in clear text: plain HTTP on a
// non-loopback address.
func checkListenSecurity(f serveFlags, tokens *web.Tokens, log *slog.Logger) error {
	loopback := isLoopbackListen(f.listen)
	if f.insecure && !loopback {
		return usageError{fmt.Errorf("--insecure is allowed only on a loopback address (127.0.0.1, ::1, localhost), "+
			"not --listen %s: on it every peer would be an anonymous operator; give tokens instead "+
			"(--tokens-file or %s; `canary token create` makes a secret)", f.listen, web.EnvTokens)}
	}
	if !loopback && tokens.Len() > 0 && f.tlsCert == "" {
		log.Warn("plain HTTP on a non-loopback address: API tokens, plans and events cross the network in clear text; "+
			"give --tls-cert and --tls-key, or put a TLS-terminating proxy in front and listen on 127.0.0.1",
			"listen", f.listen)
	}
	return nil
}

// isLoopbackListen reports whether a listen address (host:port) accepts
// connections from this machine only: a loopback IP or "localhost". An
// empty host, 0.0.0.0 and :: listen on every interface.
func isLoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// reloadTokensOnHUP replaces the API's tokens with the tokens file's (and
// CANARY_TOKENS') on every SIGHUP until ctx ends. The new set is read and
// checked whole first: a file that cannot be read, has a bad line or no
// token at all keeps the tokens in use and logs why.
func reloadTokensOnHUP(ctx context.Context, file string, tokens *web.Tokens, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		watchTokens(ctx, hup, file, tokens, log)
	}()
}

// watchTokens reloads tokens at each value of sig (see reloadTokensOnHUP).
func watchTokens(ctx context.Context, sig <-chan os.Signal, file string, tokens *web.Tokens, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sig:
		}
		if file == "" {
			log.Warn("SIGHUP: no --tokens-file to reload; the tokens are unchanged", "tokens", tokens)
			continue
		}
		next, err := loadTokens(file)
		if err == nil && next.Len() == 0 {
			err = errors.New("the file has no token")
		}
		if err != nil {
			log.Error("SIGHUP: tokens not reloaded; the previous tokens stay in use", "file", file, "err", err, "tokens", tokens)
			continue
		}
		tokens.Replace(next)
		log.Info("SIGHUP: tokens reloaded", "file", file, "tokens", next)
	}
}
