package presence

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vauth/vauth/ctap2"
)

func TestAlwaysNever(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // they answer at once, whatever the context
	if err := Always().Confirm(ctx, siteReq); err != nil {
		t.Errorf("Always = %v", err)
	}
	if err := Never().Confirm(ctx, siteReq); !errors.Is(err, ctap2.ErrDenied) {
		t.Errorf("Never = %v, want ErrDenied", err)
	}
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		in      string
		want    Mode
		wantErr bool
	}{
		{"always", ModeAlways, false},
		{"never", ModeNever, false},
		{"prompt", ModePrompt, false},
		{"auto", ModeAuto, false},
		{"", "", true},
		{"Always", "", true},
		{"yes", "", true},
	}
	for _, tc := range tests {
		got, err := ParseMode(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("ParseMode(%q) = %q, %v", tc.in, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), "always, never, prompt or auto") {
			t.Errorf("ParseMode(%q) error %q does not list the modes", tc.in, err)
		}
	}
}

func TestNew(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	out := &transcript{}
	opts := AutoOptions{In: r, Out: out, Timeout: 5 * time.Second}
	noSession(t) // auto finds nothing and must say so

	tests := []struct {
		mode     string
		wantName string
		typed    string // typed on In once the prompt shows
		want     error  // what Confirm returns
		wantErr  string // New fails with this
	}{
		{mode: "always", wantName: "always"},
		{mode: "never", wantName: "never", want: ctap2.ErrDenied},
		{mode: "prompt", wantName: "terminal", typed: "y\n"},
		{mode: "auto", wantErr: "--presence always"},
		{mode: "sometimes", wantErr: `unknown mode "sometimes"`},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			p, name, err := New(tc.mode, opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("New(%q) = %v, want an error containing %q", tc.mode, err, tc.wantErr)
				}
				return
			}
			if err != nil || name != tc.wantName {
				t.Fatalf("New(%q) = %q, %v; want %q", tc.mode, name, err, tc.wantName)
			}
			done := confirmAsync(context.Background(), p, siteReq)
			if tc.typed != "" {
				waitFor(t, func() bool { return out.prompts() == 1 })
				if _, err := w.WriteString(tc.typed); err != nil {
					t.Fatal(err)
				}
			}
			if err := result(t, done); !errors.Is(err, tc.want) {
				t.Fatalf("Confirm = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	long := strings.Repeat("a", maxFieldRunes+10)
	tests := []struct {
		name string
		req  ctap2.PresenceRequest
		want string
	}{
		{"sign in", ctap2.PresenceRequest{Op: "getAssertion", RPID: "example.com", User: "alice"}, "sign in — site example.com, account alice"},
		{"no account", ctap2.PresenceRequest{Op: "makeCredential", RPID: "example.com"}, "register a new credential — site example.com"},
		{"no site", ctap2.PresenceRequest{Op: "reset"}, "reset the authenticator, deleting every credential"},
		{"unknown op", ctap2.PresenceRequest{Op: "credentialManagement", RPID: "x.example"}, "credentialManagement — site x.example"},
		{"no op", ctap2.PresenceRequest{}, "confirm presence"},
		{"terminal escapes", ctap2.PresenceRequest{Op: "getAssertion", RPID: "evil.example\x1b[2K\rgood.example", User: "a\nb"}, "sign in — site evil.example\uFFFD[2K\uFFFDgood.example, account a\uFFFDb"},
		{"bidi override", ctap2.PresenceRequest{Op: "getAssertion", RPID: "elpmaxe\u202e.com"}, "sign in — site elpmaxe\uFFFD.com"},
		{"invalid UTF-8", ctap2.PresenceRequest{Op: "getAssertion", User: "\xff\xfe"}, "sign in — account \uFFFD\uFFFD"},
		{"too long", ctap2.PresenceRequest{Op: "getAssertion", User: long}, "sign in — account " + long[:maxFieldRunes] + "…"},
		{"just short enough", ctap2.PresenceRequest{Op: "getAssertion", User: long[:maxFieldRunes]}, "sign in — account " + long[:maxFieldRunes]},
	}
	for _, tc := range tests {
		if got := describe(tc.req).oneLine(); got != tc.want {
			t.Errorf("%s: describe(%+q) = %q, want %q", tc.name, tc.req, got, tc.want)
		}
	}
}
