package webauthn

import (
	"net"
	"net/url"
	"strings"
)

// checkRPID returns the RP ID to use for origin, as a browser decides it: the
// origin's host when rpID is empty, else rpID itself when it is the origin's
// host or a parent domain of it. Only secure contexts may call WebAuthn:
// https, or http on localhost.
func checkRPID(origin, rpID string) (string, error) {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		return "", &Error{Name: SecurityError, Message: "origin " + origin + " is not a valid origin"}
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLocalhost(host):
	default:
		return "", &Error{Name: SecurityError, Message: "origin " + origin + " is not a secure context"}
	}
	if rpID == "" {
		return host, nil
	}
	id := strings.ToLower(rpID)
	if id == host {
		return id, nil
	}
	// An IP address has no parent domains; a bare top-level label cannot be
	// an RP ID for a subdomain either.
	if net.ParseIP(host) == nil && strings.Contains(id, ".") && strings.HasSuffix(host, "."+id) {
		return id, nil
	}
	return "", &Error{Name: SecurityError, Message: "RP ID " + rpID + " is not a registrable domain suffix of " + host}
}

func isLocalhost(host string) bool {
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}
