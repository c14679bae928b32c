package main

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/vauth/vauth/hid"
	"github.com/vauth/vauth/hid/socket"
	"github.com/vauth/vauth/internal/demo"
	"github.com/vauth/vauth/webauthn"
)

func dialClient(t *testing.T, d *daemonProc) *webauthn.Client {
	t.Helper()
	tr, err := socket.Dial(d.socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	hc, err := hid.NewClient(tr)
	if err != nil {
		t.Fatal(err)
	}
	return webauthn.NewClient(hc, demo.Origin)
}

// TestCrashSafety kills `vauth run` with SIGKILL right after each
// registration was acknowledged; after every restart each acknowledged
// credential must still sign in, with a counter above the last one the
// relying party saw.
func TestCrashSafety(t *testing.T) {
	store := t.TempDir()
	rp, err := demo.NewRP(demo.RPID, demo.Origin)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var users []*demo.User
	for round := range 5 {
		d := startDaemon(t, store)
		c := dialClient(t, d)
		for _, u := range users {
			before := u.Credentials[0].Authenticator.SignCount
			_, cred, err := rp.Login(ctx, c, u)
			if err != nil {
				t.Fatalf("round %d: %s no longer signs in after SIGKILL: %v\n%s", round, u.Name, err, d.log)
			}
			if cred.Authenticator.SignCount <= before || cred.Authenticator.CloneWarning {
				t.Fatalf("round %d: %s counter went from %d to %d", round, u.Name, before, cred.Authenticator.SignCount)
			}
		}
		u := &demo.User{ID: fmt.Appendf(nil, "user-%d", round), Name: fmt.Sprintf("user%d", round), DisplayName: "User"}
		if _, err := rp.Register(ctx, c, u, gowebauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired)); err != nil {
			t.Fatalf("round %d: register: %v\n%s", round, err, d.log)
		}
		users = append(users, u)
		d.kill(syscall.SIGKILL) // the moment the registration was acknowledged
	}
	d := startDaemon(t, store)
	c := dialClient(t, d)
	who, _, err := rp.Login(ctx, c, nil)
	if err != nil || who != users[len(users)-1] {
		t.Fatalf("passkey sign-in after the last crash: %v (got %v)", err, who)
	}
}
