package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/canary-dev/canary"
)

// redactingHandler writes through h with credentials written in URLs
// redacted (canary.RedactURLCredentials) from the message and every
// attribute: serve's and the operator's log lines carry errors and
// outputs of plans, which are untrusted text.
type redactingHandler struct{ h slog.Handler }

// redactLogs wraps h in a redactingHandler.
func redactLogs(h slog.Handler) slog.Handler { return redactingHandler{h} }

func (r redactingHandler) Enabled(ctx context.Context, l slog.Level) bool { return r.h.Enabled(ctx, l) }

func (r redactingHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, canary.RedactURLCredentials(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return r.h.Handle(ctx, out)
}

func (r redactingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redactAttr(a)
	}
	return redactingHandler{r.h.WithAttrs(red)}
}

func (r redactingHandler) WithGroup(name string) slog.Handler {
	return redactingHandler{r.h.WithGroup(name)}
}

// redactAttr redacts a string, an error or a Stringer value (in groups
// too); other kinds cannot hold a URL and pass as they are.
func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(canary.RedactURLCredentials(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]slog.Attr, len(g))
		for i, ga := range g {
			red[i] = redactAttr(ga)
		}
		a.Value = slog.GroupValue(red...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			a.Value = slog.StringValue(canary.RedactURLCredentials(x.Error()))
		case fmt.Stringer:
			a.Value = slog.StringValue(canary.RedactURLCredentials(x.String()))
		}
	}
	return a
}
