package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/webauthn"
)

// post sends body to the demo's API and decodes the answer into out; it
// returns the API's error message for a 400.
func post(t *testing.T, url string, body []byte, out any) error {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(data, &e) != nil || e.Error == "" || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("POST %s: %s %s", url, resp.Status, data)
		}
		return errors.New(e.Error)
	}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatalf("POST %s: %s: %v", url, data, err)
	}
	return nil
}

// ceremony runs one registration or sign-in through the page's API with
// the WebAuthn client in the browser's place, as the page's script does.
func ceremony(t *testing.T, base string, c *webauthn.Client, kind, username string, out any) error {
	t.Helper()
	var begin struct {
		Session string          `json:"session"`
		Options json.RawMessage `json:"options"`
	}
	if err := post(t, base+"/api/"+kind+"/begin", []byte(`{"username":"`+username+`"}`), &begin); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var resp []byte
	var err error
	if kind == "register" {
		resp, err = c.CreateJSON(ctx, begin.Options)
	} else {
		resp, err = c.GetJSON(ctx, begin.Options)
	}
	if err != nil {
		return err
	}
	return post(t, base+"/api/"+kind+"/finish?session="+begin.Session, resp, out)
}

// servePage serves the page (`vauth demo --serve`) until the test ends:
// its Server, its URL, and the origin the page has there.
func servePage(t *testing.T) (srv *Server, base, origin string) {
	t.Helper()
	ts := httptest.NewServer(nil)
	t.Cleanup(ts.Close)
	origin = strings.Replace(ts.URL, "127.0.0.1", "localhost", 1)
	srv, err := NewServer(origin)
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv.Handler()
	return srv, ts.URL, origin
}

// getPage returns the page servePage serves at base, failing the test
// unless it is 200 OK.
func getPage(t *testing.T, base string) []byte {
	t.Helper()
	page, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer page.Body.Close()
	html, err := io.ReadAll(page.Body)
	if err != nil || page.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %s, %d bytes, %v", page.Status, len(html), err)
	}
	return html
}

// TestServe drives the page's relying party (`vauth demo --serve`) with
// the WebAuthn client instead of a browser: the server side of the page
// registers a passkey and signs in with it, by name and as a passkey, and
// refuses what it should.
func TestServe(t *testing.T) {
	_, base, origin := servePage(t)
	d := openDaemon(t, "packed", attestation.DefaultAAGUID)
	c, err := Connect(t.Context(), d, origin)
	if err != nil {
		t.Fatal(err)
	}

	if html := getPage(t, base); !bytes.Contains(html, []byte("navigator.credentials.create")) {
		t.Fatalf("GET /: %d bytes without navigator.credentials.create", len(html))
	}

	var reg Registered
	if err := ceremony(t, base, c, "register", "alice", &reg); err != nil {
		t.Fatal(err)
	}
	if reg.Username != "alice" || reg.Attestation != "packed (basic_full)" || reg.AAGUID != attestation.FormatAAGUID(attestation.DefaultAAGUID) || strings.Join(reg.Flags, ",") != "UP" {
		t.Errorf("registered %+v", reg)
	}
	for i, name := range []string{"alice", ""} { // by name, then as a passkey
		var in SignedIn
		if err := ceremony(t, base, c, "login", name, &in); err != nil {
			t.Fatalf("sign-in %q: %v", name, err)
		}
		if in.Username != "alice" || in.CredentialID != reg.CredentialID || in.SignCount != uint32(i+1) {
			t.Errorf("signed in %+v", in)
		}
	}
	// The account's credential is excluded from a second registration.
	var we *webauthn.Error
	if err := ceremony(t, base, c, "register", "alice", &reg); !errors.As(err, &we) || we.Name != webauthn.InvalidStateError {
		t.Errorf("registering alice again = %v, want InvalidStateError", err)
	}
	// A page of another origin does not pass.
	other, err := Connect(t.Context(), d, "http://localhost:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := ceremony(t, base, other, "login", "alice", &SignedIn{}); err == nil || !strings.Contains(err.Error(), "origin") {
		t.Errorf("sign-in from another origin = %v, want the origin refused", err)
	}
	for _, tc := range []struct{ path, body, want string }{
		{"/api/register/begin", `{}`, "username"},
		{"/api/register/begin", `nope`, "username"},
		{"/api/login/begin", `{"username":"bob"}`, "no account"},
		{"/api/login/finish?session=nope", `{}`, "no such ceremony"},
		{"/api/register/finish", `{}`, "no such ceremony"},
		{"/api/login/begin", strings.Repeat(" ", maxBody+1), "too large"},
	} {
		if err := post(t, base+tc.path, []byte(tc.body), &struct{}{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("POST %s %.20s = %v, want an error mentioning %q", tc.path, tc.body, err, tc.want)
		}
	}
	// A session finishes one ceremony only.
	var begin BeginResponse
	if err := post(t, base+"/api/login/begin", []byte(`{"username":"alice"}`), &begin); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		err := post(t, base+"/api/login/finish?session="+begin.Session, []byte(`{}`), &struct{}{})
		if err == nil || (i == 1) != strings.Contains(err.Error(), "no such ceremony") {
			t.Errorf("finish %d with one session: %v", i+1, err)
		}
	}
}
