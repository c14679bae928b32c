// Package ctap1 answers U2F (CTAP1) requests, the ISO 7816-4 APDUs that
// CTAPHID_MSG carries: U2F_REGISTER, U2F_AUTHENTICATE and U2F_VERSION (FIDO
// U2F Raw Message Formats; CTAP 2.1 §11). A U2F registration is a
// non-discoverable ES256 credential of the keystore bound to the
// application parameter, so CTAP2 authenticatorGetAssertion can use it too
// (CTAP 2.1 §6.2, §10.3), and U2F can use the CTAP2 credentials that U2F
// could have made. ctap2.Authenticator serves CTAPHID_MSG through this
// package.
package ctap1

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/keystore"
)

// Instructions (INS) of U2F (FIDO U2F Raw Message Formats §4 to §6).
const (
	InsRegister     = 0x01
	InsAuthenticate = 0x02
	InsVersion      = 0x03
)

// Control bytes, the P1 of U2F_AUTHENTICATE (FIDO U2F Raw Message Formats
// §5.1).
const (
	AuthEnforceUserPresence     = 0x03 // enforce-user-presence-and-sign
	AuthCheckOnly               = 0x07 // check-only: is the key handle this authenticator's, for this application?
	AuthDontEnforceUserPresence = 0x08 // dont-enforce-user-presence-and-sign
)

// Version is the U2F protocol version that U2F_VERSION answers and CTAP2
// authenticatorGetInfo lists.
const Version = "U2F_V2"

// Presence asks the user to approve a U2F request: ins is InsRegister or
// InsAuthenticate and application the request's application parameter
// (the SHA-256 of the AppID or RP ID, which cannot be shown by name). It
// returns nil when the user approves, and an error when they refuse, do
// not answer, or ctx ends.
type Presence func(ctx context.Context, ins byte, application [32]byte) error

// Config describes a U2F authenticator.
type Config struct {
	// Keystore keeps the credentials. Required.
	Keystore keystore.Keystore
	// Attester signs registrations with the U2F attestation key. Required.
	Attester *attestation.U2FAttester
	// Presence asks the user; nil means nobody can be asked, so every
	// request that needs user presence stays SW_CONDITIONS_NOT_SATISFIED.
	Presence Presence
	// Logger receives a Debug record per request and Info records for
	// registrations and authentications; nil discards them.
	Logger *slog.Logger
}

// Defaults of the polling of user presence; see userPresence.
const (
	// presenceWait is how long a request waits for the user's answer before
	// it answers SW_CONDITIONS_NOT_SATISFIED: long enough for a Presence
	// that answers at once (CI), short enough for a polling host.
	presenceWait = 250 * time.Millisecond
	// abandonAfter is how long after the host's last poll an open question
	// to the user is withdrawn, and a refusal or an unspent approval
	// forgotten.
	abandonAfter = 3 * time.Second
)

// Authenticator answers U2F requests. It is safe for concurrent use.
type Authenticator struct {
	keystore keystore.Keystore
	attester *attestation.U2FAttester
	presence Presence
	log      *slog.Logger

	presenceWait time.Duration
	abandonAfter time.Duration

	mu     sync.Mutex
	prompt *prompt // the question to the user the host polls for; nil when none
}

// New makes a U2F authenticator.
func New(cfg Config) (*Authenticator, error) {
	if cfg.Keystore == nil || cfg.Attester == nil {
		return nil, errors.New("ctap1: Config.Keystore and Config.Attester are required")
	}
	a := &Authenticator{
		keystore:     cfg.Keystore,
		attester:     cfg.Attester,
		presence:     cfg.Presence,
		log:          cfg.Logger,
		presenceWait: presenceWait,
		abandonAfter: abandonAfter,
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	return a, nil
}

// instruction is an entry of the dispatch table.
type instruction struct {
	name   string
	handle func(a *Authenticator, ctx context.Context, c command) ([]byte, error)
}

// instructions maps INS bytes to their handlers; each lives in the file
// named after it.
var instructions = map[byte]instruction{
	InsRegister:     {"U2F_REGISTER", (*Authenticator).register},
	InsAuthenticate: {"U2F_AUTHENTICATE", (*Authenticator).authenticate},
	InsVersion:      {"U2F_VERSION", (*Authenticator).version},
}

// Handle answers a request APDU with a response APDU: the response data
// followed by the status word. ctx is the request's (CTAPHID_CANCEL, the
// host going away). It never panics on any input.
func (a *Authenticator) Handle(ctx context.Context, apdu []byte) []byte {
	c, err := parseCommand(apdu)
	if err != nil {
		a.log.Debug("U2F request", "status", statusWordOf(err).String(), "err", err)
		return statusWordOf(err).Response()
	}
	ins, ok := instructions[c.ins]
	if !ok {
		a.log.Debug("unknown U2F instruction", "ins", fmt.Sprintf("0x%02x", c.ins), "status", SWINSNotSupported.String())
		return SWINSNotSupported.Response()
	}
	data, err := a.run(ctx, ins, c)
	sw := statusWordOf(err)
	switch {
	case sw == SWNoPreciseDiagnosis:
		a.log.Error("U2F request failed", "ins", ins.name, "status", sw.String(), "err", err)
	case err == nil:
		a.log.Debug("U2F request", "ins", ins.name, "status", sw.String())
	default:
		a.log.Debug("U2F request", "ins", ins.name, "status", sw.String(), "err", err)
	}
	if err != nil {
		return sw.Response()
	}
	return append(data, sw.Response()...)
}

// run calls a handler. A panic, the last line of defence against a bug,
// becomes SW_NO_PRECISE_DIAGNOSIS with its stack in the log.
func (a *Authenticator) run(ctx context.Context, ins instruction, c command) (data []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			a.log.Error("U2F request panicked", "ins", ins.name, "panic", p, "stack", string(debug.Stack()))
			data, err = nil, fmt.Errorf("panic: %v", p)
		}
	}()
	return ins.handle(a, ctx, c)
}

// logOutcome writes the Info record of an operation the user cares about,
// unless it is one more SW_CONDITIONS_NOT_SATISFIED of a polling host.
func (a *Authenticator) logOutcome(msg string, err error, application [32]byte, attrs ...any) {
	sw := statusWordOf(err)
	if sw == SWConditionsNotSatisfied {
		return
	}
	attrs = append(attrs, "application", fmt.Sprintf("%x", application), "status", sw.String())
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	a.log.Info(msg, attrs...)
}
