package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/hid"
	"github.com/vauth/vauth/hid/socket"
	"github.com/vauth/vauth/internal/control"
	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/internal/demo"
	"github.com/vauth/vauth/webauthn"
)

// runCtl runs `vauth --store store ctl args...`, fails the test unless it
// exits 0, and decodes its JSON answer into out when out is not nil.
func runCtl(t *testing.T, store string, out any, args ...string) {
	t.Helper()
	stdout, stderr, status := vauth(t, append([]string{"--store", store, "ctl"}, args...)...)
	if status != 0 {
		t.Fatalf("vauth ctl %s: exit %d: %s", strings.Join(args, " "), status, stderr)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(stdout), out); err != nil {
			t.Fatalf("vauth ctl %s printed %q: %v", strings.Join(args, " "), stdout, err)
		}
	}
}

func domName(err error) string {
	var we *webauthn.Error
	if errors.As(err, &we) {
		return we.Name
	}
	return ""
}

// TestCtl drives every control API operation through `vauth ctl` against
// a `vauth run` on the virtual cable, with a go-webauthn relying party
// checking what each does: faults break its verification in the expected
// way, presence and user verification decide ceremonies, imported
// credentials sign in, and every event is reported.
func TestCtl(t *testing.T) {
	store := t.TempDir()
	d := startDaemon(t, store, "--uv", "always", "--attestation", "packed", "--keystore", "soft")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c := dialClient(t, d)
	rp, err := demo.NewRP(demo.RPID, demo.Origin)
	if err != nil {
		t.Fatal(err)
	}
	var info control.Info
	runCtl(t, store, &info, "info")
	if info.Keystore != "soft" || !info.HasUserVerification || info.PIN.PINSet {
		t.Fatalf("ctl info = %+v", info)
	}
	alice := &demo.User{ID: []byte("alice"), Name: "alice@example.com", DisplayName: "Alice"}
	if _, err := rp.Register(ctx, c, alice, gowebauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired)); err != nil {
		t.Fatal(err)
	}
	var creds control.Credentials
	runCtl(t, store, &creds, "creds", "list")
	if len(creds.Credentials) != 1 || creds.Credentials[0].UserName != "alice@example.com" || string(creds.Credentials[0].CredentialID) != string(alice.Credentials[0].ID) {
		t.Fatalf("ctl creds list = %+v", creds)
	}
	aliceID := base64.RawURLEncoding.EncodeToString(alice.Credentials[0].ID)
	runCtl(t, store, nil, "creds", "rename", aliceID, "--user-display-name", "Alice Example")
	runCtl(t, store, &creds, "creds", "list")
	if c := creds.Credentials[0]; c.UserName != "alice@example.com" || c.UserDisplayName != "Alice Example" || string(c.PublicKey) != string(alice.Credentials[0].PublicKey) {
		t.Fatalf("ctl creds list after ctl creds rename = %+v", c)
	}
	if _, stderr, status := vauth(t, "--store", store, "ctl", "creds", "rename", "Tm9wZQ", "--user-name", "x"); status != exitNotFound || !strings.Contains(stderr, "no discoverable credential") {
		t.Fatalf("ctl creds rename of an unknown credential: exit %d, %s", status, stderr)
	}
	uvRequired := gowebauthn.WithUserVerification(protocol.VerificationRequired)

	t.Run("faults", func(t *testing.T) {
		for _, tc := range []struct {
			args    []string
			opts    []gowebauthn.LoginOption
			wantErr string
		}{
			{[]string{"--corrupt-signature"}, nil, "Error validating the assertion signature"},
			{[]string{"--clear-up"}, nil, "User presence required but flag not set"},
			{[]string{"--clear-uv"}, []gowebauthn.LoginOption{uvRequired}, "User verification required but flag not set"},
			{[]string{"--status", "CTAP2_ERR_OPERATION_DENIED", "--command", "getAssertion"}, nil, "NotAllowedError"},
		} {
			runCtl(t, store, nil, append([]string{"faults", "set"}, tc.args...)...)
			var armed control.Faults
			runCtl(t, store, &armed, "faults")
			if armed == (control.Faults{}) {
				t.Fatalf("ctl faults set %v armed nothing", tc.args)
			}
			if _, _, err := rp.Login(ctx, c, alice, tc.opts...); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("sign-in after ctl faults set %v = %v, want an error mentioning %q", tc.args, err, tc.wantErr)
			}
			if _, _, err := rp.Login(ctx, c, alice, tc.opts...); err != nil {
				t.Fatalf("sign-in after the fault %v struck: %v", tc.args, err)
			}
		}
		runCtl(t, store, nil, "faults", "set", "--delay", "200ms")
		var armed control.Faults
		runCtl(t, store, &armed, "faults")
		if armed.Delay != control.Duration(200*time.Millisecond) {
			t.Fatalf("ctl faults = %+v, want a 200ms delay", armed)
		}
		start := time.Now()
		if _, _, err := rp.Login(ctx, c, alice); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took < 400*time.Millisecond {
			t.Errorf("sign-in took %v with 200ms per command", took)
		}
		runCtl(t, store, nil, "faults", "clear")
		var cleared control.Faults
		runCtl(t, store, &cleared, "faults")
		if cleared != (control.Faults{}) {
			t.Fatalf("ctl faults after clear = %+v", cleared)
		}
	})

	t.Run("uv", func(t *testing.T) {
		runCtl(t, store, nil, "uv", "false")
		if _, _, err := rp.Login(ctx, c, alice, uvRequired); domName(err) != webauthn.NotAllowedError {
			t.Fatalf("sign-in after ctl uv false = %v, want NotAllowedError", err)
		}
		runCtl(t, store, nil, "uv", "true")
		if _, _, err := rp.Login(ctx, c, alice, uvRequired); err != nil {
			t.Fatalf("sign-in after ctl uv true: %v", err)
		}
	})

	t.Run("presence", func(t *testing.T) {
		runCtl(t, store, nil, "presence", "policy", "wait")
		var st control.PresenceState
		runCtl(t, store, &st, "presence")
		if st.Policy != control.PolicyWait || st.UVPolicy != control.PolicyApprove {
			t.Fatalf("ctl presence = %+v", st)
		}
		for _, verb := range []string{"approve", "deny"} {
			done := make(chan error, 1)
			go func() {
				_, _, err := rp.Login(ctx, c, alice)
				done <- err
			}()
			var pr control.PendingRequest
			runCtl(t, store, &pr, "presence", verb, "--wait", "20s")
			if pr.Op != "getAssertion" || pr.RPID != demo.RPID {
				t.Errorf("ctl presence %s answered %+v", verb, pr)
			}
			err := <-done
			if verb == "approve" && err != nil {
				t.Fatalf("sign-in approved with ctl: %v", err)
			} else if verb == "deny" && domName(err) != webauthn.NotAllowedError {
				t.Fatalf("sign-in denied with ctl = %v, want NotAllowedError", err)
			}
		}
		runCtl(t, store, nil, "presence", "policy", "deny")
		if _, _, err := rp.Login(ctx, c, alice); domName(err) != webauthn.NotAllowedError {
			t.Fatalf("sign-in with policy deny = %v, want NotAllowedError", err)
		}
		runCtl(t, store, nil, "presence", "policy", "prompt")
		if _, stderr, status := vauth(t, "--store", store, "ctl", "presence", "approve"); status != exitNotFound || !strings.Contains(stderr, "no request waits") {
			t.Fatalf("ctl presence approve with nothing pending: exit %d, %s", status, stderr)
		}
	})

	t.Run("pin and power-cycle", func(t *testing.T) {
		runCtl(t, store, nil, "pin", "set", "--pin", "246810")
		var pin control.PINState
		runCtl(t, store, &pin, "pin")
		if !pin.PINSet || pin.PINRetries != 8 {
			t.Fatalf("ctl pin = %+v", pin)
		}
		tr, err := socket.Dial(d.socket)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		hc, err := hid.NewClient(tr)
		if err != nil {
			t.Fatal(err)
		}
		ctap := client.New(hc)
		for range 3 {
			if _, err := ctap.GetPinToken(ctx, 0, "000000"); err == nil {
				t.Fatal("a wrong PIN worked")
			}
		}
		var se *ctap2.StatusError
		if _, err := ctap.GetPinToken(ctx, 0, "246810"); !errors.As(err, &se) || se.Status != ctap2.CTAP2ErrPinAuthBlocked {
			t.Fatalf("the right PIN after three wrong ones = %v, want CTAP2_ERR_PIN_AUTH_BLOCKED", err)
		}
		runCtl(t, store, nil, "power-cycle")
		if _, err := ctap.GetPinToken(ctx, 0, "246810"); err != nil {
			t.Fatalf("the right PIN after ctl power-cycle: %v", err)
		}
		if _, stderr, status := vauth(t, "--store", store, "ctl", "pin", "change", "--current-pin", "000000", "--new-pin", "135790"); status != exitError || !strings.Contains(stderr, "CTAP2_ERR_PIN_INVALID") {
			t.Fatalf("ctl pin change with a wrong current PIN: exit %d, %s", status, stderr)
		}
		runCtl(t, store, &pin, "pin")
		if pin.PINRetries != 7 {
			t.Fatalf("ctl pin after a wrong current PIN = %+v, want 7 retries", pin)
		}
		runCtl(t, store, nil, "pin", "change", "--current-pin", "246810", "--new-pin", "135790")
		if _, err := ctap.GetPinToken(ctx, 0, "135790"); err != nil {
			t.Fatalf("the new PIN after ctl pin change: %v", err)
		}
		runCtl(t, store, nil, "pin", "change", "--current-pin", "135790", "--new-pin", "246810")
		runCtl(t, store, nil, "pin", "set", "--pin-retries", "0")
		runCtl(t, store, &pin, "pin")
		if pin.PINRetries != 0 {
			t.Fatalf("ctl pin after --pin-retries 0 = %+v", pin)
		}
		if _, err := ctap.GetPinToken(ctx, 0, "246810"); !errors.As(err, &se) || se.Status != ctap2.CTAP2ErrPinBlocked {
			t.Fatalf("the PIN with no retries = %v, want CTAP2_ERR_PIN_BLOCKED", err)
		}
		runCtl(t, store, nil, "pin", "set", "--none")
		runCtl(t, store, &pin, "pin")
		if pin.PINSet {
			t.Fatalf("ctl pin after --none = %+v", pin)
		}
		if _, stderr, status := vauth(t, "--store", store, "ctl", "pin", "set", "--pin", "12"); status != exitError || !strings.Contains(stderr, "PIN") {
			t.Fatalf("ctl pin set --pin 12: exit %d, %s", status, stderr)
		}
	})

	t.Run("import, remove, reset, events", func(t *testing.T) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		keyFile := filepath.Join(t.TempDir(), "key.pem")
		if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		var added control.Credential
		runCtl(t, store, &added, "creds", "add", "--rp-id", demo.RPID, "--key", keyFile, "--resident",
			"--user-handle", base64.RawURLEncoding.EncodeToString([]byte("bob")), "--user-name", "bob@example.com", "--sign-count", "41")
		if len(added.CredentialID) == 0 || added.SignCount != 41 || added.Algorithm != cose.AlgES256 {
			t.Fatalf("ctl creds add = %+v", added)
		}
		coseKey, err := cose.Marshal(&key.PublicKey, cose.AlgES256)
		if err != nil {
			t.Fatal(err)
		}
		bob := &demo.User{ID: []byte("bob"), Name: "bob@example.com", Credentials: []gowebauthn.Credential{{
			ID: added.CredentialID, PublicKey: coseKey, AttestationType: "none", Authenticator: gowebauthn.Authenticator{SignCount: 41},
		}}}
		rp.Enroll(bob)
		who, cred, err := rp.Login(ctx, c, nil) // a passkey sign-in: the newest passkey, bob's
		if err != nil || who != bob || cred.Authenticator.SignCount != 42 {
			t.Fatalf("passkey sign-in with the imported credential: %v, %v", err, cred)
		}
		var events []control.Event
		stdout, stderr, status := vauth(t, "--store", store, "ctl", "events")
		if status != 0 {
			t.Fatalf("ctl events: %s", stderr)
		}
		for line := range strings.Lines(stdout) {
			var e control.Event
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("ctl events line %q: %v", line, err)
			}
			events = append(events, e)
		}
		if len(events) < 3 || events[0].Type != "registered" {
			t.Fatalf("ctl events: %+v", events)
		}
		// The import, then the passkey sign-in's assertions: the browser's
		// part collects one of each passkey (getNextAssertion) and picks.
		last := events[len(events)-1]
		if added, bobs := events[len(events)-3], events[len(events)-2]; added.Type != "added" || bobs.Type != "asserted" || bobs.SignCount != 42 || string(bobs.UserHandle) != "bob" || last.Type != "asserted" || string(last.UserHandle) != "alice" {
			t.Fatalf("ctl events ends with %+v; want bob's import and both passkeys' assertions", events[len(events)-3:])
		}
		// A long-poll and a follower see the next event.
		follow := exec.Command(vauthBin, "--store", store, "ctl", "events", "--follow", "--since", jsonNumber(last.Seq))
		pipe, err := follow.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := follow.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = follow.Process.Kill(); _ = follow.Wait() }()
		polled := make(chan string, 1)
		go func() {
			out, _, _ := vauth(t, "--store", store, "ctl", "events", "--since", jsonNumber(last.Seq), "--wait", "30s")
			polled <- out
		}()
		time.Sleep(200 * time.Millisecond)
		runCtl(t, store, nil, "creds", "remove", base64.RawURLEncoding.EncodeToString(added.CredentialID))
		for name, line := range map[string]string{"--wait": <-polled, "--follow": firstLine(t, pipe)} {
			var e control.Event
			if err := json.Unmarshal([]byte(line), &e); err != nil || e.Type != "deleted" || string(e.CredentialID) != string(added.CredentialID) {
				t.Errorf("ctl events %s printed %q (%v), want bob's deletion", name, line, err)
			}
		}
		if _, _, err := rp.Login(ctx, c, bob); domName(err) != webauthn.NotAllowedError {
			t.Fatalf("sign-in with a removed credential = %v, want NotAllowedError", err)
		}
		if _, stderr, status := vauth(t, "--store", store, "ctl", "creds", "remove", base64.RawURLEncoding.EncodeToString(added.CredentialID)); status != exitNotFound {
			t.Fatalf("removing it again: exit %d, %s; want %d", status, stderr, exitNotFound)
		}
		runCtl(t, store, nil, "creds", "remove-all")
		runCtl(t, store, &creds, "creds", "list")
		if len(creds.Credentials) != 0 {
			t.Fatalf("ctl creds list after remove-all = %+v", creds)
		}
		runCtl(t, store, nil, "pin", "set", "--pin", "1234")
		runCtl(t, store, nil, "reset")
		var pin control.PINState
		runCtl(t, store, &pin, "pin")
		if pin.PINSet {
			t.Fatal("the PIN survived ctl reset")
		}
		stdout, _, _ = vauth(t, "--store", store, "ctl", "events", "--since", jsonNumber(last.Seq+1))
		if !strings.Contains(stdout, `"type":"reset"`) {
			t.Fatalf("no reset event after ctl reset: %s", stdout)
		}
	})
}

func jsonNumber(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// firstLine reads one line from r, or fails after a while.
func firstLine(t *testing.T, r interface{ Read([]byte) (int, error) }) string {
	t.Helper()
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(r)
		s.Scan()
		line <- s.Text()
	}()
	select {
	case l := <-line:
		return l
	case <-time.After(30 * time.Second):
		t.Fatal("no line within 30s")
		return ""
	}
}

// The TCP control API wants its bearer token, which the daemon keeps in
// the store; without a daemon, ctl says so.
func TestCtlTCP(t *testing.T) {
	store := t.TempDir()
	startDaemon(t, store, "--control-tcp", "127.0.0.1:0")
	ep, err := control.ReadTCPEndpoint(store)
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, status := vauth(t, "ctl", "--control-url", ep.URL, "--token", ep.Token, "info")
	if status != 0 || !strings.Contains(stdout, `"keystore"`) {
		t.Fatalf("ctl info over TCP: exit %d, %s%s", status, stdout, stderr)
	}
	if _, stderr, status := vauth(t, "ctl", "--control-url", ep.URL, "info"); status == 0 || !strings.Contains(stderr, "bearer token") {
		t.Fatalf("ctl info over TCP without the token: exit %d, %s", status, stderr)
	}
	if _, stderr, status := vauth(t, "--store", t.TempDir(), "ctl", "info"); status == 0 || !strings.Contains(stderr, "no vauth is running") {
		t.Fatalf("ctl info without a daemon: exit %d, %s", status, stderr)
	}
	if _, stderr, status := vauth(t, "run", "--store", t.TempDir(), "--transport", "unix:"+filepath.Join(t.TempDir(), "s"), "--presence", "always", "--control-tcp", "0.0.0.0:0"); status != exitUsage || !strings.Contains(stderr, "loopback") {
		t.Fatalf("run --control-tcp 0.0.0.0:0: exit %d, %s", status, stderr)
	}
}
