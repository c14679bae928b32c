package ctap2_test

// The PIN/UV, credential management and config tests drive the
// authenticator as a platform does, through ctap2/client (in process, no
// framing), with a real soft keystore, a fake clock and scripted answers
// for user presence and built-in user verification.

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/ctap2/pinuv"
	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/soft"
)

// Command bytes the tests send raw.
const (
	cmdMakeCredential     = 0x01
	cmdGetAssertion       = 0x02
	cmdClientPIN          = 0x06
	cmdReset              = 0x07
	cmdCredMgmt           = 0x0A
	cmdConfig             = 0x0D
	cmdCredMgmtPreview    = 0x41
	subCmdGetKeyAgreement = 0x02
)

// clock is a Clock that moves only when told to.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// answers is a scripted Presence: it answers with the queued errors in
// order (nil approves), then approves, and counts what it was asked.
type answers struct {
	mu    sync.Mutex
	queue []error
	asked []ctap2.PresenceRequest
}

func (a *answers) Confirm(_ context.Context, req ctap2.PresenceRequest) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.asked = append(a.asked, req)
	if len(a.queue) == 0 {
		return nil
	}
	err := a.queue[0]
	a.queue = a.queue[1:]
	return err
}

// then queues answers.
func (a *answers) then(errs ...error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.queue = append(a.queue, errs...)
}

// count returns how many times it was asked since the last count.
func (a *answers) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := len(a.asked)
	a.asked = nil
	return n
}

// device is an authenticator under test with its client.
type device struct {
	t        testing.TB
	dir      string
	store    *soft.Store
	clock    *clock
	presence *answers
	uv       *answers // nil: no built-in user verification
	ea       bool     // enterprise attestation capable
	listing  bool     // hide the keystore's optional indexes
	config   []func(*ctap2.Config)
	a        *ctap2.Authenticator
	c        *client.Client
}

// option configures a device.
type option func(*device)

// withUV gives the device built-in user verification.
func withUV(d *device) { d.uv = &answers{} }

// withEA makes the device enterprise attestation capable.
func withEA(d *device) { d.ea = true }

// withConfig changes the device's Config.
func withConfig(f func(*ctap2.Config)) option {
	return func(d *device) { d.config = append(d.config, f) }
}

// withoutIndexes hides the keystore's optional indexes
// (keystore.DiscoverableCounter and the like), so that the authenticator
// takes the way a backend without them needs: listing every credential.
func withoutIndexes(d *device) { d.listing = true }

// listingOnly is a keystore with the Keystore methods alone.
type listingOnly struct{ keystore.Keystore }

func newDevice(t testing.TB, opts ...option) *device {
	t.Helper()
	d := &device{t: t, dir: t.TempDir(), clock: &clock{now: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)}, presence: &answers{}}
	for _, o := range opts {
		o(d)
	}
	d.open()
	return d
}

// open opens the store and starts the authenticator: power-up.
func (d *device) open() {
	d.t.Helper()
	store, err := soft.Open(d.dir, soft.Options{Now: d.clock.Now})
	if err != nil {
		d.t.Fatal(err)
	}
	d.store = store
	d.t.Cleanup(func() { store.Close() })
	var ks keystore.Keystore = store
	if d.listing {
		ks = listingOnly{store}
	}
	cfg := ctap2.Config{Keystore: ks, Attester: attestation.Self(), Presence: d.presence, Clock: d.clock, EnterpriseAttestation: d.ea}
	if d.uv != nil {
		cfg.UV = d.uv
	}
	for _, f := range d.config {
		f(&cfg)
	}
	if d.a, err = ctap2.New(cfg); err != nil {
		d.t.Fatal(err)
	}
	d.c = newClient(d.a)
}

// newClient is a platform talking to a in process.
func newClient(a *ctap2.Authenticator) *client.Client { return client.New(client.Direct(a)) }

// cm is credential management with tok.
func (d *device) cm(tok *client.Token) *client.CredentialManagement {
	return &client.CredentialManagement{Client: d.c, Token: tok}
}

// restart closes the store and opens it again, as a daemon restart does.
func (d *device) restart() {
	d.t.Helper()
	if err := d.store.Close(); err != nil {
		d.t.Fatal(err)
	}
	d.open()
}

// statusOf is the CTAP status of a client call's error.
func statusOf(err error) ctap2.Status {
	if err == nil {
		return ctap2.CTAP2OK
	}
	var se *ctap2.StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	return ctap2.CTAP1ErrOther
}

// want fails the test unless err carries status s.
func want(t *testing.T, what string, err error, s ctap2.Status) {
	t.Helper()
	if got := statusOf(err); got != s {
		t.Fatalf("%s: %v (%v), want %v", what, got, err, s)
	}
}

// raw sends a command with params as they are and returns the status and
// the response.
func (d *device) raw(cmd byte, params any) (ctap2.Status, map[int]cbor.RawMessage) {
	d.t.Helper()
	var resp map[int]cbor.RawMessage
	err := d.c.Call(d.t.Context(), cmd, params, &resp)
	return statusOf(err), resp
}

// info returns getInfo.
func (d *device) info() *client.Info {
	d.t.Helper()
	inf, err := d.c.GetInfo(d.t.Context())
	if err != nil {
		d.t.Fatal(err)
	}
	return inf
}

// token gets a pinUvAuthToken with the PIN.
func (d *device) token(version int, pin string, permissions pinuv.Permission, rpID string) *client.Token {
	d.t.Helper()
	tok, err := d.c.GetPinUvAuthTokenUsingPIN(d.t.Context(), version, pin, permissions, rpID)
	if err != nil {
		d.t.Fatalf("token with PIN: %v", err)
	}
	return tok
}

var testClientDataHash = sha256.Sum256([]byte("client data"))

// mcRequest is a makeCredential request for rpID and user; with tok, it
// carries the pinUvAuthParam.
func mcRequest(rpID, user string, rk bool, tok *client.Token) *client.MakeCredentialRequest {
	req := &client.MakeCredentialRequest{
		ClientDataHash:   testClientDataHash[:],
		RP:               client.RPEntity{ID: rpID, Name: rpID},
		User:             client.UserEntity{ID: []byte(user), Name: user, DisplayName: "User " + user},
		PubKeyCredParams: []client.Algorithm{{Type: "public-key", Alg: keystore.ES256}},
	}
	if rk {
		req.Options = map[string]bool{"rk": true}
	}
	if tok != nil {
		req.PinUvAuthParam = tok.Param(req.ClientDataHash)
		req.PinUvAuthProto = tok.ProtocolVersion()
	}
	return req
}

// gaRequest is a getAssertion request for rpID; with tok, it carries the
// pinUvAuthParam.
func gaRequest(rpID string, tok *client.Token, allow ...[]byte) *client.GetAssertionRequest {
	req := &client.GetAssertionRequest{RPID: rpID, ClientDataHash: testClientDataHash[:]}
	for _, id := range allow {
		req.AllowList = append(req.AllowList, client.CredentialDescriptor{ID: id, Type: "public-key"})
	}
	if tok != nil {
		req.PinUvAuthParam = tok.Param(req.ClientDataHash)
		req.PinUvAuthProto = tok.ProtocolVersion()
	}
	return req
}

// Flags of authenticator data.
const (
	flagUP = 0x01
	flagUV = 0x04
)

// flags returns the flags byte of authenticator data.
func flags(t *testing.T, authData []byte) byte {
	t.Helper()
	if len(authData) < 37 {
		t.Fatalf("authenticator data of %d bytes", len(authData))
	}
	return authData[32]
}

// register makes a credential and returns its ID and the response.
func (d *device) register(req *client.MakeCredentialRequest) ([]byte, *client.MakeCredentialResponse) {
	d.t.Helper()
	resp, err := d.c.MakeCredential(d.t.Context(), req)
	if err != nil {
		d.t.Fatalf("makeCredential: %v", err)
	}
	ad := resp.AuthData
	n := int(ad[53])<<8 | int(ad[54])
	return ad[55 : 55+n], resp
}

// platform is a raw PIN/UV auth protocol session for requests the client
// would refuse to make (bad PINs, missing parameters).
type platform struct {
	p           pinuv.Protocol
	platformKey *cose.Key
	secret      []byte
}

func (d *device) platform(version int) *platform {
	d.t.Helper()
	p, err := pinuv.New(version)
	if err != nil {
		d.t.Fatal(err)
	}
	status, resp := d.raw(cmdClientPIN, map[int]any{1: version, 2: subCmdGetKeyAgreement})
	if status != ctap2.CTAP2OK {
		d.t.Fatalf("getKeyAgreement: %v", status)
	}
	var key cose.Key
	if err := cbor.Unmarshal(resp[1], &key); err != nil {
		d.t.Fatal(err)
	}
	platformKey, secret, err := p.Encapsulate(&key)
	if err != nil {
		d.t.Fatal(err)
	}
	return &platform{p: p, platformKey: platformKey, secret: secret}
}

// encrypt encrypts under the shared secret.
func (p *platform) encrypt(t testing.TB, b []byte) []byte {
	t.Helper()
	enc, err := p.p.Encrypt(p.secret, b)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

var canonicalMode, _ = cbor.CTAP2EncOptions().EncMode()

// canonical encodes v as the client does: CTAP2 canonical CBOR.
func canonical(v any) ([]byte, error) { return canonicalMode.Marshal(v) }

// eachProtocolWithPIN runs f under each PIN/UV auth protocol, on a new
// device with the PIN 1234.
func eachProtocolWithPIN(t *testing.T, f func(t *testing.T, d *device, version int)) {
	for _, version := range protocols {
		t.Run(fmt.Sprintf("protocol %d", version), func(t *testing.T) {
			d := newDevice(t)
			if err := d.c.SetPIN(t.Context(), version, "1234"); err != nil {
				t.Fatal(err)
			}
			f(t, d, version)
		})
	}
}
