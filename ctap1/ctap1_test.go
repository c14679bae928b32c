package ctap1

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vauth/vauth/keystore"
)

func TestVersion(t *testing.T) {
	d := newTestU2F(t)
	for _, tc := range []struct {
		name string
		apdu []byte
		want []byte // nil: SW_WRONG_LENGTH
	}{
		{"extended, python-fido2", extended(InsVersion, 0, nil), []byte("U2F_V2")},
		{"extended Le only", []byte{0, InsVersion, 0, 0, 0, 0, 0}, []byte("U2F_V2")},
		{"header only", []byte{0, InsVersion, 0, 0}, []byte("U2F_V2")},
		{"short Le, P1 and P2 ignored", []byte{0, InsVersion, 0x12, 0x34, 0}, []byte("U2F_V2")},
		{"with data", extended(InsVersion, 0, []byte{1}), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, sw := d.send(tc.apdu)
			if tc.want == nil {
				if sw != SWWrongLength {
					t.Fatalf("%v, want SW_WRONG_LENGTH", sw)
				}
				return
			}
			if sw != SWNoError || !bytes.Equal(data, tc.want) {
				t.Fatalf("%q %v, want %q", data, sw, tc.want)
			}
		})
	}
}

// TestRegisterAuthenticate registers and signs in, verifying every
// signature with crypto: the registration's with the attestation
// certificate, the authentications' with the registered key; the counter
// increases across all modes, and user presence is asked exactly when U2F
// says so.
func TestRegisterAuthenticate(t *testing.T) {
	d := newTestU2F(t)
	for _, encode := range []struct {
		name string
		f    func(ins, p1 byte, data []byte) []byte
	}{{"extended", extended}, {"short", short}} {
		t.Run(encode.name, func(t *testing.T) {
			app := appParam("https://" + encode.name + ".example.com")
			asked := d.presence.count()
			data, sw := d.send(encode.f(InsRegister, 0, slices.Concat(testChallenge[:], app[:])))
			if sw != SWNoError {
				t.Fatalf("U2F_REGISTER: %v", sw)
			}
			reg := parseRegistration(t, d.ca, data, app, testChallenge)
			if d.presence.count() != asked+1 || d.presence.asked[asked] != (presenceKey{ins: InsRegister, application: app}) {
				t.Fatalf("presence asked %v for the registration", d.presence.asked[asked:])
			}
			if len(reg.keyHandle) > d.store.MaxCredentialIDLength() || len(reg.keyHandle) == 0 {
				t.Errorf("key handle of %d bytes", len(reg.keyHandle))
			}

			var last uint32
			for i, tc := range []struct {
				p1     byte
				wantUP byte
			}{
				{AuthEnforceUserPresence, 1},
				{AuthDontEnforceUserPresence, 0},
				{AuthEnforceUserPresence, 1},
			} {
				challenge := sha256.Sum256([]byte{byte(i)})
				asked := d.presence.count()
				data, sw := d.send(encode.f(InsAuthenticate, tc.p1, authenticateData(challenge, app, reg.keyHandle)))
				if sw != SWNoError {
					t.Fatalf("U2F_AUTHENTICATE P1 0x%02x: %v", tc.p1, sw)
				}
				up, counter := verifyAuthentication(t, data, reg.publicKey, app, challenge)
				if up != tc.wantUP {
					t.Errorf("P1 0x%02x: user presence 0x%02x, want 0x%02x", tc.p1, up, tc.wantUP)
				}
				if counter <= last {
					t.Errorf("counter %d after %d", counter, last)
				}
				last = counter
				if got := d.presence.count() - asked; got != int(tc.wantUP) {
					t.Errorf("P1 0x%02x: presence asked %d times", tc.p1, got)
				}
			}
		})
	}
	if logs := d.logs.String(); !strings.Contains(logs, "U2F registration") || !strings.Contains(logs, "U2F authentication") {
		t.Errorf("no Info records of the operations:\n%s", logs)
	}
}

// TestStatusWords sends every kind of bad request and checks the status
// word, and that none of them asks the user.
func TestStatusWords(t *testing.T) {
	d := newTestU2F(t)
	app := appParam("https://example.com")
	reg := d.register("https://example.com")
	other := d.register("https://other.example")
	tampered := bytes.Clone(reg.keyHandle)
	tampered[len(tampered)-1] ^= 1
	registerData := slices.Concat(testChallenge[:], app[:])
	auth := func(p1 byte, kh []byte) []byte {
		return extended(InsAuthenticate, p1, authenticateData(testChallenge, app, kh))
	}
	asked := d.presence.count()

	for _, tc := range []struct {
		name string
		apdu []byte
		want StatusWord
	}{
		{"empty", nil, SWWrongLength},
		{"CLA 0x80", []byte{0x80, InsVersion, 0, 0}, SWCLANotSupported},
		{"CLA 0x01 register", append([]byte{1}, extended(InsRegister, 0, registerData)[1:]...), SWCLANotSupported},
		{"INS 0x00", extended(0x00, 0, nil), SWINSNotSupported},
		{"INS 0x04", extended(0x04, 0, nil), SWINSNotSupported},
		{"INS 0x40 (vendor)", extended(0x40, 0, registerData), SWINSNotSupported},
		{"INS 0xff", extended(0xff, 0, nil), SWINSNotSupported},
		{"APDU lengths do not add up", []byte{0, InsRegister, 0, 0, 0, 0, 64, 1, 2}, SWWrongLength},
		{"register without data", extended(InsRegister, 0, nil), SWWrongLength},
		{"register with 63 bytes", extended(InsRegister, 0, registerData[:63]), SWWrongLength},
		{"register with 65 bytes", extended(InsRegister, 0, append(registerData, 0)), SWWrongLength},
		{"authenticate with 64 bytes", extended(InsAuthenticate, AuthEnforceUserPresence, registerData), SWWrongLength},
		{"authenticate, L longer than the key handle", extended(InsAuthenticate, AuthEnforceUserPresence, authenticateData(testChallenge, app, reg.keyHandle)[:64+len(reg.keyHandle)]), SWWrongLength},
		{"authenticate, L shorter than the key handle", extended(InsAuthenticate, AuthEnforceUserPresence, append(authenticateData(testChallenge, app, reg.keyHandle), 0)), SWWrongLength},
		{"control byte 0x00", auth(0x00, reg.keyHandle), SWWrongData},
		{"control byte 0x04", auth(0x04, reg.keyHandle), SWWrongData},
		{"control byte 0xff", auth(0xff, reg.keyHandle), SWWrongData},
		{"check-only, this app's key handle", auth(AuthCheckOnly, reg.keyHandle), SWConditionsNotSatisfied},
		{"check-only, another app's key handle", auth(AuthCheckOnly, other.keyHandle), SWWrongData},
		{"check-only, tampered key handle", auth(AuthCheckOnly, tampered), SWWrongData},
		{"check-only, empty key handle", auth(AuthCheckOnly, nil), SWWrongData},
		{"check-only, 255-byte key handle", auth(AuthCheckOnly, bytes.Repeat([]byte{1}, 255)), SWWrongData},
		{"enforce, another app's key handle", auth(AuthEnforceUserPresence, other.keyHandle), SWWrongData},
		{"enforce, tampered key handle", auth(AuthEnforceUserPresence, tampered), SWWrongData},
		{"don't enforce, another app's key handle", auth(AuthDontEnforceUserPresence, other.keyHandle), SWWrongData},
		{"don't enforce, unknown key handle", auth(AuthDontEnforceUserPresence, []byte("unknown")), SWWrongData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, sw := d.send(tc.apdu); sw != tc.want {
				t.Fatalf("%v, want %v", sw, tc.want)
			}
		})
	}
	if n := d.presence.count() - asked; n != 0 {
		t.Errorf("bad requests asked the user %d times", n)
	}
}

// TestCTAP2Credentials: U2F uses the keystore credentials that U2F could
// have made (non-discoverable ES256 without credProtect
// userVerificationRequired) and refuses the others as unknown key handles.
func TestCTAP2Credentials(t *testing.T) {
	d := newTestU2F(t)
	const rpID = "example.com"
	app := appParam(rpID)
	for _, tc := range []struct {
		name   string
		req    keystore.CreateRequest
		usable bool
	}{
		{"non-discoverable ES256", keystore.CreateRequest{Algorithm: keystore.ES256}, true},
		{"non-discoverable ES256, credProtect optional with list", keystore.CreateRequest{Algorithm: keystore.ES256, CredProtect: 2}, true},
		{"non-discoverable ES256, credProtect required", keystore.CreateRequest{Algorithm: keystore.ES256, CredProtect: 3}, false},
		{"non-discoverable EdDSA", keystore.CreateRequest{Algorithm: keystore.EdDSA}, false},
		{"discoverable ES256", keystore.CreateRequest{Algorithm: keystore.ES256, Discoverable: true, RPID: rpID, User: keystore.User{ID: []byte("u")}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.RPIDHash = app
			cred, err := d.store.Create(req)
			if err != nil {
				t.Fatal(err)
			}
			want := SWWrongData
			if tc.usable {
				want = SWConditionsNotSatisfied
			}
			if _, sw := d.send(extended(InsAuthenticate, AuthCheckOnly, authenticateData(testChallenge, app, cred.ID))); sw != want {
				t.Fatalf("check-only: %v, want %v", sw, want)
			}
			data, sw := d.send(extended(InsAuthenticate, AuthEnforceUserPresence, authenticateData(testChallenge, app, cred.ID)))
			if !tc.usable {
				if sw != SWWrongData {
					t.Fatalf("authenticate: %v, want SW_WRONG_DATA", sw)
				}
				return
			}
			if sw != SWNoError {
				t.Fatalf("authenticate: %v", sw)
			}
			if up, _ := verifyAuthentication(t, data, cred.PublicKey.(*ecdsa.PublicKey), app, testChallenge); up != flagUserPresence {
				t.Errorf("user presence 0x%02x", up)
			}
		})
	}
}

// TestNoPresence: without a Presence, what needs the user never succeeds,
// and what does not still works.
func TestNoPresence(t *testing.T) {
	d := newTestU2F(t)
	reg := d.register("https://example.com")
	d.a.presence = nil
	d.a.presenceWait = 0
	app := appParam("https://example.com")
	if _, sw := d.send(extended(InsRegister, 0, slices.Concat(testChallenge[:], app[:]))); sw != SWConditionsNotSatisfied {
		t.Errorf("register: %v, want SW_CONDITIONS_NOT_SATISFIED", sw)
	}
	if _, sw := d.send(extended(InsAuthenticate, AuthEnforceUserPresence, authenticateData(testChallenge, app, reg.keyHandle))); sw != SWConditionsNotSatisfied {
		t.Errorf("enforce: %v, want SW_CONDITIONS_NOT_SATISFIED", sw)
	}
	data, sw := d.send(extended(InsAuthenticate, AuthDontEnforceUserPresence, authenticateData(testChallenge, app, reg.keyHandle)))
	if sw != SWNoError {
		t.Fatalf("don't enforce: %v", sw)
	}
	if up, _ := verifyAuthentication(t, data, reg.publicKey, app, testChallenge); up != 0 {
		t.Errorf("user presence 0x%02x without a user", up)
	}
}

func TestNew(t *testing.T) {
	d := newTestU2F(t)
	if _, err := New(Config{Keystore: d.store}); err == nil {
		t.Error("New without an Attester")
	}
	if _, err := New(Config{Attester: d.a.attester}); err == nil {
		t.Error("New without a Keystore")
	}
}

// TestHandleContext: a request whose context is already cancelled does not
// wait for the user.
func TestHandleContext(t *testing.T) {
	d := newTestU2F(t)
	block := make(chan struct{})
	defer close(block)
	d.presence.setAnswer(func(ctx context.Context) error {
		select {
		case <-block:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	d.a.presenceWait = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	app := appParam("https://example.com")
	_, sw := splitResponse(t, d.a.Handle(ctx, extended(InsRegister, 0, slices.Concat(testChallenge[:], app[:]))))
	if sw != SWConditionsNotSatisfied {
		t.Fatalf("%v, want SW_CONDITIONS_NOT_SATISFIED", sw)
	}
	d.a.mu.Lock()
	defer d.a.mu.Unlock()
	if d.a.prompt != nil {
		t.Error("the question stays open after the request was cancelled")
	}
}

// TestInternalFailure: a keystore failure and a panic inside a handler both
// answer SW_NO_PRECISE_DIAGNOSIS and are logged as errors.
func TestInternalFailure(t *testing.T) {
	d := newTestU2F(t)
	app := appParam("https://example.com")
	reg := d.register("https://example.com")
	if err := d.store.Close(); err != nil {
		t.Fatal(err)
	}
	for _, apdu := range [][]byte{
		extended(InsRegister, 0, slices.Concat(testChallenge[:], app[:])),
		extended(InsAuthenticate, AuthCheckOnly, authenticateData(testChallenge, app, reg.keyHandle)),
	} {
		if _, sw := d.send(apdu); sw != SWNoPreciseDiagnosis {
			t.Errorf("INS 0x%02x on a closed keystore: %v, want SW_NO_PRECISE_DIAGNOSIS", apdu[1], sw)
		}
	}
	panicking := instruction{"PANIC", func(*Authenticator, context.Context, command) ([]byte, error) { panic("bug") }}
	if _, err := d.a.run(context.Background(), panicking, command{}); statusWordOf(err) != SWNoPreciseDiagnosis {
		t.Errorf("a panicking handler: %v", err)
	}
	if logs := d.logs.String(); !strings.Contains(logs, "level=ERROR msg=\"U2F request failed\"") || !strings.Contains(logs, "U2F request panicked") {
		t.Errorf("failures not logged as errors:\n%s", logs)
	}
}
