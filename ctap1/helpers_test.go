package ctap1

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/keystore/soft"
)

// testPresence answers as answer says (nil: approve at once) and records
// what it was asked.
type testPresence struct {
	mu     sync.Mutex
	answer func(ctx context.Context) error
	asked  []presenceKey
}

func (p *testPresence) confirm(ctx context.Context, ins byte, application [32]byte) error {
	p.mu.Lock()
	p.asked = append(p.asked, presenceKey{ins: ins, application: application})
	answer := p.answer
	p.mu.Unlock()
	if answer == nil {
		return nil
	}
	return answer(ctx)
}

func (p *testPresence) setAnswer(f func(ctx context.Context) error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answer = f
}

// count returns how many times the user was asked so far.
func (p *testPresence) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.asked)
}

// testU2F is a U2F authenticator on a real soft keystore.
type testU2F struct {
	t        testing.TB
	a        *Authenticator
	store    *soft.Store
	ca       *attestation.CA
	presence *testPresence
	logs     *bytes.Buffer
}

func newTestU2F(t testing.TB) *testU2F {
	t.Helper()
	store, err := soft.Open(t.TempDir(), soft.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ca, err := attestation.LoadOrCreateCA(store)
	if err != nil {
		t.Fatal(err)
	}
	att, err := attestation.U2F(ca, store)
	if err != nil {
		t.Fatal(err)
	}
	d := &testU2F{t: t, store: store, ca: ca, presence: &testPresence{}, logs: &bytes.Buffer{}}
	d.a, err = New(Config{
		Keystore: store,
		Attester: att,
		Presence: d.presence.confirm,
		Logger:   slog.New(slog.NewTextHandler(d.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// extended encodes a request APDU as U2F over HID does: extended Lc (when
// there is data) and Le 0x0000.
func extended(ins, p1 byte, data []byte) []byte {
	apdu := []byte{0, ins, p1, 0}
	if len(data) > 0 {
		apdu = append(apdu, 0, byte(len(data)>>8), byte(len(data)))
		apdu = append(apdu, data...)
	} else {
		apdu = append(apdu, 0)
	}
	return append(apdu, 0, 0)
}

// short encodes a request APDU with one-byte Lc and Le.
func short(ins, p1 byte, data []byte) []byte {
	apdu := []byte{0, ins, p1, 0}
	if len(data) > 0 {
		apdu = append(apdu, byte(len(data)))
		apdu = append(apdu, data...)
	}
	return append(apdu, 0)
}

// send sends an APDU and splits the response into data and status word.
func (d *testU2F) send(apdu []byte) ([]byte, StatusWord) {
	d.t.Helper()
	return splitResponse(d.t, d.a.Handle(context.Background(), apdu))
}

func splitResponse(t testing.TB, resp []byte) ([]byte, StatusWord) {
	t.Helper()
	if len(resp) < 2 {
		t.Fatalf("response of %d bytes", len(resp))
	}
	sw := StatusWord(binary.BigEndian.Uint16(resp[len(resp)-2:]))
	data := resp[:len(resp)-2]
	if sw != SWNoError && len(data) != 0 {
		t.Fatalf("%v with %d bytes of data", sw, len(data))
	}
	return data, sw
}

func appParam(appID string) [32]byte { return sha256.Sum256([]byte(appID)) }

var testChallenge = sha256.Sum256([]byte(`{"typ":"navigator.id.finishEnrollment"}`))

// registration is a parsed and verified U2F_REGISTER response.
type registration struct {
	publicKey    *ecdsa.PublicKey
	publicKeyRaw []byte
	keyHandle    []byte
	cert         *x509.Certificate
}

// register registers for appID and checks the response: its layout, the
// attestation certificate chaining to the CA, and the registration
// signature by the attestation key.
func (d *testU2F) register(appID string) registration {
	d.t.Helper()
	app := appParam(appID)
	data, sw := d.send(extended(InsRegister, 0, slices.Concat(testChallenge[:], app[:])))
	if sw != SWNoError {
		d.t.Fatalf("U2F_REGISTER: %v", sw)
	}
	return parseRegistration(d.t, d.ca, data, app, testChallenge)
}

func parseRegistration(t testing.TB, ca *attestation.CA, data []byte, app, challenge [32]byte) registration {
	t.Helper()
	if len(data) < 67 || data[0] != 0x05 {
		t.Fatalf("registration response %x", data)
	}
	var reg registration
	reg.publicKeyRaw = data[1:66]
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), reg.publicKeyRaw)
	if err != nil {
		t.Fatalf("public key: %v", err)
	}
	reg.publicKey = pub
	n := int(data[66])
	rest := data[67:]
	if len(rest) < n {
		t.Fatalf("key handle of %d bytes in %d", n, len(rest))
	}
	reg.keyHandle, rest = rest[:n], rest[n:]
	sig, err := asn1.Unmarshal(rest, &asn1.RawValue{})
	if err != nil {
		t.Fatalf("attestation certificate: %v", err)
	}
	if reg.cert, err = x509.ParseCertificate(rest[:len(rest)-len(sig)]); err != nil {
		t.Fatalf("attestation certificate: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Certificate())
	if _, err := reg.cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("attestation certificate does not chain to the CA: %v", err)
	}
	signed := slices.Concat([]byte{0}, app[:], challenge[:], reg.keyHandle, reg.publicKeyRaw)
	if err := reg.cert.CheckSignature(x509.ECDSAWithSHA256, signed, sig); err != nil {
		t.Errorf("registration signature: %v", err)
	}
	return reg
}

// authenticateData is the data of a U2F_AUTHENTICATE request.
func authenticateData(challenge, app [32]byte, keyHandle []byte) []byte {
	return slices.Concat(challenge[:], app[:], []byte{byte(len(keyHandle))}, keyHandle)
}

// verifyAuthentication checks an authentication response's signature with
// the credential's public key and returns its user presence byte and
// counter.
func verifyAuthentication(t testing.TB, data []byte, pub *ecdsa.PublicKey, app, challenge [32]byte) (byte, uint32) {
	t.Helper()
	if len(data) < 5 {
		t.Fatalf("authentication response %x", data)
	}
	digest := sha256.Sum256(slices.Concat(app[:], data[:5], challenge[:]))
	if !ecdsa.VerifyASN1(pub, digest[:], data[5:]) {
		t.Error("authentication signature does not verify")
	}
	return data[0], binary.BigEndian.Uint32(data[1:5])
}
