package webauthn

import (
	"errors"
	"testing"
)

// TestCheckRPID is the browser's table: which RP IDs an origin may claim
// (WebAuthn §5.1.3, HTML's registrable domain suffix with the public
// suffix list), and which origins may use WebAuthn at all. Every refusal is
// the SecurityError a page would see.
func TestCheckRPID(t *testing.T) {
	for _, tc := range []struct {
		name, origin, rpID, want string // want "" means SecurityError
	}{
		{"no RP ID: the origin's host", "https://example.com", "", "example.com"},
		{"RP ID equals the host", "https://example.com", "example.com", "example.com"},
		{"parent domain", "https://login.example.com", "example.com", "example.com"},
		{"grandparent domain", "https://a.b.example.com", "example.com", "example.com"},
		{"intermediate parent", "https://a.b.example.com", "b.example.com", "b.example.com"},
		{"port is not part of the RP ID", "https://login.example.com:8443", "example.com", "example.com"},
		{"case does not matter", "https://EXAMPLE.com", "Example.COM", "example.com"},
		{"parent under a multi-label public suffix", "https://shop.example.co.uk", "example.co.uk", "example.co.uk"},
		{"private-registry site", "https://alice.github.io", "alice.github.io", "alice.github.io"},
		{"localhost over http", "http://localhost:8080", "localhost", "localhost"},
		{"localhost, no RP ID", "http://localhost", "", "localhost"},
		{"subdomain of localhost over http", "http://app.localhost", "", "app.localhost"},
		{"localhost over https", "https://localhost:8443", "localhost", "localhost"},
		{"punycode host", "https://xn--bcher-kva.example", "", "xn--bcher-kva.example"},

		{"http is not a secure context", "http://example.com", "example.com", ""},
		{"http on a localhost look-alike", "http://localhost.example.com", "", ""},
		{"a subdomain is not a suffix", "https://example.com", "login.example.com", ""},
		{"a sibling is not a suffix", "https://login.example.com", "shop.example.com", ""},
		{"suffix, not a parent domain", "https://badexample.com", "example.com", ""},
		{"top-level domain", "https://example.com", "com", ""},
		{"public suffix co.uk", "https://example.co.uk", "co.uk", ""},
		{"uk, a parent of the public suffix", "https://example.co.uk", "uk", ""},
		{"private public suffix github.io", "https://alice.github.io", "github.io", ""},
		{"another site under github.io", "https://alice.github.io", "bob.github.io", ""},
		{"IPv4 origin", "https://192.0.2.1", "", ""},
		{"IPv4 RP ID", "https://192.0.2.1", "192.0.2.1", ""},
		{"IPv4 parent", "https://192.0.2.1", "0.2.1", ""},
		{"IPv6 origin", "https://[2001:db8::1]", "", ""},
		{"loopback IP over http", "http://127.0.0.1:8080", "", ""},
		{"RP ID with a port", "https://example.com", "example.com:443", ""},
		{"RP ID with a scheme", "https://example.com", "https://example.com", ""},
		{"RP ID with an empty label", "https://example.com", ".example.com", ""},
		{"RP ID with a space", "https://example.com", "exa mple.com", ""},
		{"unicode RP ID", "https://xn--bcher-kva.example", "bücher.example", ""},
		{"origin with a path", "https://example.com/path", "", ""},
		{"origin with a query", "https://example.com?q=1", "", ""},
		{"origin with credentials", "https://user@example.com", "", ""},
		{"no scheme", "example.com", "", ""},
		{"ftp", "ftp://example.com", "", ""},
		{"file", "file:///etc/passwd", "", ""},
		{"opaque origin", "null", "", ""},
		{"empty origin", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := checkRPID(tc.origin, tc.rpID)
			if tc.want == "" {
				var we *Error
				if !errors.As(err, &we) || we.Name != SecurityError {
					t.Fatalf("checkRPID(%q, %q) = %q, %v; want a SecurityError", tc.origin, tc.rpID, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("checkRPID(%q, %q) = %q, %v; want %q", tc.origin, tc.rpID, got, err, tc.want)
			}
		})
	}
}
