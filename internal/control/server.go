package control

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/ctap2/pinuv"
	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/keystore"
)

// Errors the operations return besides the authenticator's own; the HTTP
// layer maps them to status codes.
var (
	// ErrNotFound: no such credential (or no request waits for an answer).
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the request makes no sense (a bad key, policy, state).
	ErrInvalid = errors.New("invalid request")
	// ErrUnsupported: this authenticator cannot do it (import on a TPM
	// keystore, user verification on one without it).
	ErrUnsupported = errors.New("not supported by this authenticator")
)

// Server is a running authenticator with the control API's powers over
// it. Its methods are the API's operations; they are safe for concurrent
// use, and each runs between CTAP commands, never in the middle of one.
type Server struct {
	d        *daemon.Daemon
	aaguid   [16]byte
	presence *prompter
	uv       *prompter // nil without built-in user verification
	faults   *ctap2.Faults
	events   *hub
	now      func() time.Time
	metadata metadataSettings // what GET /v1/metadata/blob lists
}

// Open opens the authenticator that opts describe, as daemon.Open does,
// with the control API's hooks in place: its Presence and UV wrapped so
// that the API can set their policy and answer their requests, and its
// Observer and Faults set. Close closes it.
func Open(opts daemon.Options) (*Server, error) {
	if opts.Presence == nil {
		return nil, errors.New("control: Options.Presence is required")
	}
	s := &Server{faults: &ctap2.Faults{}, events: newHub(), now: time.Now, aaguid: opts.AAGUID}
	if s.aaguid == ([16]byte{}) {
		s.aaguid = attestation.DefaultAAGUID
	}
	b := newBoard()
	s.presence = &prompter{kind: KindPresence, inner: opts.Presence, board: b, now: s.now, policy: PolicyPrompt}
	opts.Presence = s.presence
	if opts.UV != nil {
		s.uv = &prompter{kind: KindUV, inner: opts.UV, board: b, now: s.now, policy: PolicyPrompt}
		opts.UV = s.uv
	}
	opts.Observer, opts.Faults = s.events.observe, s.faults
	d, err := daemon.Open(opts)
	if err != nil {
		return nil, err
	}
	s.d = d
	return s, nil
}

// Daemon returns the authenticator, to serve its device on a transport.
func (s *Server) Daemon() *daemon.Daemon { return s.d }

// Close closes the authenticator's store.
func (s *Server) Close() error { return s.d.Close() }

// Info describes the authenticator.
func (s *Server) Info() Info {
	return Info{
		AAGUID:              attestation.FormatAAGUID(s.aaguid),
		Keystore:            s.d.Keystore.Backend(),
		HasUserVerification: s.uv != nil,
		PIN:                 pinState(s.d.Authenticator.PINStatus()),
		Profile:             s.d.Authenticator.Profile().String(),
		Algorithms:          algorithmNames(s.d.Authenticator.Algorithms()),
		KeystoreAlgorithms:  algorithmNames(s.d.Keystore.Algorithms()),
	}
}

// AddCredential is WebDriver's Add Credential: it imports c (PrivateKey a
// PKCS#8 ECDSA, Ed25519 or RSA key; Algorithm, when set, the algorithm
// among those the key allows) and returns it with the ID the keystore gave
// it.
func (s *Server) AddCredential(c Credential) (Credential, error) {
	imp, ok := s.d.Keystore.(keystore.Importer)
	if !ok {
		return Credential{}, fmt.Errorf("%w: the %s keystore cannot import keys", ErrUnsupported, s.d.Keystore.Backend())
	}
	if c.RPID == "" {
		return Credential{}, fmt.Errorf("%w: rpId is required", ErrInvalid)
	}
	if c.IsResidentCredential && len(c.UserHandle) == 0 {
		return Credential{}, fmt.Errorf("%w: a resident credential needs a userHandle", ErrInvalid)
	}
	if c.CredProtect > 3 {
		return Credential{}, fmt.Errorf("%w: credProtect %d: want 1 to 3", ErrInvalid, c.CredProtect)
	}
	key, err := x509.ParsePKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		return Credential{}, fmt.Errorf("%w: privateKey is not a PKCS#8 private key: %v", ErrInvalid, err)
	}
	req := keystore.ImportRequest{
		RPID:         c.RPID,
		RPIDHash:     sha256.Sum256([]byte(c.RPID)),
		PrivateKey:   key,
		Algorithm:    c.Algorithm,
		Discoverable: c.IsResidentCredential,
		CredProtect:  c.CredProtect,
		SignCount:    c.SignCount,
	}
	if c.IsResidentCredential {
		req.User = keystore.User{ID: c.UserHandle, Name: c.UserName, DisplayName: c.UserDisplayName}
	}
	cred, err := imp.Import(req)
	switch {
	case errors.Is(err, keystore.ErrImportUnsupported):
		return Credential{}, fmt.Errorf("%w: %v", ErrUnsupported, err)
	case errors.Is(err, keystore.ErrUnsupportedAlgorithm), errors.Is(err, keystore.ErrInvalidLength):
		return Credential{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	case err != nil:
		return Credential{}, err
	}
	out, err := s.credential(cred)
	if err != nil {
		return Credential{}, err
	}
	out.RPID, out.SignCount = c.RPID, c.SignCount
	s.events.publish(Event{
		Type: EventAdded, Time: s.now(), RPID: c.RPID, CredentialID: cred.ID, IsResidentCredential: cred.Discoverable,
		UserHandle: cred.User.ID, UserName: cred.User.Name, SignCount: c.SignCount,
	})
	return out, nil
}

// credential describes a keystore credential.
func (s *Server) credential(c *keystore.Credential) (Credential, error) {
	publicKey, err := cose.Marshal(c.PublicKey, c.Algorithm)
	if err != nil {
		return Credential{}, fmt.Errorf("the public key of credential %s: %w", base64.RawURLEncoding.EncodeToString(c.ID), err)
	}
	out := Credential{
		CredentialID:         c.ID,
		IsResidentCredential: c.Discoverable,
		RPID:                 c.RPID,
		UserHandle:           c.User.ID,
		UserName:             c.User.Name,
		UserDisplayName:      c.User.DisplayName,
		Algorithm:            c.Algorithm,
		CredProtect:          c.CredProtect,
		PublicKey:            publicKey,
	}
	if !c.Created.IsZero() {
		created := c.Created.UTC()
		out.Created = &created
	}
	if u, ok := s.d.Keystore.(keystore.UsageReader); ok {
		if n, last, err := u.Usage(c.ID); err == nil {
			out.SignCount = n
			if !last.IsZero() {
				last = last.UTC()
				out.LastUsed = &last
			}
		}
	}
	return out, nil
}

// Credentials is WebDriver's Get Credentials: the discoverable
// credentials, newest first. Non-discoverable credentials live only in
// their IDs, which the relying party keeps, so they cannot be listed.
func (s *Server) Credentials() ([]Credential, error) {
	all, err := s.d.Keystore.All()
	if err != nil {
		return nil, err
	}
	out := make([]Credential, len(all))
	for i, c := range all {
		if out[i], err = s.credential(c); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// RemoveCredential is WebDriver's Remove Credential, for a discoverable
// credential.
func (s *Server) RemoveCredential(id []byte) error {
	err := s.d.Authenticator.DeleteCredential(id)
	if errors.Is(err, keystore.ErrNotFound) {
		return fmt.Errorf("%w: no discoverable credential with that ID", ErrNotFound)
	}
	return err
}

// UpdateUser renames the user of a discoverable credential as credential
// management's updateUserInformation does (the same code, so the same log
// record): the names u gives change, the user ID stays.
func (s *Server) UpdateUser(id []byte, u UpdateUser) error {
	if u.UserName == nil && u.UserDisplayName == nil {
		return fmt.Errorf("%w: give userName, userDisplayName or both", ErrInvalid)
	}
	err := s.d.Authenticator.UpdateUser(id, u.UserName, u.UserDisplayName)
	if errors.Is(err, keystore.ErrNotFound) {
		return fmt.Errorf("%w: no discoverable credential with that ID", ErrNotFound)
	}
	return err
}

// RemoveAllCredentials is WebDriver's Remove All Credentials: every
// discoverable credential goes; the PIN and settings stay (Reset erases
// everything).
func (s *Server) RemoveAllCredentials() error {
	all, err := s.d.Keystore.All()
	if err != nil {
		return err
	}
	for _, c := range all {
		if err := s.d.Authenticator.DeleteCredential(c.ID); err != nil && !errors.Is(err, keystore.ErrNotFound) {
			return err
		}
	}
	return nil
}

// SetUserVerified is WebDriver's Set User Verified: whether built-in user
// verification succeeds from now on (the uv policy approve or deny).
func (s *Server) SetUserVerified(verified bool) error {
	if s.uv == nil {
		return fmt.Errorf("%w: the authenticator has no built-in user verification (start it with --uv always or --uv prompt)", ErrUnsupported)
	}
	s.uv.SetPolicy(map[bool]Policy{true: PolicyApprove, false: PolicyDeny}[verified])
	return nil
}

// Presence returns the policies and the pending requests.
func (s *Server) Presence() PresenceState {
	st := PresenceState{Policy: s.presence.Policy(), Pending: s.presence.board.list()}
	if s.uv != nil {
		st.UVPolicy = s.uv.Policy()
	}
	return st
}

// SetPolicy sets how user presence (kind KindPresence or "") or built-in
// user verification (KindUV) requests are answered.
func (s *Server) SetPolicy(kind string, policy Policy) error {
	if _, err := ParsePolicy(string(policy)); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	switch kind {
	case "", KindPresence:
		s.presence.SetPolicy(policy)
	case KindUV:
		if s.uv == nil {
			return fmt.Errorf("%w: the authenticator has no built-in user verification", ErrUnsupported)
		}
		s.uv.SetPolicy(policy)
	default:
		return fmt.Errorf("%w: kind %q: want presence or uv", ErrInvalid, kind)
	}
	return nil
}

// Answer approves or denies a pending request: a.ID, or the oldest when
// 0, waiting up to a.Wait for one to arrive. It returns the request it
// answered.
func (s *Server) Answer(ctx context.Context, a Answer, approve bool) (PendingRequest, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(a.Wait))
	defer cancel()
	var answer error
	if !approve {
		answer = ctap2.ErrDenied
	}
	pr, err := s.presence.board.answer(ctx, a.ID, answer)
	if errors.Is(err, errNoPending) {
		return pr, fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	return pr, err
}

// PIN returns the PIN state.
func (s *Server) PIN() PINState { return pinState(s.d.Authenticator.PINStatus()) }

// SetPIN changes the PIN state.
func (s *Server) SetPIN(c PINChange) error {
	err := s.d.Authenticator.SetPINState(ctap2.PINChange{PIN: c.PIN, PINRetries: c.PINRetries, UVRetries: c.UVRetries, ForcePINChange: c.ForcePINChange})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

// ChangePIN changes the PIN given the current one, through
// authenticatorClientPIN (getKeyAgreement, changePIN) as a platform does,
// so CTAP's rules apply: a wrong current PIN costs a retry, three in a row
// need a power cycle, none left blocks the PIN. The authenticator's
// refusal is a *ctap2.StatusError.
func (s *Server) ChangePIN(ctx context.Context, currentPIN, newPIN string) error {
	if len(newPIN) > pinuv.MaxPINLength {
		return fmt.Errorf("%w: a PIN has at most %d bytes", ErrInvalid, pinuv.MaxPINLength)
	}
	return client.New(client.Direct(s.d.Authenticator)).ChangePIN(ctx, 0, currentPIN, newPIN)
}

// Reset erases the authenticator as authenticatorReset does, without
// asking the user or minding the 10 seconds after power-up.
func (s *Server) Reset() error { return s.d.Authenticator.Reset() }

// PowerCycle does what unplugging and plugging the key in again does.
func (s *Server) PowerCycle() error { return s.d.Authenticator.PowerCycle() }

// Faults returns the faults still armed.
func (s *Server) Faults() Faults { return faults(s.faults.Settings()) }

// SetFaults arms f, replacing what was armed.
func (s *Server) SetFaults(f Faults) error {
	settings, err := f.settings()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	s.faults.Set(settings)
	return nil
}

// Events returns the events after seq (at most limit when limit > 0),
// waiting up to wait for one when there is none yet, and the sequence
// number to ask after next.
func (s *Server) Events(ctx context.Context, seq uint64, limit int, wait time.Duration) Events {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	events, next := s.events.wait(ctx, seq, limit)
	if events == nil {
		events = []Event{}
	}
	return Events{Events: events, Next: next}
}
