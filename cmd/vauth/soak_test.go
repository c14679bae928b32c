package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/ctap2/pinuv"
	"github.com/vauth/vauth/hid"
	"github.com/vauth/vauth/hid/socket"
	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/keystore/soft"
)

// The soak test's knobs: how many times it kills the daemon (make soak
// raises it), and the seed of its choices (printed, to replay a failure).
const (
	envSoakKills = "VAUTH_SOAK_KILLS"
	envSoakSeed  = "VAUTH_SOAK_SEED"
)

// soakRPs are the relying parties the soak test registers with.
var soakRPs = []string{"a.example", "b.example", "c.example"}

// TestSoak drives `vauth run` over the virtual cable with a mixed stream —
// discoverable registrations, assertions, wrong PINs, PIN changes and
// credential deletions — and kills it with SIGKILL at random moments. The
// test keeps the ground truth of what the daemon acknowledged, and after
// every kill checks that the store opens without repair (the database is
// consistent, the daemon starts without a warning) and that the restarted
// daemon has every credential whose creation was acknowledged, none whose
// deletion was acknowledged, signature counters that only increased, and
// PIN retries that never went back up.
func TestSoak(t *testing.T) {
	kills := 20
	if v := os.Getenv(envSoakKills); v != "" {
		var err error
		if kills, err = strconv.Atoi(v); err != nil {
			t.Fatalf("%s=%q: %v", envSoakKills, v, err)
		}
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(envSoakSeed); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", envSoakSeed, v, err)
		}
	}
	t.Logf("%d kills, seed %d (%s=%d replays the choices; the moments of the kills depend on timing too)", kills, seed, envSoakSeed, seed)
	timing := rand.New(rand.NewPCG(seed, 1))
	m := &soakModel{rng: rand.New(rand.NewPCG(seed, 2)), creds: map[string]*soakCred{}, deleted: map[string]bool{}}
	store := filepath.Join(t.TempDir(), "store")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Minute)
	defer cancel()
	for round := 0; ; round++ {
		d := startDaemon(t, store)
		// fail ends the daemon first: its log is complete, and read by
		// this goroutine alone, once the process is gone.
		fail := func(format string, args ...any) {
			t.Helper()
			d.kill(syscall.SIGKILL)
			t.Fatalf("round %d: %s\ndaemon log:\n%s", round, fmt.Sprintf(format, args...), d.log)
		}
		c := dialCTAP2(t, d)
		if err := m.verify(ctx, c); err != nil {
			fail("after the restart: %v", err)
		}
		if round < kills {
			done := make(chan error, 1)
			go func() { done <- m.drive(ctx, c) }()
			select {
			case err := <-done:
				fail("the stream stopped before the kill: %v", err)
			case <-time.After(time.Duration(timing.Int64N(int64(400 * time.Millisecond)))):
			}
			d.kill(syscall.SIGKILL)
			if err := <-done; errors.As(err, new(*soakViolation)) {
				fail("%v", err)
			}
		}
		d.kill(syscall.SIGKILL)
		c.close()
		log := d.log.String()
		if i := strings.Index(log, "msg=serving"); i < 0 || strings.Contains(log[:i], "level=WARN") || strings.Contains(log, "level=ERROR") {
			fail("the daemon started with a complaint, or logged an error")
		}
		if err := checkDatabase(filepath.Join(store, "store.db")); err != nil {
			fail("after the kill: %v", err)
		}
		if round == kills {
			break
		}
	}
	t.Logf("%d credentials alive, %d deleted; operations acknowledged %v, cut short by a kill %v", len(m.creds), len(m.deleted), m.acked, m.cut)
	if m.acked["makeCredential"] == 0 || m.acked["getAssertion"] == 0 || m.acked["deleteCredential"] == 0 || m.acked["wrongPIN"] == 0 {
		t.Errorf("the stream missed a kind of operation: %v", m.acked)
	}
}

// soakClient is a CTAP2 client on its own connection to the daemon.
type soakClient struct {
	*client.Client
	hc *hid.Client
}

func (c *soakClient) close() { c.hc.Close() }

func dialCTAP2(t *testing.T, d *daemonProc) *soakClient {
	t.Helper()
	tr, err := socket.Dial(d.socket)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := hid.NewClient(tr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hc.Close() })
	return &soakClient{Client: client.New(hc), hc: hc}
}

// checkDatabase opens the store's database read-only, as it is after the
// kill, and checks its consistency (pages, freelist, buckets).
func checkDatabase(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("opening the database: %w", err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}

// soakCred is a discoverable credential the daemon acknowledged.
type soakCred struct {
	rpID    string
	userID  []byte
	pub     *ecdsa.PublicKey
	counter uint32 // the last acknowledged signature counter
	// lost counts its assertions cut short by a kill since that counter:
	// each may have taken a value, and reserved a block, unseen.
	lost uint32
}

// maxCounter is the highest counter the credential may show next: a kill
// makes the counter skip at most the rest of its reserved block, and each
// lost assertion one value and a new block.
func (c *soakCred) maxCounter() uint32 {
	return c.counter + (soft.DefaultCounterBlock+1)*(c.lost+1) + 1
}

// soakOp is the operation in flight: the one a kill may have cut short.
type soakOp struct {
	kind string
	// correctPIN: the operation presents the right PIN, which restores
	// pinRetries.
	correctPIN bool
	rpID       string
	userID     []byte // makeCredential
	id         []byte // getAssertion, deleteCredential
	newPIN     string // changePIN
}

// soakViolation is a broken promise of the daemon, as opposed to the end
// of the connection that the kill causes.
type soakViolation struct{ msg string }

func (v *soakViolation) Error() string { return v.msg }

func violation(format string, args ...any) error {
	return &soakViolation{fmt.Sprintf(format, args...)}
}

// soakModel is the ground truth: what the daemon acknowledged.
type soakModel struct {
	rng     *rand.Rand
	pin     string
	pins    int // PIN changes so far, to name the next PIN
	creds   map[string]*soakCred
	deleted map[string]bool
	// retries is the last pinRetries the daemon acknowledged; wrong counts
	// the wrong PINs since the last right one in this power cycle (three in
	// a row would need a power cycle).
	retries, wrong int
	pending        *soakOp
	users          int
	used           map[string]bool // credentials asserted with since the restart
	acked          map[string]int  // operations acknowledged, by kind
	cut            map[string]int  // operations in flight at a kill, by kind
}

var soakClientDataHash = sha256.Sum256([]byte("soak client data"))

func (m *soakModel) ack(op string) {
	if m.acked == nil {
		m.acked = map[string]int{}
	}
	m.acked[op]++
	m.pending = nil
}

// drive sends operations until an error: the end of the connection when
// the daemon is killed, or a violation.
func (m *soakModel) drive(ctx context.Context, c *soakClient) error {
	for {
		if err := m.step(ctx, c); err != nil {
			return err
		}
	}
}

// step sends one operation, which may not take longer than a minute.
func (m *soakModel) step(ctx context.Context, c *soakClient) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var err error
	switch n := m.rng.IntN(100); {
	case n < 25 || len(m.creds) == 0:
		err = m.makeCredential(ctx, c)
	case n < 75 && m.wrong < 2 && n >= 60:
		err = m.wrongPIN(ctx, c)
	case n < 75:
		err = m.getAssertion(ctx, c)
	case n < 92:
		err = m.deleteCredential(ctx, c)
	default:
		err = m.changePIN(ctx, c)
	}
	return err
}

// check turns an error of an operation into a violation when it is a CTAP
// status (the daemon answered, wrongly), and leaves transport errors be.
func check(what string, err error) error {
	var se *ctap2.StatusError
	if errors.As(err, &se) {
		return violation("%s: %v", what, se.Status)
	}
	return err
}

// token gets a pinUvAuthToken with the right PIN.
func (m *soakModel) token(ctx context.Context, c *soakClient, p pinuv.Permission, rpID string) (*client.Token, error) {
	m.pending = &soakOp{kind: "token", correctPIN: true}
	tok, err := c.GetPinUvAuthTokenUsingPIN(ctx, pinuv.ProtocolTwoVersion, m.pin, p, rpID)
	if err != nil {
		return nil, check("getPinUvAuthTokenUsingPinWithPermissions", err)
	}
	m.retries, m.wrong = pinuv.MaxPINRetries, 0
	m.ack("token")
	return tok, nil
}

func (m *soakModel) makeCredential(ctx context.Context, c *soakClient) error {
	rpID := soakRPs[m.rng.IntN(len(soakRPs))]
	tok, err := m.token(ctx, c, pinuv.PermissionMC, rpID)
	if err != nil {
		return err
	}
	m.users++
	userID := fmt.Appendf(nil, "user-%d", m.users)
	m.pending = &soakOp{kind: "makeCredential", rpID: rpID, userID: userID}
	resp, err := c.MakeCredential(ctx, &client.MakeCredentialRequest{
		ClientDataHash:   soakClientDataHash[:],
		RP:               client.RPEntity{ID: rpID},
		User:             client.UserEntity{ID: userID, Name: string(userID)},
		PubKeyCredParams: []client.Algorithm{{Type: "public-key", Alg: cose.AlgES256}},
		Options:          map[string]bool{"rk": true},
		PinUvAuthParam:   tok.Param(soakClientDataHash[:]),
		PinUvAuthProto:   tok.ProtocolVersion(),
	})
	if err != nil {
		return check("makeCredential", err)
	}
	id, pub, err := attestedCredential(resp.AuthData)
	if err != nil {
		return violation("makeCredential: %v", err)
	}
	m.creds[string(id)] = &soakCred{rpID: rpID, userID: userID, pub: pub}
	m.ack("makeCredential")
	return nil
}

// attestedCredential takes the credential ID and public key out of
// authenticator data.
func attestedCredential(authData []byte) ([]byte, *ecdsa.PublicKey, error) {
	if len(authData) < 55 {
		return nil, nil, fmt.Errorf("authenticator data of %d bytes", len(authData))
	}
	n := int(binary.BigEndian.Uint16(authData[53:]))
	if len(authData) < 55+n {
		return nil, nil, fmt.Errorf("credential ID of %d bytes in %d", n, len(authData))
	}
	key, err := parseCOSEKey(authData[55+n:])
	if err != nil {
		return nil, nil, err
	}
	return bytes.Clone(authData[55 : 55+n]), key, nil
}

func parseCOSEKey(raw []byte) (*ecdsa.PublicKey, error) {
	k, err := cose.Parse(raw)
	if err != nil {
		return nil, err
	}
	pub, err := k.PublicKey()
	if err != nil {
		return nil, err
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key %T, want ES256", pub)
	}
	return ec, nil
}

// ids lists the acknowledged credentials in a fixed order, so that a seed
// replays the same choices.
func (m *soakModel) ids() []string { return slices.Sorted(maps.Keys(m.creds)) }

// pick returns a random acknowledged credential's ID.
func (m *soakModel) pick() []byte {
	ids := m.ids()
	return []byte(ids[m.rng.IntN(len(ids))])
}

func (m *soakModel) getAssertion(ctx context.Context, c *soakClient) error {
	id := m.pick()
	m.pending = &soakOp{kind: "getAssertion", id: id}
	if err := m.assert(ctx, c, id, false); err != nil {
		return err
	}
	m.ack("getAssertion")
	return nil
}

// assert signs in with the credential id and checks the assertion: its
// credential, its signature, and a counter above the last one
// acknowledged (and, after a restart, at most maxCounter).
func (m *soakModel) assert(ctx context.Context, c *soakClient, id []byte, restarted bool) error {
	cred := m.creds[string(id)]
	resp, err := c.GetAssertion(ctx, &client.GetAssertionRequest{
		RPID:           cred.rpID,
		ClientDataHash: soakClientDataHash[:],
		AllowList:      []client.CredentialDescriptor{{ID: id, Type: "public-key"}},
	})
	if err != nil {
		return check(fmt.Sprintf("getAssertion with %x", id), err)
	}
	if !bytes.Equal(resp.Credential.ID, id) || len(resp.AuthData) < 37 {
		return violation("getAssertion with %x answered with %x, authData %x", id, resp.Credential.ID, resp.AuthData)
	}
	digest := sha256.Sum256(append(bytes.Clone(resp.AuthData), soakClientDataHash[:]...))
	if !ecdsa.VerifyASN1(cred.pub, digest[:], resp.Signature) {
		return violation("assertion signature of %x does not verify", id)
	}
	n := binary.BigEndian.Uint32(resp.AuthData[33:])
	if n <= cred.counter || (restarted && n > cred.maxCounter()) {
		return violation("signature counter of %x went from %d to %d (%d assertions lost to kills since)", id, cred.counter, n, cred.lost)
	}
	cred.counter, cred.lost = n, 0
	if m.used == nil {
		m.used = map[string]bool{}
	}
	m.used[string(id)] = true
	return nil
}

func (m *soakModel) wrongPIN(ctx context.Context, c *soakClient) error {
	m.pending = &soakOp{kind: "wrongPIN"}
	_, err := c.GetPinUvAuthTokenUsingPIN(ctx, pinuv.ProtocolTwoVersion, "not the PIN", pinuv.PermissionCM, "")
	var se *ctap2.StatusError
	if !errors.As(err, &se) {
		if err == nil {
			return violation("a wrong PIN got a token")
		}
		return err
	}
	if se.Status != ctap2.CTAP2ErrPinInvalid {
		return violation("wrong PIN: %v, want CTAP2_ERR_PIN_INVALID", se.Status)
	}
	m.wrong++
	retries, _, err := c.PINRetries(ctx)
	if err != nil {
		return check("getPINRetries", err)
	}
	if retries != m.retries-1 {
		return violation("pinRetries %d after a wrong PIN, was %d", retries, m.retries)
	}
	m.retries = retries
	m.ack("wrongPIN")
	return nil
}

func (m *soakModel) deleteCredential(ctx context.Context, c *soakClient) error {
	tok, err := m.token(ctx, c, pinuv.PermissionCM, "")
	if err != nil {
		return err
	}
	id := m.pick()
	m.pending = &soakOp{kind: "deleteCredential", id: id}
	cm := &client.CredentialManagement{Client: c.Client, Token: tok}
	if err := cm.DeleteCredential(ctx, id); err != nil {
		return check("deleteCredential", err)
	}
	delete(m.creds, string(id))
	m.deleted[string(id)] = true
	m.ack("deleteCredential")
	return nil
}

func (m *soakModel) changePIN(ctx context.Context, c *soakClient) error {
	newPIN := fmt.Sprintf("soak-pin-%d", m.pins+1)
	m.pending = &soakOp{kind: "changePIN", correctPIN: true, newPIN: newPIN}
	if err := c.ChangePIN(ctx, pinuv.ProtocolTwoVersion, m.pin, newPIN); err != nil {
		return check("changePIN", err)
	}
	m.pin, m.pins = newPIN, m.pins+1
	m.retries, m.wrong = pinuv.MaxPINRetries, 0
	m.ack("changePIN")
	return nil
}

// verify checks the restarted daemon against the model and settles what
// the kill left open.
func (m *soakModel) verify(ctx context.Context, c *soakClient) error {
	op := m.pending
	if op != nil {
		if m.cut == nil {
			m.cut = map[string]int{}
		}
		m.cut[op.kind]++
	}
	m.pending, m.wrong, m.used = nil, 0, nil
	if m.pin == "" { // the first start: a PIN
		m.pin = "soak-pin-0"
		if err := c.SetPIN(ctx, pinuv.ProtocolTwoVersion, m.pin); err != nil {
			return err
		}
		m.retries = pinuv.MaxPINRetries
		return nil
	}
	retries, powerCycle, err := c.PINRetries(ctx)
	if err != nil {
		return err
	}
	if powerCycle {
		return errors.New("getPINRetries asks for a power cycle after a restart")
	}
	if retries > m.retries && !(op != nil && op.correctPIN && retries == pinuv.MaxPINRetries) {
		return fmt.Errorf("pinRetries went up from %d to %d across the kill (in flight: %+v)", m.retries, retries, op)
	}
	m.retries = retries
	// A PIN change cut short left the old PIN or the new one.
	if op != nil && op.kind == "changePIN" {
		if _, err := c.GetPinUvAuthTokenUsingPIN(ctx, pinuv.ProtocolTwoVersion, op.newPIN, pinuv.PermissionCM, ""); err == nil {
			m.pin, m.pins = op.newPIN, m.pins+1
		}
	}
	tok, err := m.token(ctx, c, pinuv.PermissionCM, "")
	if err != nil {
		return err
	}
	cm := &client.CredentialManagement{Client: c.Client, Token: tok}
	rps, err := cm.RPs(ctx)
	if err != nil {
		return err
	}
	found := map[string]client.ManagedCredential{}
	for _, rp := range rps {
		creds, err := cm.Credentials(ctx, rp.RPIDHash)
		if err != nil {
			return err
		}
		for _, mc := range creds {
			found[string(mc.CredentialID.ID)] = mc
			if h := sha256.Sum256([]byte(rp.RP.ID)); !bytes.Equal(rp.RPIDHash, h[:]) {
				return fmt.Errorf("RP %q listed with rpIDHash %x", rp.RP.ID, rp.RPIDHash)
			}
			if cred, ok := m.creds[string(mc.CredentialID.ID)]; ok && (cred.rpID != rp.RP.ID || !bytes.Equal(cred.userID, mc.User.ID)) {
				return fmt.Errorf("credential %x listed under %q for user %q, made for %q user %q", mc.CredentialID.ID, rp.RP.ID, mc.User.ID, cred.rpID, cred.userID)
			}
		}
	}
	for id := range m.creds {
		if _, ok := found[id]; !ok {
			if op != nil && op.kind == "deleteCredential" && bytes.Equal(op.id, []byte(id)) {
				delete(m.creds, id) // its deletion was in flight and went through
				m.deleted[id] = true
				continue
			}
			return fmt.Errorf("credential %x, whose creation was acknowledged, is gone", id)
		}
	}
	for id, mc := range found {
		if m.deleted[id] {
			return fmt.Errorf("credential %x, whose deletion was acknowledged, came back", id)
		}
		if _, ok := m.creds[id]; ok {
			continue
		}
		// Only the registration in flight may have left a credential.
		if op == nil || op.kind != "makeCredential" || !bytes.Equal(mc.User.ID, op.userID) {
			return fmt.Errorf("credential %x for user %q exists, but nobody made it (in flight: %+v)", id, mc.User.ID, op)
		}
		pub, err := parseCOSEKey(mc.PublicKey)
		if err != nil {
			return fmt.Errorf("listed public key: %w", err)
		}
		m.creds[id] = &soakCred{rpID: op.rpID, userID: op.userID, pub: pub}
	}
	// Counters: every credential (a sample of 64 when there are more) signs
	// once more, above its last counter and at most maxCounter.
	if op != nil && op.kind == "getAssertion" {
		if cred, ok := m.creds[string(op.id)]; ok {
			cred.lost++
		}
	}
	ids := m.ids()
	m.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	for _, id := range ids[:min(len(ids), 64)] {
		if err := m.assert(ctx, c, []byte(id), true); err != nil {
			return err
		}
	}
	return nil
}
