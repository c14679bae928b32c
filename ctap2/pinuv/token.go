package pinuv

import (
	"crypto/rand"
	"sync"
	"time"
)

// Clock tells the time; tests use a fake one to drive the usage timer. It
// has the shape of ctap2.Clock.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Permission is a set of pinUvAuthToken permissions (§6.5.5.7), the bits of
// the permissions parameter of getPinUvAuthTokenUsing….
type Permission uint

// The pinUvAuthToken permissions.
const (
	PermissionMC   Permission = 0x01 // mc: authenticatorMakeCredential
	PermissionGA   Permission = 0x02 // ga: authenticatorGetAssertion
	PermissionCM   Permission = 0x04 // cm: authenticatorCredentialManagement
	PermissionBE   Permission = 0x08 // be: authenticatorBioEnrollment
	PermissionLBW  Permission = 0x10 // lbw: authenticatorLargeBlobs writes
	PermissionACFG Permission = 0x20 // acfg: authenticatorConfig
	// PermissionPCMR (pcmr, CTAP 2.2) asks for the persistent
	// pinUvAuthToken: read-only credential management that outlives power
	// cycles (ctap2's persistent_token.go).
	PermissionPCMR Permission = 0x40
)

// Time limits of the pinUvAuthToken usage timer (§6.5.2.1).
const (
	// InitialUsageTimeLimit is how long a fresh pinUvAuthToken stays in use
	// if the platform does not use it: the spec's maximum for USB, the
	// transport this authenticator presents.
	InitialUsageTimeLimit = 30 * time.Second
	// UserPresentTimeLimit is how long the user counts as present after
	// user presence was collected; it defaults to the initial usage time
	// limit.
	UserPresentTimeLimit = InitialUsageTimeLimit
	// MaxUsageTimePeriod is how long a pinUvAuthToken stays in use at most,
	// however often it is used (the spec's 10-minute default).
	MaxUsageTimePeriod = 10 * time.Minute
)

// Token is the authenticator's pinUvAuthToken and its state (§6.5.2.1): one
// random token per protocol and one state that they share. The usage timer
// is observed lazily, whenever the state is read, which gives the answers
// of the spec's pinUvAuthTokenUsageTimerObserver(). Safe for concurrent
// use.
type Token struct {
	clock Clock

	mu     sync.Mutex
	values map[int][]byte // pinUvAuthToken per pinUvAuthProtocol number

	permissions     Permission
	permissionsRPID string
	hasRPID         bool
	usageTimer      time.Time // when the usage timer started; it runs while inUse
	inUse           bool
	used            bool // the platform used the token in an operation
	userVerified    bool
	userPresent     bool
}

// NewToken returns the state at power-up: fresh tokens for both protocols,
// not in use. A nil clock means the system clock.
func NewToken(clock Clock) *Token {
	if clock == nil {
		clock = systemClock{}
	}
	t := &Token{clock: clock}
	t.ResetPinUvAuthToken()
	return t
}

// ResetPinUvAuthToken generates a fresh pinUvAuthToken for every protocol,
// which invalidates the old ones, and returns the state to its initial
// values (a fresh token is not in use). Call it where the spec calls
// resetPinUvAuthToken() for all protocols: setPIN, changePIN and before
// issuing a token.
func (t *Token) ResetPinUvAuthToken() {
	values := make(map[int][]byte, 2)
	for _, v := range []int{ProtocolOneVersion, ProtocolTwoVersion} {
		values[v] = make([]byte, PinUvAuthTokenLength)
		rand.Read(values[v])
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.values = values
	t.stop()
}

// Value returns the current pinUvAuthToken of protocol p, to be sent to the
// platform as p.Encrypt(sharedSecret, Value(p)); nil for an unknown protocol.
func (t *Token) Value(p Protocol) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.values[p.Version()]
	if !ok {
		return nil
	}
	return append([]byte(nil), v...)
}

// Verify checks a pinUvAuthParam made with the pinUvAuthToken of protocol p
// (the spec's verify(pinUvAuthToken, message, signature)): it fails when
// the token is not in use. Success counts as the platform using the token,
// which keeps it in use past the initial usage time limit.
func (t *Token) Verify(p Protocol, message, signature []byte) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.observe()
	v, ok := t.values[p.Version()]
	if !ok || !t.inUse || !p.Verify(v, message, signature) {
		return false
	}
	t.used = true
	return true
}

// BeginUsingPinUvAuthToken puts the token in use after the user was
// verified: it sets the userPresent flag to userIsPresent and the
// userVerified flag, and starts the usage timer.
func (t *Token) BeginUsingPinUvAuthToken(userIsPresent bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.userPresent = userIsPresent
	t.userVerified = true
	t.usageTimer = t.clock.Now()
	t.inUse = true
	t.used = false
}

// StopUsingPinUvAuthToken returns the state to its initial values: not in
// use, no permissions, no permissions RP ID, flags cleared. The token value
// itself is kept.
func (t *Token) StopUsingPinUvAuthToken() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stop()
}

func (t *Token) stop() {
	t.permissions = 0
	t.permissionsRPID, t.hasRPID = "", false
	t.usageTimer = time.Time{}
	t.inUse = false
	t.used = false
	t.userVerified = false
	t.userPresent = false
}

// observe is pinUvAuthTokenUsageTimerObserver() without a rolling timer,
// run at the current time. The caller holds t.mu.
func (t *Token) observe() {
	if !t.inUse {
		return
	}
	elapsed := t.clock.Now().Sub(t.usageTimer)
	if elapsed >= MaxUsageTimePeriod {
		t.stop()
		return
	}
	if elapsed >= UserPresentTimeLimit {
		t.userPresent = false
	}
	if elapsed >= InitialUsageTimeLimit && !t.used {
		t.stop()
	}
}

// InUse reports whether the pinUvAuthToken is in use: begun and neither
// stopped nor timed out.
func (t *Token) InUse() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.observe()
	return t.inUse
}

// SetPermissions grants the token permissions and, when rpID is not empty,
// sets its permissions RP ID, as getPinUvAuthTokenUsing… does after
// BeginUsingPinUvAuthToken.
func (t *Token) SetPermissions(permissions Permission, rpID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.permissions = permissions
	if rpID != "" {
		t.permissionsRPID, t.hasRPID = rpID, true
	}
}

// HasPermission reports whether the token is in use and holds every
// permission in p.
func (t *Token) HasPermission(p Permission) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.observe()
	return t.inUse && p != 0 && t.permissions&p == p
}

// PermissionsRPID returns the token's permissions RP ID, if it has one and
// is in use.
func (t *Token) PermissionsRPID() (rpID string, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.observe()
	if !t.inUse || !t.hasRPID {
		return "", false
	}
	return t.permissionsRPID, true
}

// AssociatePermissionsRPID is the RP check of makeCredential and
// getAssertion: a token in use without a permissions RP ID gets rpID as its
// permissions RP ID; it reports false when the token is not in use or is
// bound to another RP ID.
func (t *Token) AssociatePermissionsRPID(rpID string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.observe()
	if !t.inUse {
		return false
	}
	if !t.hasRPID {
		t.permissionsRPID, t.hasRPID = rpID, true
		return true
	}
	return t.permissionsRPID == rpID
}

// GetUserPresentFlagValue returns the userPresent flag while the token is
// in use, and false otherwise.
func (t *Token) GetUserPresentFlagValue() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.observe()
	return t.inUse && t.userPresent
}

// GetUserVerifiedFlagValue returns the userVerified flag while the token is
// in use, and false otherwise.
func (t *Token) GetUserVerifiedFlagValue() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.observe()
	return t.inUse && t.userVerified
}

// ClearUserPresentFlag clears the userPresent flag of a token in use, so
// that the next operation collects user presence again.
func (t *Token) ClearUserPresentFlag() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.observe()
	if t.inUse {
		t.userPresent = false
	}
}

// ClearUserVerifiedFlag clears the userVerified flag of a token in use, so
// that it cannot vouch for user verification twice.
func (t *Token) ClearUserVerifiedFlag() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.observe()
	if t.inUse {
		t.userVerified = false
	}
}

// ClearPinUvAuthTokenPermissionsExceptLbw drops every permission of a token
// in use except lbw, as makeCredential and getAssertion do after using it.
func (t *Token) ClearPinUvAuthTokenPermissionsExceptLbw() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.observe()
	if t.inUse {
		t.permissions &= PermissionLBW
	}
}
