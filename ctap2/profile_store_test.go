package ctap2

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/ctap1"
	"github.com/vauth/vauth/hid"
	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/soft"
)

func TestParseProfile(t *testing.T) {
	for _, tc := range []struct {
		name string
		want Profile
		err  bool
	}{
		{"ctap2.1", ProfileCTAP21, false},
		{"ctap2.0", ProfileCTAP20, false},
		{"u2f", ProfileU2F, false},
		{"", 0, true},
		{"ctap2", 0, true},
		{"CTAP2.1", 0, true},
	} {
		p, err := ParseProfile(tc.name)
		if (err != nil) != tc.err || p != tc.want {
			t.Errorf("ParseProfile(%q) = %v, %v", tc.name, p, err)
		}
		if err == nil && p.String() != tc.name {
			t.Errorf("%v.String() = %q", p, p.String())
		}
	}
	if _, err := New(Config{Keystore: newTestDevice(t).store, Profile: 7}); err == nil {
		t.Error("New took an unknown profile")
	}
}

// reopen closes the device's store and opens it again in dir under
// profile p: a restart of the daemon with another --profile.
func (d *testDevice) reopen(dir string, p Profile) {
	d.t.Helper()
	if err := d.store.Close(); err != nil {
		d.t.Fatal(err)
	}
	store, err := soft.Open(dir, soft.Options{Now: d.clock.Now})
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { store.Close() })
	d.store = store
	if d.a, err = New(Config{AAGUID: testAAGUID, Keystore: store, Attester: attestation.Self(), Presence: d.presence, Clock: d.clock, Profile: p}); err != nil {
		d.t.Fatal(err)
	}
}

// openTestDevice is newTestDevice on a store in dir under profile p.
func openTestDevice(t *testing.T, dir string, p Profile) *testDevice {
	d := newTestDevice(t)
	d.reopen(dir, p)
	return d
}

// TestProfileSharedStore: the profiles share one store. A credential
// registered under one profile still works under the next: non-discoverable
// ES256 credentials across U2F and CTAP2 both ways, and a discoverable one
// kept untouched through a U2F session.
func TestProfileSharedStore(t *testing.T) {
	dir := t.TempDir()
	const rp = "example.com"
	app := sha256.Sum256([]byte(rp))
	d := openTestDevice(t, dir, ProfileCTAP21)
	es256 := func(params map[int]any) map[int]any {
		params[int(makeCredentialPubKeyCredParams)] = []any{map[string]any{"type": "public-key", "alg": keystore.ES256}}
		return params
	}
	ctap21 := d.register(es256(makeCredentialParams(rp, []byte("alice"), "alice", false))).authData
	discoverable := d.register(es256(makeCredentialParams(rp, []byte("bob"), "bob", true))).authData

	d.reopen(dir, ProfileU2F)
	if status, _ := d.call(CmdGetInfo, nil); status != CTAP1ErrInvalidCommand {
		t.Fatalf("getInfo of a U2F-only key: %v", status)
	}
	if _, _, sw := d.u2fAuthenticate(ctap1.AuthEnforceUserPresence, app, ctap21.credentialID, ctap21.publicKey.(*ecdsa.PublicKey)); sw != ctap1.SWNoError {
		t.Fatalf("the ctap2.1 credential over U2F: %v", sw)
	}
	u2fID, u2fPub := d.u2fRegister(app)

	d.reopen(dir, ProfileCTAP20)
	for _, c := range []struct {
		name string
		id   []byte
		pub  crypto.PublicKey
	}{
		{"U2F credential", u2fID, u2fPub},
		{"ctap2.1 credential", ctap21.credentialID, ctap21.publicKey},
	} {
		status, resp := d.call(CmdGetAssertion, getAssertionParams(rp, c.id))
		if status != CTAP2OK {
			t.Fatalf("%s under ctap2.0: %v", c.name, status)
		}
		verify(t, c.pub, decodeAssertion(t, resp))
	}
	status, resp := d.call(CmdGetAssertion, getAssertionParams(rp))
	if status != CTAP2OK {
		t.Fatalf("discoverable credential under ctap2.0: %v", status)
	}
	as := decodeAssertion(t, resp)
	verify(t, discoverable.publicKey, as)
	var userID []byte
	mustUnmarshal(t, as.user["id"], &userID)
	if string(userID) != "bob" {
		t.Errorf("discoverable credential's user %q after a U2F session", userID)
	}

	d.reopen(dir, ProfileCTAP21)
	if _, err := d.store.Lookup(app, u2fID); err != nil {
		t.Errorf("the U2F credential under ctap2.1: %v", err)
	}
	all, err := d.store.All()
	if err != nil || len(all) != 1 || string(all[0].User.ID) != "bob" {
		t.Fatalf("discoverable credentials %v, %v", all, err)
	}
}

// TestProfileU2FOverCTAPHID: a U2F-only key reports no CBOR capability,
// answers CTAPHID_CBOR with ERR_INVALID_CMD and U2F as ever.
func TestProfileU2FOverCTAPHID(t *testing.T) {
	for _, tc := range []struct {
		profile Profile
		cbor    bool
	}{{ProfileCTAP21, true}, {ProfileCTAP20, true}, {ProfileU2F, false}} {
		t.Run(tc.profile.String(), func(t *testing.T) {
			d := newTestDevice(t, func(c *Config) { c.Profile = tc.profile })
			c := serveHID(t, d.a)
			ctx := t.Context()
			if got := c.Capabilities()&hid.CapabilityCBOR != 0; got != tc.cbor {
				t.Errorf("CBOR capability %v, want %v", got, tc.cbor)
			}
			_, err := c.CBOR(ctx, []byte{CmdGetInfo}, nil)
			var herr *hid.Error
			switch {
			case tc.cbor && err != nil:
				t.Errorf("CTAPHID_CBOR: %v", err)
			case !tc.cbor && (!errors.As(err, &herr) || herr.Code != hid.ErrInvalidCmd):
				t.Errorf("CTAPHID_CBOR of a U2F-only key: %v, want ERR_INVALID_CMD", err)
			}
			resp, err := c.Msg(ctx, u2fAPDU(ctap1.InsVersion, 0, nil))
			if err != nil || string(resp) != ctap1.Version+"\x90\x00" {
				t.Errorf("U2F_VERSION: %q, %v", resp, err)
			}
		})
	}
}
