package web

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrForbidden is wrapped by the errors of an Authorizer when the token is
// valid but its role does not allow the request (403); any other error
// means no or a wrong token (401).
var ErrForbidden = errors.New("forbidden")

// Authorizer returns the API's token check for handlers mounted next to it
// (the flag service): it returns the token's name when its role allows
// need. insecure accepts every request as "anonymous", as Config.Insecure.
func Authorizer(tokens *Tokens, insecure bool) func(r *http.Request, need Role) (string, error) {
	if tokens == nil {
		tokens = &Tokens{}
	}
	s := &server{tokens: tokens, insecure: insecure && tokens.Len() == 0}
	return func(r *http.Request, need Role) (string, error) {
		name, err := s.authenticate(r, need)
		var se *statusError
		if errors.As(err, &se) && se.status == http.StatusForbidden {
			return "", fmt.Errorf("%w: %s", ErrForbidden, se.msg)
		}
		return name, err
	}
}
