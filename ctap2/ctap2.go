// Package ctap2 is the authenticator: it decodes CTAP2 requests, decides,
// asks the keystore and the user, and encodes the responses. It is
// transport-agnostic: Authenticator implements hid.Handler, and Go code can
// call it directly.
package ctap2

import (
	"context"
	"errors"
	"time"
)

// Clock tells the time; tests use a fake one to drive timeouts.
type Clock interface {
	Now() time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// PresenceRequest says what the user is asked to approve.
type PresenceRequest struct {
	Op   string // the CTAP operation, e.g. "makeCredential", "getAssertion", "reset", "selection"
	RPID string // the site, when there is one
	User string // the account name, when known
}

// Errors a Presence returns besides the context's own.
var (
	ErrDenied  = errors.New("user denied the request")
	ErrTimeout = errors.New("user did not answer in time")
)

// Presence asks the user to confirm that they are there (user presence).
type Presence interface {
	// Confirm returns nil when the user approves, ErrDenied when they refuse,
	// ErrTimeout when they do not answer, or ctx.Err() when the request is
	// cancelled (CTAPHID_CANCEL, the host went away).
	Confirm(ctx context.Context, req PresenceRequest) error
}

// PresenceFunc adapts a function to Presence.
type PresenceFunc func(ctx context.Context, req PresenceRequest) error

// Confirm calls f.
func (f PresenceFunc) Confirm(ctx context.Context, req PresenceRequest) error { return f(ctx, req) }
