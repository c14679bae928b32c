package ctap2

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vauth/vauth/ctap2/pinuv"
	"github.com/vauth/vauth/keystore"
)

func ptr[T any](v T) *T { return &v }

// SetPINState changes what clientPIN and getInfo see, durably, and refuses
// what CTAP would refuse.
func TestSetPINState(t *testing.T) {
	d := newTestDevice(t)
	for _, tc := range []struct {
		name   string
		change PINChange
		want   PINStatus
		ok     bool
	}{
		{"set a PIN", PINChange{PIN: ptr("1234")}, PINStatus{PINSet: true, PINRetries: 8, UVRetries: 8, MinPINLength: 4}, true},
		{"retries", PINChange{PINRetries: ptr(2), UVRetries: ptr(0)}, PINStatus{PINSet: true, PINRetries: 2, UVRetries: 0, MinPINLength: 4}, true},
		{"force a change", PINChange{ForcePINChange: ptr(true)}, PINStatus{PINSet: true, PINRetries: 2, ForcePINChange: true, MinPINLength: 4}, true},
		{"a new PIN restores the retries", PINChange{PIN: ptr("98765")}, PINStatus{PINSet: true, PINRetries: 8, MinPINLength: 4}, true},
		{"too short", PINChange{PIN: ptr("123")}, PINStatus{}, false},
		{"too long", PINChange{PIN: ptr(string(make([]byte, 64)))}, PINStatus{}, false},
		{"NUL", PINChange{PIN: ptr("12\x0034")}, PINStatus{}, false},
		{"too many retries", PINChange{PINRetries: ptr(pinuv.MaxPINRetries + 1)}, PINStatus{}, false},
		{"negative uv retries", PINChange{UVRetries: ptr(-1)}, PINStatus{}, false},
		{"remove the PIN", PINChange{PIN: ptr("")}, PINStatus{PINRetries: 8, MinPINLength: 4}, true},
		{"force a change without a PIN", PINChange{ForcePINChange: ptr(true)}, PINStatus{}, false},
	} {
		before := d.a.PINStatus()
		err := d.a.SetPINState(tc.change)
		got := d.a.PINStatus()
		if !tc.ok {
			if err == nil || got != before {
				t.Errorf("%s: %v, state %+v → %+v; want a refusal and no change", tc.name, err, before, got)
			}
			continue
		}
		tc.want.UVRetries = got.UVRetries // checked where it changes
		if tc.name == "retries" {
			tc.want.UVRetries = 0
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %v, state %+v; want %+v", tc.name, err, got, tc.want)
		}
	}
	if err := d.a.SetPINState(PINChange{PIN: ptr("2468")}); err != nil {
		t.Fatal(err)
	}
	info := d.mustGetInfo()
	var opts map[string]bool
	mustUnmarshal(t, info[getInfoOptions], &opts)
	if !opts["clientPin"] {
		t.Errorf("getInfo options %v after SetPINState, want clientPin true", opts)
	}
	// The state is on disk: a new authenticator on the store reads it.
	again, err := New(Config{Keystore: d.store})
	if err != nil {
		t.Fatal(err)
	}
	if st := again.PINStatus(); !st.PINSet {
		t.Errorf("reopened state %+v", st)
	}
}

// Reset erases without asking anyone and long after power-up.
func TestControlReset(t *testing.T) {
	d := newTestDevice(t)
	d.register(makeCredentialParams("example.com", []byte("alice"), "alice", true))
	if err := d.a.SetPINState(PINChange{PIN: ptr("1234")}); err != nil {
		t.Fatal(err)
	}
	d.clock.Advance(time.Hour)
	d.presence.set(ErrDenied)
	d.presence.asked()
	if err := d.a.Reset(); err != nil {
		t.Fatal(err)
	}
	if len(d.presence.asked()) != 0 {
		t.Error("Reset asked for presence")
	}
	all, err := d.store.All()
	if err != nil || len(all) != 0 || d.a.PINStatus().PINSet {
		t.Fatalf("after Reset: %d credentials (%v), PIN %+v", len(all), err, d.a.PINStatus())
	}
}

// UpdateUser renames as updateUserInformation does: the names given
// change, the others and the user ID stay, the change is logged, and an
// unknown or non-discoverable credential is not found.
func TestControlUpdateUser(t *testing.T) {
	d := newTestDevice(t)
	reg := d.register(makeCredentialParams("example.com", []byte("alice"), "alice", true))
	plain := d.register(makeCredentialParams("example.com", []byte("bob"), "bob", false))
	id := reg.authData.credentialID
	for _, tc := range []struct {
		name              string
		newName, display  *string
		wantName, wantDis string
	}{
		{"both", ptr("alice@example.com"), ptr("Alice"), "alice@example.com", "Alice"},
		{"display name only", nil, ptr("Alice Example"), "alice@example.com", "Alice Example"},
		{"name only", ptr("al"), nil, "al", "Alice Example"},
		{"remove the display name", nil, ptr(""), "al", ""},
	} {
		if err := d.a.UpdateUser(id, tc.newName, tc.display); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		c, err := d.store.Lookup(sha256.Sum256([]byte("example.com")), id)
		if err != nil {
			t.Fatal(err)
		}
		if string(c.User.ID) != "alice" || c.User.Name != tc.wantName || c.User.DisplayName != tc.wantDis {
			t.Errorf("%s: user %+v, want %q (%q)", tc.name, c.User, tc.wantName, tc.wantDis)
		}
	}
	if !strings.Contains(d.logs.String(), "credential user updated") {
		t.Errorf("the rename is not logged:\n%s", d.logs)
	}
	for name, id := range map[string][]byte{"unknown": []byte("nope"), "non-discoverable": plain.authData.credentialID} {
		if err := d.a.UpdateUser(id, ptr("x"), nil); !errors.Is(err, keystore.ErrNotFound) {
			t.Errorf("UpdateUser of a %s credential = %v, want keystore.ErrNotFound", name, err)
		}
	}
}
