package control

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/internal/presence"
	"github.com/vauth/vauth/keystore/tpm/tpmtest"
)

// The socket is the owner's only; the TCP listener is on loopback only,
// records its URL and token 0600, and wants the token.
func TestListeners(t *testing.T) {
	store := t.TempDir()
	srv, err := Open(daemon.Options{Store: store, Keystore: "soft", Presence: presence.Always()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ux, err := ListenUnix(store)
	if err != nil {
		t.Fatal(err)
	}
	defer ux.Close()
	if fi, err := os.Stat(filepath.Join(store, SocketName)); err != nil || fi.Mode().Perm() != 0o600 || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("control socket %v, %v; want a 0600 socket", fi.Mode(), err)
	}
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:0", "localhost:0", "nonsense"} {
		if l, _, err := ListenTCP(store, addr); err == nil {
			l.Close()
			t.Errorf("ListenTCP(%q) succeeded, want loopback addresses only", addr)
		}
	}
	l, ep, err := ListenTCP(store, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(store, TCPFileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, %v; want 0600", TCPFileName, fi.Mode(), err)
	}
	if read, err := ReadTCPEndpoint(store); err != nil || read != ep || !strings.HasPrefix(ep.URL, "http://127.0.0.1:") || len(ep.Token) < 40 {
		t.Fatalf("ReadTCPEndpoint = %+v, %v; listener %+v", read, err, ep)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, l, ep.Token, nil) }()
	for _, token := range []string{"", "wrong", ep.Token + "x"} {
		_, err := DialTCP(ep.URL, token).Info(ctx)
		var ae *APIError
		if !errors.As(err, &ae) || ae.StatusCode != http.StatusUnauthorized {
			t.Errorf("Info with token %q = %v, want 401", token, err)
		}
	}
	info, err := DialTCP(ep.URL, ep.Token).Info(ctx)
	if err != nil || info.Keystore != "soft" || info.AAGUID == "" || info.HasUserVerification {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}

// Bad requests get a 400 with a JSON error, never a crash.
func TestBadRequests(t *testing.T) {
	f := start(t, daemon.Options{})
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/v1/credentials", "{"},
		{"POST", "/v1/credentials", `{"rpId":"example.com","bogus":1}`},
		{"POST", "/v1/credentials", `{"rpId":"example.com","privateKey":"!!"}`},
		{"POST", "/v1/credentials", `{"rpId":"example.com","privateKey":"` + strings.Repeat("A", maxBody) + `"}`},
		{"DELETE", "/v1/credentials/!!", ""},
		{"PATCH", "/v1/credentials/!!", `{"userName":"x"}`},
		{"PATCH", "/v1/credentials/AAAA", `{}`},
		{"PATCH", "/v1/credentials/AAAA", `{"name":"x"}`},
		{"POST", "/v1/pin/change", `{"currentPin":1234}`},
		{"POST", "/v1/presence/approve", `{"wait":"forever"}`},
		{"POST", "/v1/presence/approve", `{"wait":"1h"}`},
		{"POST", "/v1/faults", `{"delay":"soon"}`},
		{"POST", "/v1/pin", `{"pinRetries":"eight"}`},
		{"GET", "/v1/events?since=-1", ""},
		{"GET", "/v1/events?wait=1y", ""},
		{"GET", "/v1/events?limit=0", ""},
	} {
		resp, err := f.ctl.do(f.ctx, tc.method, tc.path, strings.NewReader(tc.body), "")
		var ae *APIError
		if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest || ae.Message == "" {
			t.Errorf("%s %s %.40s = %v, %v; want a 400 with a message", tc.method, tc.path, tc.body, resp, err)
		}
	}
}

// A TPM keystore cannot import: its keys are born in the TPM. The API
// says so with a 501, and nothing is stored.
func TestAddCredentialTPM(t *testing.T) {
	sw := tpmtest.StartSwtpm(t, t.TempDir())
	srv, err := Open(daemon.Options{Store: t.TempDir(), Keystore: "tpm", TPM: sw.Device, Presence: presence.Always()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, err = srv.AddCredential(Credential{RPID: "example.com", PrivateKey: pkcs8(t, key), IsResidentCredential: true, UserHandle: []byte("u")})
	if !errors.Is(err, ErrUnsupported) || statusCode(err) != http.StatusNotImplemented || !strings.Contains(err.Error(), "not supported on a TPM keystore") {
		t.Fatalf("AddCredential on a TPM keystore = %v (HTTP %d), want a 501 saying why", err, statusCode(err))
	}
	if creds, err := srv.Credentials(); err != nil || len(creds) != 0 {
		t.Fatalf("Credentials = %d, %v", len(creds), err)
	}
}
