package webauthn

import (
	"net"
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// checkRPID returns the RP ID to use for origin, as a browser decides it
// (WebAuthn §5.1.3 steps 7-8, §5.1.4.1 steps 6-7): the origin must be a
// secure context (https, or http on localhost), its effective domain a
// valid domain (not an IP address); an empty rpID is that domain, else
// rpID must equal it or be a registrable domain suffix of it (HTML's
// "is a registrable domain suffix of or is equal to"): a parent domain
// that is not a public suffix, such as "co.uk" or "github.io".
func checkRPID(origin, rpID string) (string, error) {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		return "", securityError("origin " + origin + " is not a valid origin")
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLocalhost(host):
	default:
		return "", securityError("origin " + origin + " is not a secure context")
	}
	if !validDomain(host) {
		return "", securityError("the effective domain of " + origin + " is not a valid domain")
	}
	if rpID == "" {
		return host, nil
	}
	id := strings.ToLower(rpID)
	if !validDomain(id) {
		return "", securityError("RP ID " + rpID + " is not a valid domain")
	}
	if id == host || isRegistrableSuffix(id, host) {
		return id, nil
	}
	return "", securityError("RP ID " + rpID + " is not a registrable domain suffix of " + host)
}

// isRegistrableSuffix is HTML's "is a registrable domain suffix of" for a
// suffix other than host itself: a parent domain of host that is not a
// public suffix, nor a parent of host's public suffix.
func isRegistrableSuffix(suffix, host string) bool {
	if !strings.HasSuffix(host, "."+suffix) {
		return false
	}
	if ps, _ := publicsuffix.PublicSuffix(suffix); ps == suffix {
		return false
	}
	ps, _ := publicsuffix.PublicSuffix(host)
	return !strings.HasSuffix(ps, "."+suffix) && ps != suffix
}

// validDomain tells whether s is a domain a browser would take as an
// effective domain or RP ID: dot-separated labels of letters, digits and
// hyphens, not an IP address.
func validDomain(s string) bool {
	if s == "" || len(s) > 253 || net.ParseIP(strings.Trim(s, "[]")) != nil {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

func isLocalhost(host string) bool {
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

func securityError(msg string) error { return &Error{Name: SecurityError, Message: msg} }
