package ctap2

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/ctap1"
	"github.com/vauth/vauth/ctap2/pinuv"
	"github.com/vauth/vauth/hid"
	"github.com/vauth/vauth/keystore"
)

// Defaults of the Config limits.
const (
	DefaultMaxMsgSize               = 7609 // the largest CTAPHID message (CTAP 2.1 §11.2.4)
	DefaultMaxCredentialCountInList = 16
	DefaultMaxDiscoverable          = 100000
)

// Config describes an authenticator. The zero value of every field but
// Keystore is usable.
type Config struct {
	// AAGUID identifies the authenticator model in attested credential data
	// and getInfo. The zero AAGUID is what "none" attestation usually
	// carries.
	AAGUID [16]byte
	// Keystore keeps the credentials and device state. Required.
	Keystore keystore.Keystore
	// Attester makes the attestation statement of new credentials; nil
	// means attestation.None().
	Attester attestation.Attester
	// Presence asks the user to confirm requests. Nil means nobody can be
	// asked: every request that needs user presence is denied.
	Presence Presence
	// UV is the built-in user verification method, used by
	// getPinUvAuthTokenUsingUvWithPermissions and the "uv" option: an
	// approval counts as a verified user, a refusal as a failed attempt
	// (uvRetries). Nil means there is none, and getInfo has no "uv" option.
	// `vauth run --uv always` approves everything (CI); --uv prompt asks on
	// the terminal.
	UV Presence
	// EnterpriseAttestation makes the authenticator enterprise attestation
	// capable: getInfo reports the "ep" option and authenticatorConfig's
	// enableEnterpriseAttestation turns it on.
	EnterpriseAttestation bool
	// EnterpriseAttester makes the statement of an enterprise attestation
	// (attestation.Enterprise), returned with epAtt true: for
	// platform-managed enterprise attestation (enterpriseAttestation 2) to
	// any RP, for vendor-facilitated (1) to the RPs of
	// EnterpriseAttestationRPIDs. Nil: such requests get the ordinary
	// statement.
	EnterpriseAttester attestation.Attester
	// EnterpriseAttestationRPIDs are the RP IDs that vendor-facilitated
	// enterprise attestation attests to.
	EnterpriseAttestationRPIDs []string
	// MinPINLengthRPIDs are the RP IDs that the minPinLength extension
	// tells the minimum PIN length, besides those authenticatorConfig's
	// setMinPINLength names.
	MinPINLengthRPIDs []string
	// MaxSerializedLargeBlobArray is the largest large-blob array stored,
	// reported in getInfo; 0 means DefaultMaxSerializedLargeBlobArray, and
	// CTAP 2.1 asks for at least MinSerializedLargeBlobArray.
	MaxSerializedLargeBlobArray int
	// Clock tells the time for the reset window and the getNextAssertion
	// timer; nil means SystemClock.
	Clock Clock
	// Logger receives a Debug record per command and Info records for
	// registrations, assertions and resets; nil discards them.
	Logger *slog.Logger
	// Algorithms are the COSE algorithms offered for new credentials, in
	// order of preference (getInfo lists them so); each must be one the
	// Keystore supports, listed once. Nil means all of the Keystore's, in
	// its order. Credentials of other algorithms the keystore holds keep
	// working: this only limits what makeCredential makes.
	Algorithms []int
	// MaxMsgSize is the largest request accepted and reported in getInfo;
	// 0 means DefaultMaxMsgSize.
	MaxMsgSize int
	// MaxCredentialCountInList is the longest allowList or excludeList
	// accepted, reported in getInfo; 0 means DefaultMaxCredentialCountInList,
	// or fewer when a list of that many of the keystore's longest credential
	// IDs would not fit in MaxMsgSize.
	MaxCredentialCountInList int
	// MaxDiscoverable caps the number of discoverable credentials; 0 means
	// DefaultMaxDiscoverable.
	MaxDiscoverable int
	// Transports are reported in getInfo; nil means ["usb"].
	Transports []string
	// FirmwareVersion is reported in getInfo when not 0.
	FirmwareVersion uint64
	// Observer, when set, is told of every credential registered, asserted
	// or deleted and of every reset (see Event); the control API streams
	// these to tests.
	Observer Observer
	// Faults, when set, holds failures that tests arm on purpose (see
	// FaultSettings); nil never fails on purpose.
	Faults *Faults
	// Profile is the generation of authenticator to behave as; the zero
	// value is ProfileCTAP21.
	Profile Profile
}

// Authenticator is a CTAP2 authenticator. It implements hid.Handler,
// hid.MsgHandler (U2F), hid.Winker and hid.CBORServer (see Profile), and
// runs one command at a time.
type Authenticator struct {
	aaguid                   [16]byte
	keystore                 keystore.Keystore
	attester                 attestation.Attester
	presence                 Presence
	clock                    Clock
	log                      *slog.Logger
	algorithms               []int
	maxMsgSize               int
	maxCredentialCountInList int
	maxDiscoverable          int
	transports               []string
	firmwareVersion          uint64
	uv                       Presence
	enterpriseAttestation    bool
	enterpriseAttester       attestation.Attester
	enterpriseRPIDs          []string
	minPINLengthRPIDs        []string
	// maxSerializedLargeBlobArray is the largest large-blob array stored.
	maxSerializedLargeBlobArray int
	observer                    Observer
	faults                      *Faults
	profile                     Profile
	// protocols are the PIN/UV auth protocols, in getInfo's order of
	// preference; each keeps its key-agreement key until a power cycle.
	protocols []pinuv.Protocol

	mu sync.Mutex // held while a command runs
	// powerUp is when New returned or PowerCycle ran: the start of the reset
	// window.
	powerUp time.Time
	// assertions is what authenticatorGetNextAssertion continues; nil when
	// there is nothing to continue.
	assertions *assertionState
	// u2f answers CTAPHID_MSG; made by the first one (see u2f.go).
	u2f *ctap1.Authenticator
	// enumeration is what the credential management "next" subcommands
	// continue; nil when there is nothing to continue.
	enumeration *enumeration
	// largeBlobWrite is the authenticatorLargeBlobs write in progress; nil
	// when there is none.
	largeBlobWrite *largeBlobWrite
	// pin is the persistent PIN and configuration state, as on disk.
	pin pinState
	// pinMismatches counts consecutive wrong PINs since power-up; at
	// pinuv.MaxConsecutivePINMismatches only a power cycle lets the platform
	// try again.
	pinMismatches int
	// token is the pinUvAuthToken and its state.
	token *pinuv.Token
	// legacyToken says that the token in use came from getPinToken, which
	// the CTAP 2.1 preview commands (0x41) accept for credential management.
	legacyToken bool
	// pinToken20 is the CTAP 2.0 profile's pinToken, made at power-up.
	pinToken20 []byte
}

var (
	_ hid.Handler    = (*Authenticator)(nil)
	_ hid.Winker     = (*Authenticator)(nil)
	_ hid.CBORServer = (*Authenticator)(nil)
)

// New makes an authenticator. The moment it returns counts as power-up for
// authenticatorReset's 10-second window.
func New(cfg Config) (*Authenticator, error) {
	if cfg.Keystore == nil {
		return nil, errors.New("ctap2: Config.Keystore is required")
	}
	a := &Authenticator{
		aaguid:                      cfg.AAGUID,
		keystore:                    cfg.Keystore,
		attester:                    cfg.Attester,
		presence:                    cfg.Presence,
		clock:                       cfg.Clock,
		log:                         cfg.Logger,
		algorithms:                  slices.Clone(cfg.Algorithms),
		maxMsgSize:                  orDefault(cfg.MaxMsgSize, DefaultMaxMsgSize),
		maxCredentialCountInList:    cfg.MaxCredentialCountInList,
		maxDiscoverable:             orDefault(cfg.MaxDiscoverable, DefaultMaxDiscoverable),
		transports:                  cfg.Transports,
		firmwareVersion:             cfg.FirmwareVersion,
		uv:                          cfg.UV,
		enterpriseAttestation:       cfg.EnterpriseAttestation,
		enterpriseAttester:          cfg.EnterpriseAttester,
		enterpriseRPIDs:             slices.Clone(cfg.EnterpriseAttestationRPIDs),
		minPINLengthRPIDs:           slices.Clone(cfg.MinPINLengthRPIDs),
		maxSerializedLargeBlobArray: orDefault(cfg.MaxSerializedLargeBlobArray, DefaultMaxSerializedLargeBlobArray),
		observer:                    cfg.Observer,
		faults:                      cfg.Faults,
		profile:                     cfg.Profile,
	}
	if int(a.profile) >= len(profileNames) {
		return nil, fmt.Errorf("ctap2: unknown %v", a.profile)
	}
	if a.maxCredentialCountInList == 0 {
		a.maxCredentialCountInList = fittingListLength(a.maxMsgSize, cfg.Keystore.MaxCredentialIDLength())
	}
	if a.attester == nil {
		a.attester = attestation.None()
	}
	if a.clock == nil {
		a.clock = SystemClock{}
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.transports == nil {
		a.transports = []string{"usb"}
	}
	if a.algorithms == nil {
		a.algorithms = cfg.Keystore.Algorithms()
	}
	if err := checkAlgorithms(cfg.Keystore, a.algorithms); err != nil {
		return nil, err
	}
	if a.maxMsgSize < 0 || a.maxCredentialCountInList < 0 || a.maxDiscoverable < 0 {
		return nil, errors.New("ctap2: negative limit in Config")
	}
	if a.maxSerializedLargeBlobArray < MinSerializedLargeBlobArray {
		return nil, fmt.Errorf("ctap2: MaxSerializedLargeBlobArray %d, less than %d", a.maxSerializedLargeBlobArray, MinSerializedLargeBlobArray)
	}
	if a.maxMsgSize <= largeBlobFragmentOverhead {
		return nil, fmt.Errorf("ctap2: MaxMsgSize %d leaves no room for a large-blob fragment", a.maxMsgSize)
	}
	var err error
	if a.pin, err = loadPINState(cfg.Keystore); err != nil {
		return nil, fmt.Errorf("ctap2: %w", err)
	}
	for _, version := range a.profile.pinUvAuthProtocolVersions() {
		p, err := pinuv.New(version)
		if err != nil {
			return nil, fmt.Errorf("ctap2: %w", err)
		}
		a.protocols = append(a.protocols, p)
	}
	a.token = pinuv.NewToken(a.clock)
	a.newPINToken20()
	a.powerUp = a.clock.Now()
	return a, nil
}

// PowerCycle does to the authenticator what unplugging and plugging it in
// again does: fresh key-agreement keys and pinUvAuthTokens (so every token
// issued before is void), the block after three consecutive wrong PINs
// lifted, pending getNextAssertion and credential enumerations dropped,
// and the 10-second window of authenticatorReset open again. Persistent
// state (PIN, retry counters, settings, credentials) is kept. The control
// API calls it; restarting the daemon is a power cycle too.
func (a *Authenticator) PowerCycle() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.assertions, a.enumeration, a.largeBlobWrite = nil, nil, nil
	a.pinMismatches = 0
	a.powerUp = a.clock.Now()
	a.resetPinUvAuthTokens()
	a.newPINToken20()
	for _, p := range a.protocols {
		if err := p.Regenerate(); err != nil {
			return fmt.Errorf("ctap2: power cycle: %w", err)
		}
	}
	return nil
}

// orDefault returns v, or def when v is zero.
func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// CTAP command bytes (CTAP 2.1 §6), named after the commands; exported so
// that the host side (ctap2/client) sends the numbers this side serves.
const (
	CmdMakeCredential              = 0x01
	CmdGetAssertion                = 0x02
	CmdGetInfo                     = 0x04
	CmdClientPIN                   = 0x06
	CmdReset                       = 0x07
	CmdGetNextAssertion            = 0x08
	CmdCredentialManagement        = 0x0A
	CmdSelection                   = 0x0B
	CmdLargeBlobs                  = 0x0C
	CmdConfig                      = 0x0D
	CmdCredentialManagementPreview = 0x41 // CTAP 2.1-PRE's number
)

// request is one command as a handler sees it.
type request struct {
	ctx       context.Context
	params    []byte        // the CBOR parameters, after the command byte
	keepalive hid.Keepalive // never nil
}

// command is an entry of the dispatch table. A handler returns the value
// to encode as the response's CBOR (nil for none) or an error whose status
// (see StatusError) is the answer.
type command struct {
	name   string
	handle func(a *Authenticator, r *request) (any, error)
}

// commands maps command bytes to their handlers; each lives in the file
// named after it.
var commands = map[byte]command{
	CmdMakeCredential:              {"authenticatorMakeCredential", (*Authenticator).makeCredential},
	CmdGetAssertion:                {"authenticatorGetAssertion", (*Authenticator).getAssertion},
	CmdGetInfo:                     {"authenticatorGetInfo", (*Authenticator).getInfo},
	CmdReset:                       {"authenticatorReset", (*Authenticator).reset},
	CmdGetNextAssertion:            {"authenticatorGetNextAssertion", (*Authenticator).getNextAssertion},
	CmdSelection:                   {"authenticatorSelection", (*Authenticator).selection},
	CmdClientPIN:                   {"authenticatorClientPIN", (*Authenticator).clientPIN},
	CmdCredentialManagement:        {"authenticatorCredentialManagement", (*Authenticator).credentialManagement},
	CmdCredentialManagementPreview: {"authenticatorCredentialManagement (preview)", (*Authenticator).credentialManagementPreview},
	CmdLargeBlobs:                  {"authenticatorLargeBlobs", (*Authenticator).largeBlobs},
	CmdConfig:                      {"authenticatorConfig", (*Authenticator).config},
}

// HandleCBOR answers a CTAPHID_CBOR message: the command byte and its CBOR
// parameters in, a status byte and the response's CBOR out. It never
// panics on any input.
func (a *Authenticator) HandleCBOR(ctx context.Context, req []byte, keepalive hid.Keepalive) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(req) == 0 {
		a.assertions = nil
		a.log.Debug("CTAP request without a command byte", "status", CTAP1ErrInvalidLength.String())
		return []byte{byte(CTAP1ErrInvalidLength)}
	}
	cmd := req[0]
	if cmd != CmdGetNextAssertion {
		// authenticatorGetNextAssertion continues only the command right
		// before it.
		a.assertions = nil
	}
	if cmd != CmdCredentialManagement && cmd != CmdCredentialManagementPreview {
		a.enumeration = nil // so do the enumerations of credential management
	}
	c, ok := commands[cmd]
	if !ok || !a.offers(cmd) {
		a.log.Debug("unknown CTAP command", "command", fmt.Sprintf("0x%02x", cmd), "status", CTAP1ErrInvalidCommand.String())
		return []byte{byte(CTAP1ErrInvalidCommand)}
	}
	// maxMsgSize counts the command byte, as a CTAPHID_CBOR message does.
	if len(req) > a.maxMsgSize {
		a.log.Debug("CTAP request too long", "command", c.name, "length", len(req), "status", CTAP1ErrInvalidLength.String())
		return []byte{byte(CTAP1ErrInvalidLength)}
	}
	if keepalive == nil {
		keepalive = func(byte) {}
	}
	if st, ok := a.faults.before(ctx, cmd); ok {
		a.log.Debug("CTAP command answered by an armed fault", "command", c.name, "status", st.String())
		return []byte{byte(st)}
	}
	resp, err := a.run(c, &request{ctx: ctx, params: req[1:], keepalive: keepalive})
	status := statusOf(err)
	switch {
	case status == CTAP1ErrOther:
		a.log.Error("CTAP command failed", "command", c.name, "status", status.String(), "err", err)
	case !a.log.Enabled(ctx, slog.LevelDebug): // spare the hot path the arguments
	case err == nil:
		a.log.Debug("CTAP command", "command", c.name, "status", status.String())
	default:
		a.log.Debug("CTAP command", "command", c.name, "status", status.String(), "err", err)
	}
	if err == nil {
		return resp
	}
	return []byte{byte(status)}
}

// run calls a handler and encodes its response after the CTAP2_OK status
// byte. A panic in the handler, the last line of defence against a bug,
// becomes CTAP1_ERR_OTHER with its stack in the log.
func (a *Authenticator) run(c command, r *request) (resp []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			a.log.Error("CTAP command panicked", "command", c.name, "panic", p, "stack", string(debug.Stack()))
			resp, err = nil, &StatusError{Status: CTAP1ErrOther, Err: fmt.Errorf("panic: %v", p)}
		}
	}()
	v, err := c.handle(a, r)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return []byte{byte(CTAP2OK)}, nil
	}
	// The status and the CBOR after it, in one buffer: an assertion's
	// response is some 250 bytes.
	buf := bytes.NewBuffer(append(make([]byte, 0, 320), byte(CTAP2OK)))
	if err := encMode.MarshalToBuffer(v, buf); err != nil {
		return nil, fmt.Errorf("encoding the %s response: %w", c.name, err)
	}
	return buf.Bytes(), nil
}

// Wink is CTAPHID_WINK: the host asks the device to show itself. There is
// no light to flash, so it is logged for the user to see.
func (a *Authenticator) Wink() {
	a.log.Info("wink: the host asks this authenticator to identify itself")
}

// logOutcome writes the Info record of an operation the user cares about:
// which site asked for what, and what was answered.
func (a *Authenticator) logOutcome(msg string, err error, attrs ...any) {
	attrs = append(attrs, "status", statusOf(err).String())
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	a.log.Info(msg, attrs...)
}

// fittingListLength is how many credential descriptors of idLen-byte IDs a
// request of maxMsgSize bytes can carry next to the rest of a request
// (clientDataHash, rp, user, algorithms: well under listReserve bytes), at
// most DefaultMaxCredentialCountInList and at least one. Platforms split
// their lists by the reported count, so reporting what fits keeps their
// requests within maxMsgSize.
func fittingListLength(maxMsgSize, idLen int) int {
	const (
		listReserve        = 400
		descriptorOverhead = 24 // {"id": bstr, "type": "public-key"} around the ID
	)
	n := (maxMsgSize - listReserve) / (idLen + descriptorOverhead)
	return min(max(n, 1), DefaultMaxCredentialCountInList)
}
