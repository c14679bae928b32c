package control

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/internal/demo"
	"github.com/vauth/vauth/internal/presence"
	"github.com/vauth/vauth/webauthn"
)

// fixture is a running authenticator with its control API served on its
// socket, a control client, a WebAuthn client and a go-webauthn relying
// party.
type fixture struct {
	srv    *Server
	ctl    *Client
	client *webauthn.Client
	rp     *demo.RP
	ctx    context.Context
}

func start(t *testing.T, opts daemon.Options) *fixture {
	t.Helper()
	opts.Store, opts.Keystore = t.TempDir(), "soft"
	if opts.Presence == nil {
		opts.Presence = presence.Always()
	}
	srv, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	l, err := ListenUnix(opts.Store)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, l, "", nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	ctl, err := Dial(opts.Store)
	if err != nil {
		t.Fatal(err)
	}
	c, err := demo.Connect(ctx, srv.Daemon(), demo.Origin)
	if err != nil {
		t.Fatal(err)
	}
	rp, err := demo.NewRP(demo.RPID, demo.Origin)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, ctl: ctl, client: c, rp: rp, ctx: ctx}
}

// register makes a passkey for a new user at the relying party.
func (f *fixture) register(t *testing.T, name string, opts ...gowebauthn.RegistrationOption) *demo.User {
	t.Helper()
	u := &demo.User{ID: []byte("id-" + name), Name: name, DisplayName: name}
	opts = append([]gowebauthn.RegistrationOption{gowebauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired)}, opts...)
	if _, err := f.rp.Register(f.ctx, f.client, u, opts...); err != nil {
		t.Fatalf("registration: %v", err)
	}
	return u
}

// domName is the DOMException name of a WebAuthn client error.
func domName(err error) string {
	var we *webauthn.Error
	if errors.As(err, &we) {
		return we.Name
	}
	return ""
}

func pkcs8(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestImportedCredentialSignsIn is the scripted test of the issue: a
// credential imported through the control API (WebDriver's Add
// Credential), which the relying party already knows, signs in at
// go-webauthn: by username and as a passkey, with the counter continuing
// from the imported value, for several key types.
func TestImportedCredentialSignsIn(t *testing.T) {
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		key      any
		pub      any
		alg      int
		resident bool
	}{
		{"ES256 resident", p256, &p256.PublicKey, cose.AlgES256, true},
		{"ES256 non-resident", p256, &p256.PublicKey, cose.AlgES256, false},
		{"EdDSA resident", ed, ed.Public(), cose.AlgEdDSA, true},
		{"ES384 resident", p384, &p384.PublicKey, cose.AlgES384, true},
		{"PS256 non-resident", rsaKey, &rsaKey.PublicKey, cose.AlgPS256, false}, // an RSA key's algorithm is asked for
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, daemon.Options{})
			added, err := f.ctl.AddCredential(f.ctx, Credential{
				RPID: demo.RPID, IsResidentCredential: tc.resident, PrivateKey: pkcs8(t, tc.key), Algorithm: tc.alg,
				UserHandle: []byte("imported"), UserName: "imp@example.com", SignCount: 100,
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(added.CredentialID) == 0 || added.Algorithm != tc.alg || added.SignCount != 100 || added.IsResidentCredential != tc.resident {
				t.Fatalf("AddCredential = %+v", added)
			}
			coseKey, err := cose.Marshal(tc.pub, tc.alg)
			if err != nil {
				t.Fatal(err)
			}
			if string(added.PublicKey) != string(coseKey) {
				t.Fatalf("AddCredential's publicKey %x, want the imported key's %x", added.PublicKey, coseKey)
			}
			u := &demo.User{ID: []byte("imported"), Name: "imp@example.com", Credentials: []gowebauthn.Credential{{
				ID: added.CredentialID, PublicKey: coseKey, AttestationType: "none",
				Authenticator: gowebauthn.Authenticator{SignCount: 100},
			}}}
			f.rp.Enroll(u)
			who, cred, err := f.rp.Login(f.ctx, f.client, u)
			if err != nil {
				t.Fatalf("sign-in by username with the imported credential: %v", err)
			}
			if who != u || cred.Authenticator.SignCount != 101 || cred.Authenticator.CloneWarning {
				t.Fatalf("signed in %s with counter %d (clone warning %v), want 101", who.Name, cred.Authenticator.SignCount, cred.Authenticator.CloneWarning)
			}
			_, _, err = f.rp.Login(f.ctx, f.client, nil)
			if tc.resident && err != nil {
				t.Fatalf("passkey sign-in with the imported credential: %v", err)
			} else if !tc.resident && domName(err) != webauthn.NotAllowedError {
				t.Fatalf("passkey sign-in with a non-resident credential = %v, want NotAllowedError", err)
			}
			creds, err := f.ctl.Credentials(f.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tc.resident && (len(creds) != 1 || string(creds[0].CredentialID) != string(added.CredentialID) || creds[0].UserName != "imp@example.com" || creds[0].SignCount < 101 || string(creds[0].PublicKey) != string(coseKey)) {
				t.Fatalf("Credentials = %+v", creds)
			} else if !tc.resident && len(creds) != 0 {
				t.Fatalf("Credentials lists %d non-resident credentials", len(creds))
			}
		})
	}
}

func TestAddCredentialRefusals(t *testing.T) {
	f := start(t, daemon.Options{})
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		c    Credential
	}{
		{"no RP ID", Credential{PrivateKey: pkcs8(t, p256)}},
		{"not PKCS#8", Credential{RPID: "example.com", PrivateKey: []byte("nope")}},
		{"P-224", Credential{RPID: "example.com", PrivateKey: pkcs8(t, p224)}},
		{"P-384 as ES256", Credential{RPID: "example.com", PrivateKey: pkcs8(t, p384), Algorithm: cose.AlgES256}},
		{"resident without a user handle", Credential{RPID: "example.com", IsResidentCredential: true, PrivateKey: pkcs8(t, p256)}},
		{"credProtect 4", Credential{RPID: "example.com", PrivateKey: pkcs8(t, p256), CredProtect: 4}},
		// The keystore's limits (WebAuthn §5.4.3: a user handle is at most
		// 64 bytes); an import is not truncated.
		{"a user handle of 65 bytes", Credential{RPID: "example.com", IsResidentCredential: true, PrivateKey: pkcs8(t, p256), UserHandle: make([]byte, 65)}},
		{"a user name of 65 bytes", Credential{RPID: "example.com", IsResidentCredential: true, PrivateKey: pkcs8(t, p256), UserHandle: []byte("u"), UserName: strings.Repeat("n", 65)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.ctl.AddCredential(f.ctx, tc.c)
			var ae *APIError
			if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest || !errors.Is(err, ErrInvalid) {
				t.Fatalf("AddCredential = %v, want a 400", err)
			}
		})
	}
}

// Credentials made by registration are listed, removed one by one or all
// at once (WebDriver's Get/Remove/Remove All Credentials), and a removed
// passkey no longer signs in.
func TestRemoveCredentials(t *testing.T) {
	f := start(t, daemon.Options{})
	alice := f.register(t, "alice")
	f.register(t, "bob")
	f.register(t, "carol")
	creds, err := f.ctl.Credentials(f.ctx)
	if err != nil || len(creds) != 3 {
		t.Fatalf("Credentials = %d, %v; want 3", len(creds), err)
	}
	if creds[0].UserName != "carol" || creds[0].RPID != demo.RPID || !creds[0].IsResidentCredential || creds[0].Algorithm != cose.AlgES256 || creds[0].Created == nil {
		t.Errorf("newest credential %+v", creds[0])
	}
	if err := f.ctl.RemoveCredential(f.ctx, alice.Credentials[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.rp.Login(f.ctx, f.client, alice); domName(err) != webauthn.NotAllowedError {
		t.Fatalf("sign-in with a removed credential = %v, want NotAllowedError", err)
	}
	if err := f.ctl.RemoveCredential(f.ctx, alice.Credentials[0].ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removing it again = %v, want not found", err)
	}
	if err := f.ctl.RemoveAllCredentials(f.ctx); err != nil {
		t.Fatal(err)
	}
	if creds, err := f.ctl.Credentials(f.ctx); err != nil || len(creds) != 0 {
		t.Fatalf("after Remove All: %d credentials, %v", len(creds), err)
	}
}

// Set User Verified decides whether built-in user verification succeeds:
// a relying party that requires user verification gets it or a
// NotAllowedError.
func TestSetUserVerified(t *testing.T) {
	f := start(t, daemon.Options{UV: presence.Always()})
	u := f.register(t, "uv", gowebauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
		ResidentKey: protocol.ResidentKeyRequirementRequired, UserVerification: protocol.VerificationRequired}))
	login := func() error {
		_, cred, err := f.rp.Login(f.ctx, f.client, u, gowebauthn.WithUserVerification(protocol.VerificationRequired))
		if err == nil && !cred.Flags.UserVerified {
			t.Fatal("signed in without the UV flag")
		}
		return err
	}
	if err := f.ctl.SetUserVerified(f.ctx, false); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.ctl.Presence(f.ctx); st.UVPolicy != PolicyDeny {
		t.Errorf("uv policy %q after SetUserVerified(false)", st.UVPolicy)
	}
	if err := login(); domName(err) != webauthn.NotAllowedError {
		t.Fatalf("sign-in with user verification failing = %v, want NotAllowedError", err)
	}
	if err := f.ctl.SetUserVerified(f.ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := login(); err != nil {
		t.Fatalf("sign-in with user verification succeeding: %v", err)
	}

	without := start(t, daemon.Options{})
	if err := without.ctl.SetUserVerified(without.ctx, true); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("SetUserVerified without built-in UV = %v, want not supported", err)
	}
}

// blocking is a prompt nobody answers: it waits until it is cancelled.
var blocking = ctap2.PresenceFunc(func(ctx context.Context, _ ctap2.PresenceRequest) error {
	<-ctx.Done()
	return ctx.Err()
})

// The presence policies, and pending requests listed and answered
// through the API: with "wait", and with "prompt" racing a prompt nobody
// answers.
func TestPresence(t *testing.T) {
	f := start(t, daemon.Options{Presence: blocking})
	if err := f.ctl.SetPolicy(f.ctx, KindPresence, PolicyApprove); err != nil {
		t.Fatal(err)
	}
	u := f.register(t, "alice")
	if err := f.ctl.SetPolicy(f.ctx, "", PolicyDeny); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.rp.Login(f.ctx, f.client, u); domName(err) != webauthn.NotAllowedError {
		t.Fatalf("sign-in with presence denied = %v, want NotAllowedError", err)
	}
	if _, err := f.ctl.Answer(f.ctx, Answer{}, true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("answering with nothing pending = %v, want not found", err)
	}
	for _, tc := range []struct {
		policy  Policy
		approve bool
	}{
		{PolicyWait, true},
		{PolicyWait, false},
		{PolicyPrompt, true},
		{PolicyPrompt, false},
	} {
		if err := f.ctl.SetPolicy(f.ctx, KindPresence, tc.policy); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, _, err := f.rp.Login(f.ctx, f.client, u)
			done <- err
		}()
		var pending []PendingRequest
		for deadline := time.Now().Add(10 * time.Second); len(pending) == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			st, err := f.ctl.Presence(f.ctx)
			if err != nil {
				t.Fatal(err)
			}
			pending = st.Pending
		}
		if len(pending) != 1 || pending[0].Kind != KindPresence || pending[0].Op != "getAssertion" || pending[0].RPID != demo.RPID || pending[0].User != "alice" {
			t.Fatalf("%s: pending %+v, want alice's getAssertion", tc.policy, pending)
		}
		got, err := f.ctl.Answer(f.ctx, Answer{ID: pending[0].ID, Wait: Duration(time.Second)}, tc.approve)
		if err != nil || got.ID != pending[0].ID {
			t.Fatalf("%s: Answer = %+v, %v", tc.policy, got, err)
		}
		err = <-done
		if tc.approve && err != nil {
			t.Fatalf("%s: sign-in approved through the API: %v", tc.policy, err)
		} else if !tc.approve && domName(err) != webauthn.NotAllowedError {
			t.Fatalf("%s: sign-in denied through the API = %v, want NotAllowedError", tc.policy, err)
		}
	}
	// Answer waits for a request that is yet to come.
	if err := f.ctl.SetPolicy(f.ctx, KindPresence, PolicyWait); err != nil {
		t.Fatal(err)
	}
	answered := make(chan error, 1)
	go func() {
		_, err := f.ctl.Answer(f.ctx, Answer{Wait: Duration(10 * time.Second)}, true)
		answered <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if _, _, err := f.rp.Login(f.ctx, f.client, u); err != nil {
		t.Fatalf("sign-in approved by a waiting Answer: %v", err)
	}
	if err := <-answered; err != nil {
		t.Fatal(err)
	}
	if err := f.ctl.SetPolicy(f.ctx, KindPresence, "maybe"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown policy = %v, want invalid", err)
	}
}

// The PIN state set through the API is the state CTAP sees: a PIN makes
// the client need it for user verification, retries at 0 block it, a bad
// PIN or count is refused, and "" removes it.
func TestPINState(t *testing.T) {
	f := start(t, daemon.Options{})
	pin := "2468"
	if err := f.ctl.SetPIN(f.ctx, PINChange{PIN: &pin}); err != nil {
		t.Fatal(err)
	}
	st, err := f.ctl.PIN(f.ctx)
	if err != nil || !st.PINSet || st.PINRetries != 8 || st.MinPINLength != 4 {
		t.Fatalf("PIN = %+v, %v", st, err)
	}
	uvRequired := gowebauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
		ResidentKey: protocol.ResidentKeyRequirementRequired, UserVerification: protocol.VerificationRequired})
	u := &demo.User{ID: []byte("pin"), Name: "pin"}
	if _, err := f.rp.Register(f.ctx, f.client, u, uvRequired); domName(err) != webauthn.NotAllowedError {
		t.Fatalf("registration without the PIN = %v, want NotAllowedError", err)
	}
	f.client.PIN = pin
	cred, err := f.rp.Register(f.ctx, f.client, u, uvRequired)
	if err != nil || !cred.Flags.UserVerified {
		t.Fatalf("registration with the PIN: %v", err)
	}
	zero := 0
	if err := f.ctl.SetPIN(f.ctx, PINChange{PINRetries: &zero}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.rp.Login(f.ctx, f.client, u, gowebauthn.WithUserVerification(protocol.VerificationRequired)); domName(err) != webauthn.NotAllowedError {
		t.Fatalf("sign-in with the PIN blocked = %v, want NotAllowedError", err)
	}
	short, nine, yes := "12", 9, true
	for _, bad := range []PINChange{{PIN: &short}, {PINRetries: &nine}, {UVRetries: &nine}} {
		if err := f.ctl.SetPIN(f.ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetPIN(%+v) = %v, want invalid", bad, err)
		}
	}
	if err := f.ctl.SetPIN(f.ctx, PINChange{PIN: &pin, ForcePINChange: &yes}); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.ctl.PIN(f.ctx); !st.ForcePINChange || st.PINRetries != 8 {
		t.Fatalf("PIN = %+v, want forcePinChange and 8 retries", st)
	}
	none := ""
	if err := f.ctl.SetPIN(f.ctx, PINChange{PIN: &none}); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.ctl.PIN(f.ctx); st.PINSet || st.ForcePINChange {
		t.Fatalf("PIN = %+v after removing it", st)
	}
}

// Reset erases credentials and PIN without asking anyone; a power cycle
// lifts the block after three wrong PINs in a row.
func TestResetAndPowerCycle(t *testing.T) {
	f := start(t, daemon.Options{Presence: blocking}) // nobody would approve authenticatorReset
	if err := f.ctl.SetPolicy(f.ctx, KindPresence, PolicyApprove); err != nil {
		t.Fatal(err)
	}
	u := f.register(t, "alice")
	pin := "1357"
	if err := f.ctl.SetPIN(f.ctx, PINChange{PIN: &pin}); err != nil {
		t.Fatal(err)
	}
	ctap := client.New(client.Direct(f.srv.Daemon().Authenticator))
	for i := range 3 {
		_, err := ctap.GetPinToken(f.ctx, 0, "0000")
		var se *ctap2.StatusError
		want := map[bool]ctap2.Status{true: ctap2.CTAP2ErrPinAuthBlocked, false: ctap2.CTAP2ErrPinInvalid}[i == 2]
		if !errors.As(err, &se) || se.Status != want {
			t.Fatalf("wrong PIN %d = %v, want %v", i+1, err, want)
		}
	}
	if _, err := ctap.GetPinToken(f.ctx, 0, pin); err == nil {
		t.Fatal("the right PIN worked before the power cycle")
	}
	if err := f.ctl.PowerCycle(f.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ctap.GetPinToken(f.ctx, 0, pin); err != nil {
		t.Fatalf("the right PIN after the power cycle: %v", err)
	}
	if st, _ := f.ctl.PIN(f.ctx); st.PINRetries != 8 {
		t.Errorf("pinRetries %d after the right PIN, want 8", st.PINRetries)
	}
	if err := f.ctl.SetPolicy(f.ctx, KindPresence, PolicyPrompt); err != nil {
		t.Fatal(err)
	}
	if err := f.ctl.Reset(f.ctx); err != nil {
		t.Fatal(err)
	}
	if creds, err := f.ctl.Credentials(f.ctx); err != nil || len(creds) != 0 {
		t.Fatalf("after Reset: %d credentials, %v", len(creds), err)
	}
	if st, _ := f.ctl.PIN(f.ctx); st.PINSet {
		t.Fatal("the PIN survived Reset")
	}
	if err := f.ctl.SetPolicy(f.ctx, KindPresence, PolicyApprove); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.rp.Login(f.ctx, f.client, u); domName(err) != webauthn.NotAllowedError {
		t.Fatalf("sign-in after Reset = %v, want NotAllowedError", err)
	}
}

// Each fault breaks the ceremony the way it should, visibly to
// go-webauthn, once; then the authenticator works again.
func TestFaults(t *testing.T) {
	f := start(t, daemon.Options{UV: presence.Always(), Attestation: "packed"})
	u := f.register(t, "alice", gowebauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
		ResidentKey: protocol.ResidentKeyRequirementRequired, UserVerification: protocol.VerificationRequired}))
	uvRequired := gowebauthn.WithUserVerification(protocol.VerificationRequired)
	for _, tc := range []struct {
		name    string
		faults  Faults
		opts    []gowebauthn.LoginOption
		wantErr string // in go-webauthn's or the client's error
	}{
		{"corrupt signature", Faults{CorruptSignature: true}, nil, "validating the assertion signature"},
		{"UP cleared", Faults{ClearUP: true}, nil, "User presence required but flag not set"},
		{"UV cleared", Faults{ClearUV: true}, []gowebauthn.LoginOption{uvRequired}, "User verification required but flag not set"},
		{"status for getAssertion", Faults{Status: "CTAP2_ERR_OPERATION_DENIED", Command: "getAssertion"}, nil, webauthn.NotAllowedError},
		{"status for any command", Faults{Status: "0x2e"}, nil, "CTAP2_ERR_NO_CREDENTIALS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := f.ctl.SetFaults(f.ctx, tc.faults); err != nil {
				t.Fatal(err)
			}
			if armed, err := f.ctl.Faults(f.ctx); err != nil || armed == (Faults{}) {
				t.Fatalf("armed faults = %+v, %v", armed, err)
			}
			_, _, err := f.rp.Login(f.ctx, f.client, u, tc.opts...)
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.wantErr)) {
				t.Fatalf("sign-in with %+v = %v, want an error mentioning %q", tc.faults, err, tc.wantErr)
			}
			t.Logf("the relying party saw: %v", err)
			if armed, err := f.ctl.Faults(f.ctx); err != nil || armed != (Faults{}) {
				t.Fatalf("faults still armed after striking: %+v, %v", armed, err)
			}
			if _, _, err := f.rp.Login(f.ctx, f.client, u, tc.opts...); err != nil {
				t.Fatalf("sign-in after the fault struck: %v", err)
			}
		})
	}
	t.Run("corrupt attestation signature", func(t *testing.T) {
		if err := f.ctl.SetFaults(f.ctx, Faults{CorruptSignature: true}); err != nil {
			t.Fatal(err)
		}
		_, err := f.rp.Register(f.ctx, f.client, &demo.User{ID: []byte("b"), Name: "b"}, gowebauthn.WithConveyancePreference(protocol.PreferDirectAttestation))
		if err == nil || !strings.Contains(err.Error(), "Signature validation error") {
			t.Fatalf("registration with a corrupt attestation = %v, want go-webauthn to reject the attestation", err)
		}
	})
	t.Run("status for makeCredential", func(t *testing.T) {
		if err := f.ctl.SetFaults(f.ctx, Faults{Status: "CTAP2_ERR_KEY_STORE_FULL", Command: "authenticatorMakeCredential"}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.rp.Register(f.ctx, f.client, &demo.User{ID: []byte("c"), Name: "c"}); domName(err) != webauthn.ConstraintError {
			t.Fatalf("registration with a full key store = %v, want ConstraintError", err)
		}
	})
	t.Run("delay", func(t *testing.T) {
		const delay = 150 * time.Millisecond
		if err := f.ctl.SetFaults(f.ctx, Faults{Delay: Duration(delay)}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, _, err := f.rp.Login(f.ctx, f.client, u); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took < 2*delay { // getInfo and getAssertion
			t.Errorf("sign-in took %v with a %v delay per command", took, delay)
		}
		ctx, cancel := context.WithTimeout(f.ctx, delay/2)
		defer cancel()
		if _, _, err := f.rp.Login(ctx, f.client, u); domName(err) != webauthn.NotAllowedError {
			t.Fatalf("sign-in timing out in the delay = %v, want NotAllowedError", err)
		}
		if armed, _ := f.ctl.Faults(f.ctx); armed.Delay != Duration(delay) {
			t.Errorf("delay %v disarmed, want it to stay", armed.Delay)
		}
		if err := f.ctl.SetFaults(f.ctx, Faults{}); err != nil {
			t.Fatal(err)
		}
	})
	for _, bad := range []Faults{{Status: "CTAP2_ERR_NONSENSE"}, {Status: "CTAP2_OK"}, {Command: "getAssertion"}, {Status: "0x27", Command: "frobnicate"}, {Delay: -1}} {
		if err := f.ctl.SetFaults(f.ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetFaults(%+v) = %v, want invalid", bad, err)
		}
	}
}

// Every credential event reaches watchers: by long-poll and as server-sent
// events, with what happened to which credential.
func TestEvents(t *testing.T) {
	f := start(t, daemon.Options{})
	watched := make(chan Event, 16)
	wctx, stopWatch := context.WithCancel(f.ctx)
	watchDone := make(chan error, 1)
	go func() {
		watchDone <- f.ctl.Watch(wctx, 0, func(e Event) error { watched <- e; return nil })
	}()
	u := f.register(t, "alice")
	if _, _, err := f.rp.Login(f.ctx, f.client, u); err != nil {
		t.Fatal(err)
	}
	if err := f.ctl.RemoveCredential(f.ctx, u.Credentials[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := f.ctl.Reset(f.ctx); err != nil {
		t.Fatal(err)
	}
	got, err := f.ctl.Events(f.ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"registered", "asserted", "deleted", "reset"}
	if len(got.Events) != len(want) || got.Next != 4 {
		t.Fatalf("events %+v, want %v", got, want)
	}
	for i, e := range got.Events {
		if e.Type != want[i] || e.Seq != uint64(i+1) {
			t.Errorf("event %d = %+v, want %s", i, e, want[i])
		}
		if e.Type != "reset" && (string(e.CredentialID) != string(u.Credentials[0].ID) || e.RPID != demo.RPID || string(e.UserHandle) != string(u.ID) || !e.IsResidentCredential) {
			t.Errorf("event %d = %+v, want alice's credential", i, e)
		}
	}
	if e := got.Events[1]; !e.UP || e.UV || e.SignCount != 1 {
		t.Errorf("asserted event %+v, want UP and counter 1", e)
	}
	for i := range want {
		select {
		case e := <-watched:
			if e.Type != want[i] {
				t.Errorf("streamed event %d = %s, want %s", i, e.Type, want[i])
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("streamed events stopped after %d", i)
		}
	}
	stopWatch()
	if err := <-watchDone; err != nil {
		t.Errorf("Watch: %v", err)
	}
	// A long-poll waits for the next event.
	polled := make(chan Events, 1)
	go func() {
		ev, err := f.ctl.Events(f.ctx, got.Next, 10*time.Second)
		if err != nil {
			t.Error(err)
		}
		polled <- ev
	}()
	time.Sleep(50 * time.Millisecond)
	f.register(t, "bob")
	if ev := <-polled; len(ev.Events) != 1 || ev.Events[0].Type != "registered" || ev.Events[0].UserName != "bob" || ev.Next != 5 {
		t.Fatalf("long-poll = %+v, want bob's registration", ev)
	}
	if ev, err := f.ctl.Events(f.ctx, 5, 0); err != nil || len(ev.Events) != 0 || ev.Next != 5 {
		t.Fatalf("nothing new: %+v, %v", ev, err)
	}
}

// The listing carries each credential's public key: the COSE_Key the
// relying party received at registration, byte for byte, for both
// algorithms.
func TestCredentialPublicKey(t *testing.T) {
	f := start(t, daemon.Options{})
	eddsa := func(o *protocol.PublicKeyCredentialCreationOptions) error {
		o.Parameters = []protocol.CredentialParameter{{Type: protocol.PublicKeyCredentialType, Algorithm: cose.AlgEdDSA}}
		return nil
	}
	users := map[string]*demo.User{"es256": f.register(t, "es256"), "eddsa": f.register(t, "eddsa", eddsa)}
	creds, err := f.ctl.Credentials(f.ctx)
	if err != nil || len(creds) != 2 {
		t.Fatalf("Credentials = %d, %v; want 2", len(creds), err)
	}
	for _, c := range creds {
		u := users[c.UserName]
		if u == nil {
			t.Fatalf("unexpected credential %+v", c)
		}
		if want := u.Credentials[0].PublicKey; string(c.PublicKey) != string(want) {
			t.Errorf("%s: publicKey %x, want what the relying party received, %x", c.UserName, c.PublicKey, want)
		}
		k, err := cose.Parse(c.PublicKey)
		if err != nil || k.Alg != c.Algorithm {
			t.Errorf("%s: publicKey parses to %+v, %v; want algorithm %d", c.UserName, k, err, c.Algorithm)
		}
	}
}

// UpdateUser renames as credential management's updateUserInformation
// does: the names given change, the rest stays, the relying party's user
// handle with it; unknown and non-discoverable credentials are not found.
func TestUpdateUser(t *testing.T) {
	f := start(t, daemon.Options{})
	alice := f.register(t, "alice")
	plain := &demo.User{ID: []byte("id-plain"), Name: "plain"}
	if _, err := f.rp.Register(f.ctx, f.client, plain, gowebauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementDiscouraged)); err != nil {
		t.Fatal(err)
	}
	id := alice.Credentials[0].ID
	name, display, empty := "alice@example.com", "Alice Example", ""
	long := strings.Repeat("a", 63) + "é" // 65 bytes: truncated before the é
	for _, tc := range []struct {
		name                string
		u                   UpdateUser
		wantName, wantDispl string
	}{
		{"name", UpdateUser{UserName: &name}, "alice@example.com", "alice"},
		{"display name", UpdateUser{UserDisplayName: &display}, "alice@example.com", "Alice Example"},
		{"both, one removed", UpdateUser{UserName: &name, UserDisplayName: &empty}, "alice@example.com", ""},
		{"a display name over 64 bytes, truncated", UpdateUser{UserDisplayName: &long}, "alice@example.com", strings.Repeat("a", 63)},
	} {
		if err := f.ctl.UpdateUser(f.ctx, id, tc.u); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		creds, err := f.ctl.Credentials(f.ctx)
		if err != nil || len(creds) != 1 {
			t.Fatalf("Credentials = %d, %v", len(creds), err)
		}
		if c := creds[0]; string(c.UserHandle) != "id-alice" || c.UserName != tc.wantName || c.UserDisplayName != tc.wantDispl {
			t.Errorf("%s: user %q %q (%q), want %q (%q)", tc.name, c.UserHandle, c.UserName, c.UserDisplayName, tc.wantName, tc.wantDispl)
		}
	}
	// The renamed passkey still signs in, as the same user.
	if who, _, err := f.rp.Login(f.ctx, f.client, nil); err != nil || who != alice {
		t.Fatalf("passkey sign-in after the rename: %v, %v", who, err)
	}
	for _, tc := range []struct {
		name string
		id   []byte
		u    UpdateUser
		want error
		code int
	}{
		{"unknown credential", []byte("nope"), UpdateUser{UserName: &name}, ErrNotFound, http.StatusNotFound},
		{"non-discoverable credential", plain.Credentials[0].ID, UpdateUser{UserName: &name}, ErrNotFound, http.StatusNotFound},
		{"no names", id, UpdateUser{}, ErrInvalid, http.StatusBadRequest},
	} {
		err := f.ctl.UpdateUser(f.ctx, tc.id, tc.u)
		var ae *APIError
		if !errors.Is(err, tc.want) || !errors.As(err, &ae) || ae.StatusCode != tc.code {
			t.Errorf("%s: UpdateUser = %v, want HTTP %d", tc.name, err, tc.code)
		}
	}
}

// ChangePIN goes through clientPIN as a platform would: the right current
// PIN replaces it; a wrong one costs a retry and says so with its CTAP
// status; three in a row need a power cycle; the new PIN follows CTAP's
// rules.
func TestChangePIN(t *testing.T) {
	f := start(t, daemon.Options{})
	ctap := client.New(client.Direct(f.srv.Daemon().Authenticator))
	status := func(err error) ctap2.Status {
		var se *ctap2.StatusError
		if errors.As(err, &se) {
			return se.Status
		}
		return ctap2.CTAP2OK
	}
	if err := f.ctl.ChangePIN(f.ctx, "1234", "5678"); status(err) != ctap2.CTAP2ErrPinNotSet {
		t.Fatalf("ChangePIN without a PIN = %v, want CTAP2_ERR_PIN_NOT_SET", err)
	}
	pin := "2468"
	if err := f.ctl.SetPIN(f.ctx, PINChange{PIN: &pin}); err != nil {
		t.Fatal(err)
	}

	err := f.ctl.ChangePIN(f.ctx, "0000", "1357")
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusConflict || status(err) != ctap2.CTAP2ErrPinInvalid {
		t.Fatalf("ChangePIN with a wrong current PIN = %v, want a 409 with CTAP2_ERR_PIN_INVALID", err)
	}
	if st, _ := f.ctl.PIN(f.ctx); st.PINRetries != 7 {
		t.Fatalf("pinRetries %d after a wrong current PIN, want 7", st.PINRetries)
	}
	if err := f.ctl.ChangePIN(f.ctx, pin, "12"); status(err) != ctap2.CTAP2ErrPinPolicyViolation {
		t.Fatalf("ChangePIN to a short PIN = %v, want CTAP2_ERR_PIN_POLICY_VIOLATION", err)
	}
	if err := f.ctl.ChangePIN(f.ctx, pin, strings.Repeat("9", 64)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("ChangePIN to a 64-byte PIN = %v, want invalid", err)
	}
	if err := f.ctl.ChangePIN(f.ctx, pin, "1357"); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.ctl.PIN(f.ctx); !st.PINSet || st.PINRetries != 8 {
		t.Fatalf("PIN = %+v after the change, want 8 retries", st)
	}
	if _, err := ctap.GetPinToken(f.ctx, 0, pin); status(err) != ctap2.CTAP2ErrPinInvalid {
		t.Fatalf("the old PIN after the change = %v, want CTAP2_ERR_PIN_INVALID", err)
	}
	if _, err := ctap.GetPinToken(f.ctx, 0, "1357"); err != nil {
		t.Fatalf("the new PIN after the change: %v", err)
	}

	// Three wrong in a row: the third says a power cycle is needed, and
	// until then even the right PIN is refused.
	for i, want := range []ctap2.Status{ctap2.CTAP2ErrPinInvalid, ctap2.CTAP2ErrPinInvalid, ctap2.CTAP2ErrPinAuthBlocked} {
		if err := f.ctl.ChangePIN(f.ctx, "0000", "8642"); status(err) != want {
			t.Fatalf("wrong current PIN %d = %v, want %v", i+1, err, want)
		}
	}
	if err := f.ctl.ChangePIN(f.ctx, "1357", "8642"); status(err) != ctap2.CTAP2ErrPinAuthBlocked {
		t.Fatalf("the right PIN before the power cycle = %v, want CTAP2_ERR_PIN_AUTH_BLOCKED", err)
	}
	if err := f.ctl.PowerCycle(f.ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.ctl.ChangePIN(f.ctx, "1357", "8642"); err != nil {
		t.Fatalf("the right PIN after the power cycle: %v", err)
	}
}
