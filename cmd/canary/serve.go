package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/canary-dev/canary"
	"github.com/canary-dev/canary/flags"
	"github.com/canary-dev/canary/manager"
	"github.com/canary-dev/canary/store"
	"github.com/canary-dev/canary/web"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
)

type serveFlags struct {
	listen     string
	state      string
	tokensFile string
	insecure   bool
	tlsCert    string
	tlsKey     string
	publicURL  string
	maxActive  int
	retention  time.Duration
	// notifyGrace is --notify-timeout: at shutdown, how long serve waits
	// for due notifications after its runners stopped.
	notifyGrace time.Duration
	rate        rateFlags        // serve_ratelimit.go
	policy      policyFlags      // policy.go
	apiSec      apiSecurityFlags // serve_security.go
	checkDB     string           // serve_corrupt.go
	logLevel    string
	wire        wireOptions
}

// defaultRetention is --retention's default: 30 days covers the reviews
// that read a finished rollout (its report, events and charts: the
// post-deployment review, an incident's postmortem, the comparison with
// the next release of a monthly cycle), and bounds the state database at
// about 30 days of rollouts (~85 KB per rollout-hour at a 15s interval).
const defaultRetention = 30 * 24 * time.Hour

// retentionFlag is --retention: a Go duration (720h, 90m), whole days
// (30d) or 0 (keep everything).
type retentionFlag struct{ d *time.Duration }

func (f retentionFlag) String() string {
	if f.d == nil {
		return ""
	}
	if *f.d%(24*time.Hour) == 0 && *f.d > 0 {
		return fmt.Sprintf("%dd", *f.d/(24*time.Hour))
	}
	return f.d.String()
}

func (f retentionFlag) Type() string { return "duration" }

func (f retentionFlag) Set(v string) error {
	d, err := parseRetention(v)
	if err != nil {
		return err
	}
	*f.d = d
	return nil
}

// parseRetention reads --retention's value.
func parseRetention(v string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n >= 0 && n <= 100*365 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return d, nil
	}
	return 0, fmt.Errorf("%q is not a retention: use days (30d), a duration (720h, 90m) or 0 to keep every rollout", v)
}

// defaultMaxRollouts is --max-rollouts' default: far more than a team runs
// at once, few enough that a runaway script applying plans in a loop
// cannot exhaust the machine's ports and memory.
const defaultMaxRollouts = 1000

// defaultStatePath is where canary keeps its state unless told otherwise.
func defaultStatePath(file string) string {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return file
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "canary", file)
}

func newServeCmd() *cobra.Command {
	f := serveFlags{listen: "127.0.0.1:7070", state: defaultStatePath("serve.db"), maxActive: defaultMaxRollouts,
		retention: defaultRetention, notifyGrace: defaultNotifyGrace}
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run many rollouts durably, with an HTTP API for kubectl-style controls",
		Long: `Serve runs every applied rollout, keeps their state and events in an
embedded SQLite database (--state), resumes them after a restart (a crash
loses nothing: each decision is saved before it is acted on), and serves
the JSON API that canary apply/get/describe/events/pause/resume/promote/
abort/retry/report talk to.

Tokens (name:role:secret per line, roles viewer and operator; secrets of
at least 32 base64url characters, from canary token create) come from
--tokens-file or the CANARY_TOKENS environment variable; SIGHUP reloads
them. Without any, serve refuses to start unless --insecure is given,
which is allowed only on a loopback --listen address (a machine only you
use).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return serve(c.Context(), f, c.ErrOrStderr()) },
	}
	c.Flags().StringVar(&f.listen, "listen", f.listen, "address of the API (loopback unless you say otherwise)")
	c.Flags().StringVar(&f.logLevel, "log-level", "info", "debug (adds every API request that read without trouble, e.g. the dashboard's polling), info, warn or error")
	c.Flags().StringVar(&f.state, "state", f.state, "the state database")
	c.Flags().StringVar(&f.tokensFile, "tokens-file", "", "file of name:role:secret lines (or CANARY_TOKENS)")
	c.Flags().BoolVar(&f.insecure, "insecure", false, "serve without tokens (refused unless --listen is a loopback address; single-user machines only)")
	c.Flags().StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate file (with --tls-key)")
	c.Flags().StringVar(&f.tlsKey, "tls-key", "", "TLS key file")
	addKubeFlags(c.Flags(), &f.wire)
	addRateLimitFlags(c.Flags(), &f.rate)
	addServePolicyFlags(c.Flags(), &f.policy)
	addAPISecurityFlags(c.Flags(), &f.apiSec)
	c.Flags().IntVar(&f.maxActive, "max-rollouts", f.maxActive,
		"most rollouts running at once; applying another is refused (409) until one finishes (0: no limit)")
	c.Flags().StringVar(&f.publicURL, "public-url", "", "base URL people reach this server at (links in notifications)")
	c.Flags().StringVar(&f.checkDB, "check-db", string(store.CheckQuick),
		"corruption check of --state at start: quick (what a restart reads), full (every page, seconds per GiB) or none")
	c.Flags().DurationVar(&f.notifyGrace, "notify-timeout", f.notifyGrace,
		"at shutdown, how long to wait for notifications due by then, after the rollouts stopped (0: do not wait)")
	c.Flags().Var(retentionFlag{&f.retention}, "retention",
		"delete finished rollouts (state, events, notifications) this long after they ended, e.g. 30d, 72h (0: keep everything)")
	c.AddCommand(newServeBackupCmd()) // serve_backup.go
	return c
}

// loadTokens reads the token file (errors by line) and CANARY_TOKENS.
func loadTokens(file string) (*web.Tokens, error) {
	var all *web.Tokens
	if file != "" {
		fh, err := os.Open(file)
		if err != nil {
			return nil, canary.Errorf(canary.EINVALID, "--tokens-file: %v", err)
		}
		defer fh.Close()
		if all, err = web.LoadTokens(fh); err != nil {
			return nil, canary.Errorf(canary.EINVALID, "--tokens-file %s: %v", file, err)
		}
	}
	if env := os.Getenv(web.EnvTokens); env != "" {
		t, err := web.ParseTokens(env)
		if err != nil {
			return nil, canary.Errorf(canary.EINVALID, "%s: %v", web.EnvTokens, err)
		}
		if all == nil {
			return t, nil
		}
		if all, err = all.Merge(t); err != nil {
			return nil, canary.Errorf(canary.EINVALID, "tokens: %v", err)
		}
	}
	return all, nil
}

func serve(ctx context.Context, f serveFlags, logw interface{ Write([]byte) (int, error) }) error {
	log, err := serveLogger(f.logLevel, logw)
	if err != nil {
		return err
	}
	tokens, check, err := f.prepare(log)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(f.state), 0o700); err != nil {
		return canary.Errorf(canary.EUNAVAILABLE, "--state: %v", err)
	}
	unlock, err := lockState(f.state)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := store.OpenConfig(ctx, store.Config{Path: f.state, Check: check})
	if errors.Is(err, store.ErrCorrupt) {
		return serveCorrupt(ctx, f, err, log)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	flagStore := flags.NewCache(st, 0, nil)
	f.wire.doors = newFrontDoors(st, log)
	defer f.wire.doors.closeAll()
	mgr, err := manager.New(manager.Config{Store: st, Logger: log, Registerer: reg, Outbox: outboxFor(st), MaxActive: f.maxActive,
		Retention: f.retention, Admit: f.wire.policy.admit, FrontDoors: f.wire.doors,
		Providers: func(ctx context.Context, p *canary.Plan) (manager.Providers, error) {
			return rolloutProviders(ctx, p, flagStore, f.wire)
		}})
	if err != nil {
		return err
	}
	mctx, stopRunners := context.WithCancel(ctx)
	// At shutdown: the runners stop (their last events and notifications
	// committed), then the due notifications are delivered for up to
	// --notify-timeout, then delivery stops; the store closes last.
	drain, err := startBackground(ctx, st, log, reg, f.wire.policy.notifyOptions(f.publicURL))
	if err != nil {
		stopRunners()
		return err
	}
	defer func() { stopRunners(); mgr.Wait(); drain(f.notifyGrace) }()
	if err := mgr.Start(mctx); err != nil {
		return err
	}
	if tokens == nil {
		tokens = &web.Tokens{}
	}
	h, err := serveHandler(f, mgr, flagStore, tokens, reg, log)
	if err != nil {
		return err
	}
	reloadTokensOnHUP(ctx, f.tokensFile, tokens, log)
	return listenAndServe(ctx, f, h, log)
}

// serveLogger is canary serve's log on w at level (--log-level), with
// credentials in URLs redacted.
func serveLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: use debug, info, warn or error", level)}
	}
	return slog.New(redactLogs(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))), nil
}

// serveHandler is what canary serve answers: the API on mgr with the flag
// service and the services' routes mounted, and the dashboard.
func serveHandler(f serveFlags, mgr *manager.Manager, flagStore flags.Store, tokens *web.Tokens, reg *prometheus.Registry, log *slog.Logger) (http.Handler, error) {
	fl, err := flagService(flagStore, tokens, f.insecure, log)
	if err != nil {
		return nil, err
	}
	api, err := web.New(f.apiSec.apply(f.rate.apply(web.Config{API: mgr, Tokens: tokens, Insecure: f.insecure, Registry: reg,
		Logger: log, Mount: withServiceRoutes(flagRoutes(fl), &servicesHandler{mgr: mgr, doors: f.wire.doors,
			auth: web.Authorizer(tokens, f.insecure), log: log})})))
	if err != nil {
		return nil, err
	}
	return withDashboard(api), nil
}

// prepare checks serve's flags, builds the owner's policy into f.wire and
// returns the API tokens (nil: none given) and the database check.
func (f *serveFlags) prepare(log *slog.Logger) (*web.Tokens, store.Check, error) {
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return nil, "", usageError{errors.New("--tls-cert and --tls-key go together")}
	}
	tokens, err := loadTokens(f.tokensFile)
	if err != nil {
		return nil, "", err
	}
	check, err := store.ParseCheck(f.checkDB)
	if err != nil {
		return nil, "", usageError{err}
	}
	if f.maxActive < 0 {
		return nil, "", usageError{fmt.Errorf("--max-rollouts %d: want 0 (no limit) or more", f.maxActive)}
	}
	if f.wire.policy, err = f.policy.build(); err != nil {
		return nil, "", err
	}
	if tokens == nil && !f.insecure {
		return nil, "", usageError{errors.New("no API tokens: give --tokens-file or CANARY_TOKENS (name:role:secret lines), or --insecure on a loopback address")}
	}
	if err := checkListenSecurity(*f, tokens, log); err != nil {
		return nil, "", err
	}
	return tokens, check, nil
}

// listenAndServe serves h until ctx ends, then shuts down gracefully.
func listenAndServe(ctx context.Context, f serveFlags, h http.Handler, log *slog.Logger) error {
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return canary.Errorf(canary.EUNAVAILABLE, "--listen %s: %v", f.listen, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 120 * time.Second,
		MaxHeaderBytes: 64 << 10}
	scheme := "http"
	if f.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return canary.Errorf(canary.EINVALID, "--tls-cert/--tls-key: %v", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme = "https"
	}
	url := fmt.Sprintf("%s://%s", scheme, ln.Addr())
	log.Info("canary serve listening", "url", url, "state", f.state)
	log.Info("dashboard at "+url+"/: sign in with a token's secret (the third field of a line of the tokens file; canary token create makes one)",
		"dashboard", url+"/")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	}
}

// rolloutProviders builds one served rollout's providers from its plan.
func rolloutProviders(ctx context.Context, p *canary.Plan, fs flags.Store, opt wireOptions) (manager.Providers, error) {
	opt.flagStore = fs
	pv, err := wire(ctx, p, opt)
	if err != nil {
		return manager.Providers{}, err
	}
	return manager.Providers{Router: pv.Router, Metrics: pv.Metrics, Flags: pv.Flags, Checks: pv.Checks, Close: pv.Close}, nil
}
