package ctap2

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/binary"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/hid"
	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/soft"
)

// fakeClock is a Clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// scriptedPresence answers with err (nil: approve) and records what it was
// asked.
type scriptedPresence struct {
	mu       sync.Mutex
	answer   func(ctx context.Context) error
	requests []PresenceRequest
}

func (p *scriptedPresence) Confirm(ctx context.Context, req PresenceRequest) error {
	p.mu.Lock()
	p.requests = append(p.requests, req)
	answer := p.answer
	p.mu.Unlock()
	if answer == nil {
		return nil
	}
	return answer(ctx)
}

// set makes the presence answer err from now on.
func (p *scriptedPresence) set(err error) {
	p.setFunc(func(context.Context) error { return err })
}

func (p *scriptedPresence) setFunc(f func(ctx context.Context) error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answer = f
}

// asked returns the requests so far and forgets them.
func (p *scriptedPresence) asked() []PresenceRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.requests
	p.requests = nil
	return r
}

// testDevice is an authenticator on a real soft keystore, with a fake
// clock and a scripted presence.
type testDevice struct {
	t        testing.TB
	a        *Authenticator
	store    *soft.Store
	clock    *fakeClock
	presence *scriptedPresence
	logs     *bytes.Buffer
}

var testAAGUID = [16]byte{0x76, 0x61, 0x75, 0x74, 0x68, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}

func newTestDevice(t testing.TB, modify ...func(*Config)) *testDevice {
	t.Helper()
	d := &testDevice{t: t, clock: newFakeClock(), presence: &scriptedPresence{}, logs: &bytes.Buffer{}}
	store, err := soft.Open(t.TempDir(), soft.Options{Now: d.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	d.store = store
	cfg := Config{
		AAGUID:   testAAGUID,
		Keystore: store,
		Attester: attestation.Self(),
		Presence: d.presence,
		Clock:    d.clock,
		Logger:   slog.New(slog.NewTextHandler(d.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range modify {
		m(&cfg)
	}
	if d.a, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	return d
}

// encode encodes a test request's parameters.
func encode(t testing.TB, v any) []byte {
	t.Helper()
	b, err := encMode.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// call sends a command with raw CBOR parameters and returns the status and
// the decoded response map.
func (d *testDevice) callRaw(ctx context.Context, cmd byte, params []byte) (Status, map[int]cbor.RawMessage) {
	d.t.Helper()
	resp := d.a.HandleCBOR(ctx, append([]byte{cmd}, params...), nil)
	if len(resp) == 0 {
		d.t.Fatalf("command 0x%02x: empty response", cmd)
	}
	status := Status(resp[0])
	if status != CTAP2OK {
		if len(resp) != 1 {
			d.t.Fatalf("command 0x%02x: %v with %d bytes of data", cmd, status, len(resp)-1)
		}
		return status, nil
	}
	var m map[int]cbor.RawMessage
	if len(resp) > 1 {
		if err := cbor.Unmarshal(resp[1:], &m); err != nil {
			d.t.Fatalf("command 0x%02x: response is not a CBOR map: %v", cmd, err)
		}
	}
	return status, m
}

// call sends a command whose parameters are v (nil: none).
func (d *testDevice) call(cmd byte, v any) (Status, map[int]cbor.RawMessage) {
	d.t.Helper()
	var params []byte
	if v != nil {
		params = encode(d.t, v)
	}
	return d.callRaw(context.Background(), cmd, params)
}

// mustGetInfo checks that the device still answers getInfo.
func (d *testDevice) mustGetInfo() map[int]cbor.RawMessage {
	d.t.Helper()
	status, info := d.call(CmdGetInfo, nil)
	if status != CTAP2OK {
		d.t.Fatalf("getInfo: %v", status)
	}
	return info
}

// clientDataHash is the fixed client data hash of the tests.
var clientDataHash = bytes.Repeat([]byte{0xcd}, 32)

// makeCredentialParams are valid makeCredential parameters, for changing.
func makeCredentialParams(rpID string, userID []byte, name string, rk bool) map[int]any {
	return map[int]any{
		int(makeCredentialClientDataHash): clientDataHash,
		int(makeCredentialRP):             map[string]any{"id": rpID, "name": "Example"},
		int(makeCredentialUser):           map[string]any{"id": userID, "name": name, "displayName": "Display " + name},
		int(makeCredentialPubKeyCredParams): []any{
			map[string]any{"type": "public-key", "alg": keystore.ES256},
			map[string]any{"type": "public-key", "alg": keystore.EdDSA},
		},
		int(makeCredentialOptions): map[string]any{"rk": rk},
	}
}

// getAssertionParams are valid getAssertion parameters, with an allowList
// when ids are given.
func getAssertionParams(rpID string, ids ...[]byte) map[int]any {
	p := map[int]any{
		int(getAssertionRPID):           rpID,
		int(getAssertionClientDataHash): clientDataHash,
	}
	if len(ids) > 0 {
		var list []any
		for _, id := range ids {
			list = append(list, map[string]any{"type": "public-key", "id": id})
		}
		p[int(getAssertionAllowList)] = list
	}
	return p
}

// parsedAuthData is authenticator data taken apart.
type parsedAuthData struct {
	raw          []byte
	rpIDHash     [32]byte
	flags        byte
	signCount    uint32
	aaguid       [16]byte
	credentialID []byte
	publicKey    crypto.PublicKey
	alg          int
}

func parseAuthData(t testing.TB, raw []byte) parsedAuthData {
	t.Helper()
	if len(raw) < 37 {
		t.Fatalf("authData of %d bytes", len(raw))
	}
	p := parsedAuthData{raw: raw, flags: raw[32], signCount: binary.BigEndian.Uint32(raw[33:37])}
	copy(p.rpIDHash[:], raw[:32])
	rest := raw[37:]
	if p.flags&flagAT != 0 {
		if len(rest) < 18 {
			t.Fatalf("attested credential data of %d bytes", len(rest))
		}
		copy(p.aaguid[:], rest[:16])
		n := int(binary.BigEndian.Uint16(rest[16:18]))
		rest = rest[18:]
		if len(rest) < n {
			t.Fatalf("credential ID of %d bytes in %d", n, len(rest))
		}
		p.credentialID, rest = rest[:n], rest[n:]
		var keyRaw cbor.RawMessage
		var err error
		if rest, err = cbor.UnmarshalFirst(rest, &keyRaw); err != nil {
			t.Fatalf("credential public key: %v", err)
		}
		key, err := cose.Parse(keyRaw)
		if err != nil {
			t.Fatalf("credential public key: %v", err)
		}
		p.alg = key.Alg
		if p.publicKey, err = key.PublicKey(); err != nil {
			t.Fatal(err)
		}
	}
	if p.flags&flagED == 0 && len(rest) != 0 {
		t.Fatalf("%d bytes after the authenticator data", len(rest))
	}
	return p
}

// registration is the outcome of a successful makeCredential.
type registration struct {
	fmt      string
	attStmt  map[string]cbor.RawMessage
	authData parsedAuthData
}

func (d *testDevice) register(params map[int]any) registration {
	d.t.Helper()
	status, resp := d.call(CmdMakeCredential, params)
	if status != CTAP2OK {
		d.t.Fatalf("makeCredential: %v", status)
	}
	var reg registration
	var authData []byte
	mustUnmarshal(d.t, resp[makeCredentialRespFmt], &reg.fmt)
	mustUnmarshal(d.t, resp[makeCredentialRespAuthData], &authData)
	mustUnmarshal(d.t, resp[makeCredentialRespAttStmt], &reg.attStmt)
	reg.authData = parseAuthData(d.t, authData)
	return reg
}

func mustUnmarshal(t testing.TB, raw cbor.RawMessage, v any) {
	t.Helper()
	if raw == nil {
		t.Fatalf("missing response member for %T", v)
	}
	if err := cbor.Unmarshal(raw, v); err != nil {
		t.Fatalf("decoding %T: %v", v, err)
	}
}

// assertion is a decoded getAssertion or getNextAssertion response.
type assertion struct {
	credentialID        []byte
	authData            parsedAuthData
	signature           []byte
	user                map[string]cbor.RawMessage // nil when absent
	numberOfCredentials int                        // 0 when absent
}

func decodeAssertion(t testing.TB, resp map[int]cbor.RawMessage) assertion {
	t.Helper()
	var as assertion
	var cred struct {
		ID   []byte `cbor:"id"`
		Type string `cbor:"type"`
	}
	mustUnmarshal(t, resp[getAssertionRespCredential], &cred)
	if cred.Type != "public-key" {
		t.Errorf("credential type %q", cred.Type)
	}
	as.credentialID = cred.ID
	var authData []byte
	mustUnmarshal(t, resp[getAssertionRespAuthData], &authData)
	as.authData = parseAuthData(t, authData)
	mustUnmarshal(t, resp[getAssertionRespSignature], &as.signature)
	if raw, ok := resp[getAssertionRespUser]; ok {
		mustUnmarshal(t, raw, &as.user)
	}
	if raw, ok := resp[getAssertionRespNumberOfCredentials]; ok {
		mustUnmarshal(t, raw, &as.numberOfCredentials)
	}
	return as
}

// verify checks an ES256 or EdDSA assertion's signature with a public
// key, cryptographically.
func verify(t testing.TB, pub crypto.PublicKey, as assertion) {
	t.Helper()
	alg := keystore.EdDSA
	if _, ok := pub.(*ecdsa.PublicKey); ok {
		alg = keystore.ES256
	}
	verifyAlg(t, alg, pub, as)
}

// verifyAlg checks an assertion's signature by algorithm alg.
func verifyAlg(t testing.TB, alg int, pub crypto.PublicKey, as assertion) {
	t.Helper()
	signed := append(append([]byte{}, as.authData.raw...), clientDataHash...)
	if err := cose.Verify(alg, pub, signed, as.signature); err != nil {
		t.Fatalf("%s assertion signature: %v", keystore.AlgorithmName(alg), err)
	}
}

// keepaliveRecorder records keepalive statuses.
type keepaliveRecorder struct {
	mu       sync.Mutex
	statuses []byte
}

func (k *keepaliveRecorder) keepalive() hid.Keepalive {
	return func(s byte) {
		k.mu.Lock()
		defer k.mu.Unlock()
		k.statuses = append(k.statuses, s)
	}
}

// idLimits returns getInfo's maxCredentialIdLength and
// maxCredentialCountInList.
func (d *testDevice) idLimits() (maxID, count int) {
	d.t.Helper()
	info := d.mustGetInfo()
	mustUnmarshal(d.t, info[getInfoMaxCredentialIDLength], &maxID)
	mustUnmarshal(d.t, info[getInfoMaxCredentialCountInList], &count)
	return maxID, count
}

// checkFullAllowList makes count non-discoverable alg credentials with the
// longest credBlob, each with an ID of maxID bytes, and checks that a
// getAssertion listing them all fits maxMsg and succeeds.
func (d *testDevice) checkFullAllowList(maxMsg, maxID, count, alg int) {
	t := d.t
	t.Helper()
	var ids [][]byte
	for range count {
		c, err := d.store.Create(keystore.CreateRequest{RPIDHash: sha256.Sum256([]byte("example.com")), Algorithm: alg,
			CredBlob: make([]byte, keystore.MaxCredBlobLength)})
		if err != nil || len(c.ID) != maxID {
			t.Fatalf("credential ID of %d bytes, %v; want %d", len(c.ID), err, maxID)
		}
		ids = append(ids, c.ID)
	}
	params := encode(t, getAssertionParams("example.com", ids...))
	if len(params)+1 > maxMsg {
		t.Errorf("maxMsgSize %d: a getAssertion with %d of the longest IDs takes %d bytes", maxMsg, count, len(params)+1)
	}
	if status, _ := d.callRaw(context.Background(), CmdGetAssertion, params); status != CTAP2OK {
		t.Errorf("maxMsgSize %d: getAssertion with a full allowList: %v", maxMsg, status)
	}
}

// serveHID serves h over CTAPHID on an in-memory pipe until the test ends
// and returns a client on the host's end.
func serveHID(t testing.TB, h hid.Handler, opts ...hid.Option) *hid.Client {
	t.Helper()
	host, dev := hid.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hid.NewDevice(h, opts...).Serve(ctx, dev) }()
	t.Cleanup(func() {
		cancel()
		host.Close()
		<-done
	})
	c, err := hid.NewClient(host)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
