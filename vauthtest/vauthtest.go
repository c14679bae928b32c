// Package vauthtest runs a vauth security key inside a Go test, for testing
// a WebAuthn relying party without a browser or a hardware key, in the
// spirit of net/http/httptest:
//
//	key := vauthtest.New(t)
//	client := key.Client("https://example.com")
//	resp, err := client.CreateJSON(ctx, optionsFromYourServer)
//
// The authenticator is the real one (CTAP2 through the CTAPHID framing, a
// temporary encrypted store), with presence approved automatically. Options
// choose its AAGUID, attestation, PIN and built-in user verification; its
// methods are the control API's: import, list and remove credentials, set
// whether user verification succeeds, script user presence, set the PIN
// state, reset, power-cycle, arm faults, and read the credential events.
package vauthtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/internal/control"
	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/internal/presence"
	"github.com/vauth/vauth/webauthn"
)

// The control API's types, under the names tests use.
type (
	// Credential is a credential to import or as listed (WebDriver's
	// Credential Parameters).
	Credential = control.Credential
	// Faults are failures to arm: a corrupt signature, cleared UP or UV
	// flags, a CTAP status for the next command, a delay.
	Faults = control.Faults
	// Event is a credential event: registered, asserted, deleted, reset or
	// added.
	Event = control.Event
	// Policy says how user presence is answered.
	Policy = control.Policy
	// PINState is the PIN and retry counters.
	PINState = control.PINState
	// PINChange changes the PIN state.
	PINChange = control.PINChange
	// PendingRequest is a request for user presence awaiting an answer.
	PendingRequest = control.PendingRequest
	// Duration is a time.Duration in the JSON of Faults.Delay.
	Duration = control.Duration
)

// The presence policies (SetPresence).
const (
	PresenceApprove = control.PolicyApprove // approve every request (the default)
	PresenceDeny    = control.PolicyDeny    // refuse every request
	PresenceWait    = control.PolicyWait    // hold requests until Answer
)

// Authenticator is a running security key with a temporary store.
type Authenticator struct {
	srv    *control.Server
	dir    string
	pin    string
	ctx    context.Context
	cancel context.CancelFunc
}

type settings struct {
	opts     daemon.Options
	pin      string
	faults   Faults
	presence Policy
}

// Option configures the authenticator New and Start make.
type Option func(*settings)

// WithAAGUID sets the AAGUID (default: vauth's).
func WithAAGUID(aaguid [16]byte) Option { return func(s *settings) { s.opts.AAGUID = aaguid } }

// WithAttestation sets the attestation: "none", "self" (packed self
// attestation) or "packed" (basic, with an x5c chain from vauth's CA; the
// default).
func WithAttestation(kind string) Option { return func(s *settings) { s.opts.Attestation = kind } }

// WithPIN sets a PIN, which the clients of Client then give when user
// verification is asked for, as a user types it into the browser.
func WithPIN(pin string) Option { return func(s *settings) { s.pin = pin } }

// WithUserVerification gives the authenticator built-in user verification
// (getInfo's "uv", like a fingerprint reader) that succeeds;
// SetUserVerified(false) makes it fail.
func WithUserVerification() Option {
	return func(s *settings) { s.opts.UV = presence.Always() }
}

// WithPresence sets how user presence is answered (default
// PresenceApprove).
func WithPresence(p Policy) Option { return func(s *settings) { s.presence = p } }

// WithAlgorithms restricts and orders the COSE algorithms offered for new
// credentials (keystore.ES256, keystore.RS256...; default: every one vauth
// makes, ES256 first), so that a relying party can test its fallback when
// its preferred algorithm is missing. An algorithm vauth cannot make fails
// New.
func WithAlgorithms(algs ...int) Option { return func(s *settings) { s.opts.Algorithms = algs } }

// WithFaults arms faults from the start.
func WithFaults(f Faults) Option { return func(s *settings) { s.faults = f } }

// WithProfile makes the authenticator behave as an older key, as
// WebDriver's protocol option does: ctap2.ProfileCTAP20 (a CTAP 2.0 key)
// or ctap2.ProfileU2F (a CTAP1/U2F-only key); the default is
// ctap2.ProfileCTAP21. docs/conformance.md lists what each serves.
func WithProfile(p ctap2.Profile) Option { return func(s *settings) { s.opts.Profile = p } }

// New starts an authenticator for the test and closes it when the test
// ends; it fails the test if the authenticator cannot start.
func New(t testing.TB, opts ...Option) *Authenticator {
	t.Helper()
	a, err := Start(opts...)
	if err != nil {
		t.Fatalf("vauthtest: %v", err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("vauthtest: %v", err)
		}
	})
	return a
}

// Start starts an authenticator outside a test (an Example, a TestMain);
// Close stops it and removes its store.
func Start(opts ...Option) (*Authenticator, error) {
	s := settings{presence: PresenceApprove}
	for _, o := range opts {
		o(&s)
	}
	dir, err := os.MkdirTemp("", "vauthtest-")
	if err != nil {
		return nil, err
	}
	s.opts.Store, s.opts.Keystore, s.opts.Presence = dir, daemon.BackendSoft, presence.Always()
	if s.opts.AAGUID == ([16]byte{}) {
		s.opts.AAGUID = attestation.DefaultAAGUID
	}
	srv, err := control.Open(s.opts)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	a := &Authenticator{srv: srv, dir: dir, pin: s.pin}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	err = srv.SetPolicy(control.KindPresence, s.presence)
	if err == nil && s.pin != "" {
		err = srv.SetPIN(PINChange{PIN: &s.pin})
	}
	if err == nil {
		err = srv.SetFaults(s.faults)
	}
	if err != nil {
		return nil, errors.Join(err, a.Close())
	}
	return a, nil
}

// Close stops the authenticator and removes its store.
func (a *Authenticator) Close() error {
	a.cancel()
	return errors.Join(a.srv.Close(), os.RemoveAll(a.dir))
}

// Client returns a WebAuthn client (the browser's part) for a page of
// origin, talking to the authenticator through CTAPHID on an in-memory
// pipe. It knows the PIN given WithPIN.
func (a *Authenticator) Client(origin string) *webauthn.Client {
	var ctap client.Authenticator
	hc, err := a.srv.Daemon().Connect(a.ctx)
	if err != nil { // only after Close: every ceremony fails with the reason
		ctap = unreachable{fmt.Errorf("vauthtest: connecting to the authenticator: %w", err)}
	} else {
		ctap = hc
	}
	c := webauthn.NewClient(ctap, origin)
	c.PIN = a.pin
	return c
}

// unreachable is an authenticator that cannot be reached.
type unreachable struct{ err error }

func (u unreachable) CBOR(context.Context, []byte, func(byte)) ([]byte, error) { return nil, u.err }

// AddCredential imports a credential whose PKCS#8 private key the test
// holds (WebDriver's Add Credential) and returns it with its ID.
func (a *Authenticator) AddCredential(c Credential) (Credential, error) {
	return a.srv.AddCredential(c)
}

// Credentials lists the discoverable credentials, newest first.
func (a *Authenticator) Credentials() ([]Credential, error) { return a.srv.Credentials() }

// RemoveCredential deletes a discoverable credential.
func (a *Authenticator) RemoveCredential(id []byte) error { return a.srv.RemoveCredential(id) }

// RemoveAllCredentials deletes every discoverable credential.
func (a *Authenticator) RemoveAllCredentials() error { return a.srv.RemoveAllCredentials() }

// SetUserVerified sets whether built-in user verification (see
// WithUserVerification) succeeds.
func (a *Authenticator) SetUserVerified(verified bool) error { return a.srv.SetUserVerified(verified) }

// SetPresence sets how user presence is answered.
func (a *Authenticator) SetPresence(p Policy) error { return a.srv.SetPolicy(control.KindPresence, p) }

// Pending lists the requests for user presence awaiting an answer.
func (a *Authenticator) Pending() []PendingRequest { return a.srv.Presence().Pending }

// Answer approves or denies the oldest request for user presence, waiting
// up to wait for one (with PresenceWait, a ceremony waits for it).
func (a *Authenticator) Answer(approve bool, wait time.Duration) (PendingRequest, error) {
	return a.srv.Answer(a.ctx, control.Answer{Wait: Duration(wait)}, approve)
}

// PIN returns the PIN state.
func (a *Authenticator) PIN() PINState { return a.srv.PIN() }

// Profile returns the profile the authenticator behaves as (WithProfile).
func (a *Authenticator) Profile() ctap2.Profile { return a.srv.Daemon().Authenticator.Profile() }

// SetPIN changes the PIN state. A new PIN is not given to clients made
// before; set their PIN field.
func (a *Authenticator) SetPIN(c PINChange) error { return a.srv.SetPIN(c) }

// SetFaults arms faults, replacing those armed.
func (a *Authenticator) SetFaults(f Faults) error { return a.srv.SetFaults(f) }

// Faults returns the faults still armed.
func (a *Authenticator) Faults() Faults { return a.srv.Faults() }

// Events returns the credential events so far, oldest first.
func (a *Authenticator) Events() []Event { return a.srv.Events(a.ctx, 0, 0, 0).Events }

// SetAlgorithms changes the algorithms offered for new credentials while
// the authenticator runs, as WithAlgorithms sets them; none offers every
// one vauth makes again. Credentials made before keep working.
func (a *Authenticator) SetAlgorithms(algs ...int) error {
	var names []string
	for _, alg := range algs {
		names = append(names, strconv.Itoa(alg))
	}
	return a.srv.SetAlgorithms(names)
}

// Reset erases every credential and the PIN, as authenticatorReset does.
func (a *Authenticator) Reset() error { return a.srv.Reset() }

// PowerCycle does what unplugging and plugging in the key again does.
func (a *Authenticator) PowerCycle() error { return a.srv.PowerCycle() }
