package canary

import (
	"regexp"
	"strings"
)

// urlInText finds URLs with a scheme in free text: up to a space, a quote,
// a backslash (a JSON escape) or an angle bracket.
var urlInText = regexp.MustCompile("[A-Za-z][A-Za-z0-9+.-]*://[^\\s\"'`<>\\\\]+")

// credentialParams are query parameters whose value is a credential,
// compared in lower case with - and _ removed.
var credentialParams = map[string]bool{
	"apikey": true, "key": true, "token": true, "accesstoken": true, "authtoken": true, "idtoken": true,
	"refreshtoken": true, "password": true, "passwd": true, "pass": true, "pwd": true, "secret": true,
	"clientsecret": true, "auth": true, "authorization": true, "signature": true, "sig": true,
	"credential": true, "credentials": true, "session": true, "sessionid": true, "code": true,
	"privatekey": true, "xapikey": true, "ddapikey": true, "routingkey": true, "webhooksecret": true,
}

// RedactURLCredentials returns text with the credentials written in its
// URLs replaced by "redacted": the password of http://user:pass@host (the
// whole user part when it has no password but looks like a token,
// https://TOKEN@host) and the values of query parameters named like a
// credential (api_key, apikey, token, access_token, password, secret,
// signature, key, … in any case, with - or _). Everything else is left as
// it was, so the URL still says where it points. It is applied to every
// API response, event, log line and report: plans, errors and outputs are
// untrusted text that may carry such URLs.
func RedactURLCredentials(text string) string {
	if !strings.Contains(text, "://") {
		return text
	}
	return urlInText.ReplaceAllStringFunc(text, redactURL)
}

// redactURL redacts one URL found in text (see RedactURLCredentials). It
// works on the text itself rather than a parsed URL, so that an odd URL
// is redacted too and a clean one comes out byte for byte.
func redactURL(u string) string {
	scheme, rest, _ := strings.Cut(u, "://")
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		user, _, hasPass := strings.Cut(authority[:at], ":")
		switch {
		case hasPass:
			authority = user + ":redacted" + authority[at:]
		case user != "":
			authority = "redacted" + authority[at:]
		}
	}
	path, query, hasQuery := strings.Cut(tail, "?")
	if !hasQuery {
		return scheme + "://" + authority + tail
	}
	query, frag, hasFrag := strings.Cut(query, "#")
	params := strings.Split(query, "&")
	for i, p := range params {
		name, _, hasValue := strings.Cut(p, "=")
		if hasValue && credentialParams[strings.NewReplacer("-", "", "_", "").Replace(strings.ToLower(name))] {
			params[i] = name + "=redacted"
		}
	}
	out := scheme + "://" + authority + path + "?" + strings.Join(params, "&")
	if hasFrag {
		out += "#" + frag
	}
	return out
}

// RedactEventURLs applies RedactURLCredentials to the free text of events
// (message, rule, error), in place: what the engine records from checks,
// hooks, providers and commands never keeps a credential written in a URL.
func RedactEventURLs(events []Event) {
	for i := range events {
		ev := &events[i]
		ev.Message = RedactURLCredentials(ev.Message)
		ev.Rule = RedactURLCredentials(ev.Rule)
		ev.Error = RedactURLCredentials(ev.Error)
	}
}
