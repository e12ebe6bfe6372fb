package web

import (
	"context"
	"net/http"
	"strings"
)

// anonymous is the actor of requests served with Insecure.
const anonymous = "anonymous"

// reqInfo is what the middleware learns about a request as it goes.
type reqInfo struct {
	route string
	actor string
	role  Role // the token's role, once authenticated
}

type infoKey struct{}

func withInfo(ctx context.Context, info *reqInfo) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

// routeOf is the request's route pattern, for logs.
func routeOf(r *http.Request) string {
	if info, ok := r.Context().Value(infoKey{}).(*reqInfo); ok {
		return info.route
	}
	return r.Pattern
}

// requestLine is the request's method and path as the client sent them
// (not the route template), cut to a readable length.
func requestLine(r *http.Request) string {
	return truncate(r.Method, 16) + " " + truncate(r.URL.EscapedPath(), 200)
}

// authenticate returns the name of the request's token when its role
// allows need ("": anyone, no token needed); with the forbidden error, the
// name of the token whose role is too low. The token is read from
// "Authorization: Bearer SECRET" and never logged or echoed.
func (s *server) authenticate(r *http.Request, need Role) (string, error) {
	if need == "" {
		return "", nil
	}
	if s.insecure {
		noteRole(r, RoleOperator)
		return anonymous, nil
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", unauthenticated("this request needs a bearer token: send \"Authorization: Bearer TOKEN\" "+
			"(canary --token or CANARY_TOKEN)", `Bearer realm="canary"`)
	}
	scheme, secret, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
		return "", unauthenticated("the Authorization header must be \"Bearer TOKEN\"",
			`Bearer realm="canary", error="invalid_request"`)
	}
	name, role, ok := s.tokens.lookup(strings.TrimSpace(secret))
	if !ok {
		return "", unauthenticated("the bearer token is not one this server accepts",
			`Bearer realm="canary", error="invalid_token"`)
	}
	if !role.allows(need) {
		return name, forbidden("token " + name + " has role " + string(role) + "; " + requestLine(r) +
			" needs role " + string(need))
	}
	noteRole(r, role)
	return name, nil
}

// noteRole records the authenticated token's role for the handler
// (whoami).
func noteRole(r *http.Request, role Role) {
	if info, ok := r.Context().Value(infoKey{}).(*reqInfo); ok {
		info.role = role
	}
}
