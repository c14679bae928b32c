package ctap2_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/ctap2/pinuv"
	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/keystore"
)

// credMgmtDevice is a device with a PIN and discoverable credentials:
// alice and bob at example.com, carol at other.example (credProtect 3,
// made in the keystore directly since credProtect is the extensions'
// business), and a non-discoverable one at example.com.
type credMgmtDevice struct {
	*device
	ids map[string][]byte // by user name
}

const testPIN = "246810"

func newCredMgmtDevice(t testing.TB, opts ...option) *credMgmtDevice {
	d := &credMgmtDevice{device: newDevice(t, opts...), ids: map[string][]byte{}}
	if err := d.c.SetPIN(t.Context(), 2, testPIN); err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"alice", "bob"} {
		tok := d.token(2, testPIN, pinuv.PermissionMC, "example.com")
		d.ids[user], _ = d.register(mcRequest("example.com", user, true, tok))
	}
	d.clock.advance(1) // order the credentials by creation
	carol, err := d.store.Create(keystore.CreateRequest{
		RPID: "other.example", RPIDHash: sha256.Sum256([]byte("other.example")),
		User: keystore.User{ID: []byte("carol"), Name: "carol"}, Algorithm: keystore.EdDSA, Discoverable: true, CredProtect: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	d.ids["carol"] = carol.ID
	d.ids["plain"], _ = d.register(mcRequest("example.com", "plain", false, nil))
	return d
}

func rpIDHash(rpID string) []byte {
	h := sha256.Sum256([]byte(rpID))
	return h[:]
}

// TestCredentialManagement lists, renames and deletes discoverable
// credentials, with both protocols and with the preview command, and on a
// keystore without indexes.
func TestCredentialManagement(t *testing.T) {
	for _, tc := range []struct {
		version int
		preview bool
		listing bool
	}{{1, false, false}, {2, false, false}, {2, true, false}, {2, false, true}} {
		t.Run(fmt.Sprintf("protocol %d preview %v listing %v", tc.version, tc.preview, tc.listing), func(t *testing.T) {
			var opts []option
			if tc.listing {
				opts = append(opts, withoutIndexes)
			}
			d := newCredMgmtDevice(t, opts...)
			ctx := t.Context()
			m := d.cm(d.token(tc.version, testPIN, pinuv.PermissionCM, ""))
			m.Preview = tc.preview

			meta, err := m.Metadata(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if meta.Existing != 3 || meta.MaxPossibleRemaining != ctap2.DefaultMaxDiscoverable-3 {
				t.Fatalf("metadata %+v", meta)
			}
			rps, err := m.RPs(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(rps) != 2 || rps[0].RP.ID != "other.example" || rps[1].RP.ID != "example.com" ||
				!bytes.Equal(rps[0].RPIDHash, rpIDHash("other.example")) || !bytes.Equal(rps[1].RPIDHash, rpIDHash("example.com")) {
				t.Fatalf("RPs %+v, want other.example then example.com", rps)
			}
			creds, err := m.Credentials(ctx, rpIDHash("example.com"))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, c := range creds {
				names = append(names, c.User.Name)
				stored, err := d.store.Lookup([32]byte(rpIDHash("example.com")), c.CredentialID.ID)
				if err != nil {
					t.Fatalf("%s: %v", c.User.Name, err)
				}
				key, err := cose.Parse(c.PublicKey)
				if err != nil {
					t.Fatal(err)
				}
				pub, err := key.PublicKey()
				if err != nil || !cose.Equal(stored.PublicKey, pub) {
					t.Fatalf("%s: public key does not match the stored one (%v)", c.User.Name, err)
				}
				if c.CredProtect != 1 || c.CredentialID.Type != "public-key" || c.User.DisplayName != "User "+c.User.Name || c.LargeBlobKey != nil {
					t.Fatalf("credential %+v", c)
				}
			}
			if !slices.Equal(names, []string{"bob", "alice"}) {
				t.Fatalf("users %v, want bob, alice", names)
			}
			others, err := m.Credentials(ctx, rpIDHash("other.example"))
			if err != nil || len(others) != 1 || others[0].CredProtect != 3 || !bytes.Equal(others[0].CredentialID.ID, d.ids["carol"]) {
				t.Fatalf("other.example credentials %+v, %v", others, err)
			}
			none, err := m.Credentials(ctx, rpIDHash("nobody.example"))
			if err != nil || len(none) != 0 {
				t.Fatalf("credentials of an unknown RP: %v, %v", none, err)
			}

			// Rename alice; a verified assertion shows the new names.
			if err := m.UpdateUser(ctx, d.ids["alice"], client.UserEntity{ID: []byte("alice"), Name: "alice@example.com"}); err != nil {
				t.Fatal(err)
			}
			err = m.UpdateUser(ctx, d.ids["alice"], client.UserEntity{ID: []byte("mallory"), Name: "x"})
			want(t, "updateUserInformation with another user ID", err, ctap2.CTAP1ErrInvalidParameter)
			as, err := d.c.GetAssertion(ctx, gaRequest("example.com", d.token(tc.version, testPIN, pinuv.PermissionGA, ""), d.ids["alice"]))
			if err != nil || as.User.Name != "alice@example.com" || as.User.DisplayName != "" {
				t.Fatalf("user after the update: %+v, %v", as.User, err)
			}

			// Delete bob, with a new token (the ga token voided the first).
			want(t, "a token replaced by another", m.DeleteCredential(ctx, d.ids["bob"]), ctap2.CTAP2ErrPinAuthInvalid)
			m.Token = d.token(tc.version, testPIN, pinuv.PermissionCM, "")
			if err := m.DeleteCredential(ctx, d.ids["bob"]); err != nil {
				t.Fatal(err)
			}
			want(t, "deleting again", m.DeleteCredential(ctx, d.ids["bob"]), ctap2.CTAP2ErrNoCredentials)
			want(t, "deleting a non-discoverable credential", m.DeleteCredential(ctx, d.ids["plain"]), ctap2.CTAP2ErrNoCredentials)
			_, err = d.c.GetAssertion(ctx, gaRequest("example.com", nil, d.ids["bob"]))
			want(t, "assertion with the deleted credential", err, ctap2.CTAP2ErrNoCredentials)
			if meta, _ := m.Metadata(ctx); meta.Existing != 2 {
				t.Fatalf("metadata after delete %+v", meta)
			}
		})
	}
}

// TestCredentialManagementPaging: a "next" continues only its "begin",
// right before it, and only while items remain.
func TestCredentialManagementPaging(t *testing.T) {
	d := newCredMgmtDevice(t)
	tok := d.token(2, testPIN, pinuv.PermissionCM, "")
	authed := func(sub int, params map[int]any) map[int]any {
		req := map[int]any{1: sub, 3: 2}
		msg := []byte{byte(sub)}
		if params != nil {
			raw, err := canonical(params)
			if err != nil {
				t.Fatal(err)
			}
			req[2] = params
			msg = append(msg, raw...)
		}
		req[4] = tok.Param(msg)
		return req
	}
	next := func(sub int, want ctap2.Status) {
		t.Helper()
		if got, _ := d.raw(cmdCredMgmt, map[int]any{1: sub}); got != want {
			t.Fatalf("subcommand 0x%02x: %v, want %v", sub, got, want)
		}
	}
	next(0x03, ctap2.CTAP2ErrNotAllowed) // no begin
	next(0x05, ctap2.CTAP2ErrNotAllowed)

	if got, resp := d.raw(cmdCredMgmt, authed(0x02, nil)); got != ctap2.CTAP2OK || resp[5] == nil {
		t.Fatalf("enumerateRPsBegin: %v", got)
	}
	next(0x05, ctap2.CTAP2ErrNotAllowed) // the other kind of next
	next(0x03, ctap2.CTAP2ErrNotAllowed) // the wrong next ended it

	d.raw(cmdCredMgmt, authed(0x02, nil))
	next(0x03, ctap2.CTAP2OK)
	next(0x03, ctap2.CTAP2ErrNotAllowed) // two RPs: nothing left

	d.raw(cmdCredMgmt, authed(0x04, map[int]any{1: rpIDHash("example.com")}))
	d.info() // another command in between
	next(0x05, ctap2.CTAP2ErrNotAllowed)

	d.raw(cmdCredMgmt, authed(0x04, map[int]any{1: rpIDHash("example.com")}))
	next(0x05, ctap2.CTAP2OK)
	next(0x05, ctap2.CTAP2ErrNotAllowed)

	d.raw(cmdCredMgmt, authed(0x02, nil))
	if got, _ := d.raw(cmdCredMgmtPreview, map[int]any{1: 0x03}); got != ctap2.CTAP2OK {
		t.Fatalf("the preview command continuing an enumeration: %v", got)
	}
}

// TestCredentialManagementErrors: the pinUvAuthToken, its cm permission,
// its RP ID binding, and malformed requests.
func TestCredentialManagementErrors(t *testing.T) {
	d := newCredMgmtDevice(t)
	ctx := t.Context()
	cm := d.token(2, testPIN, pinuv.PermissionCM, "")

	noToken := d.cm(nil)
	_, err := noToken.Metadata(ctx)
	if err == nil {
		t.Fatal("metadata without a token")
	}
	if got, _ := d.raw(cmdCredMgmt, map[int]any{1: 0x01}); got != ctap2.CTAP2ErrPUATRequired {
		t.Fatalf("no pinUvAuthParam: %v", got)
	}
	if got, _ := d.raw(cmdCredMgmt, map[int]any{1: 0x01, 4: cm.Param([]byte{1})}); got != ctap2.CTAP2ErrMissingParameter {
		t.Fatalf("no pinUvAuthProtocol: %v", got)
	}
	if got, _ := d.raw(cmdCredMgmt, map[int]any{1: 0x01, 3: 3, 4: cm.Param([]byte{1})}); got != ctap2.CTAP1ErrInvalidParameter {
		t.Fatalf("pinUvAuthProtocol 3: %v", got)
	}
	if got, _ := d.raw(cmdCredMgmt, map[int]any{1: 0x01, 3: 2, 4: cm.Param([]byte{2})}); got != ctap2.CTAP2ErrPinAuthInvalid {
		t.Fatalf("pinUvAuthParam over another subcommand: %v", got)
	}
	for _, tc := range []struct {
		name   string
		params map[int]any
		want   ctap2.Status
	}{
		{"no subCommand", map[int]any{3: 2}, ctap2.CTAP2ErrMissingParameter},
		{"unknown subCommand", map[int]any{1: 0x08, 3: 2, 4: []byte{1}}, ctap2.CTAP2ErrInvalidSubcommand},
		{"enumerateCredentialsBegin without rpIDHash", map[int]any{1: 0x04, 2: map[int]any{}, 3: 2, 4: []byte{1}}, ctap2.CTAP2ErrMissingParameter},
		{"deleteCredential without credentialID", map[int]any{1: 0x06, 3: 2, 4: []byte{1}}, ctap2.CTAP2ErrMissingParameter},
		{"updateUserInformation without user", map[int]any{1: 0x07, 2: map[int]any{2: map[string]any{"type": "public-key", "id": []byte{1}}}, 3: 2, 4: []byte{1}}, ctap2.CTAP2ErrMissingParameter},
		{"subCommandParams not a map", map[int]any{1: 0x04, 2: []byte{1}, 3: 2, 4: []byte{1}}, ctap2.CTAP2ErrCBORUnexpectedType},
		{"rpIDHash not bytes", map[int]any{1: 0x04, 2: map[int]any{1: "example.com"}, 3: 2, 4: []byte{1}}, ctap2.CTAP2ErrCBORUnexpectedType},
		{"credentialID without id", map[int]any{1: 0x06, 2: map[int]any{2: map[string]any{"type": "public-key"}}, 3: 2, 4: []byte{1}}, ctap2.CTAP2ErrMissingParameter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, _ := d.raw(cmdCredMgmt, tc.params); got != tc.want {
				t.Fatalf("%v, want %v", got, tc.want)
			}
		})
	}

	// Permissions: mc|ga is not cm; a getPinToken token only for 0x41.
	_, err = d.cm(d.token(2, testPIN, pinuv.PermissionMC|pinuv.PermissionGA, "")).Metadata(ctx)
	want(t, "metadata with an mc|ga token", err, ctap2.CTAP2ErrPinAuthInvalid)
	legacy, err := d.c.GetPinToken(ctx, 1, testPIN)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.cm(legacy).Metadata(ctx)
	want(t, "credMgmt with a getPinToken token", err, ctap2.CTAP2ErrPinAuthInvalid)
	preview := d.cm(legacy)
	preview.Preview = true
	if _, err := preview.Metadata(ctx); err != nil {
		t.Fatalf("the preview command with a getPinToken token: %v", err)
	}
	d.token(1, testPIN, pinuv.PermissionGA, "") // a new token voids the legacy one
	_, err = preview.Metadata(ctx)
	want(t, "a replaced getPinToken token", err, ctap2.CTAP2ErrPinAuthInvalid)

	// A token bound to example.com sees only example.com.
	bound := d.cm(d.token(2, testPIN, pinuv.PermissionCM, "example.com"))
	_, err = bound.Metadata(ctx)
	want(t, "metadata with an RP-bound token", err, ctap2.CTAP2ErrPinAuthInvalid)
	_, err = bound.RPs(ctx)
	want(t, "enumerateRPs with an RP-bound token", err, ctap2.CTAP2ErrPinAuthInvalid)
	_, err = bound.Credentials(ctx, rpIDHash("other.example"))
	want(t, "another RP's credentials", err, ctap2.CTAP2ErrPinAuthInvalid)
	want(t, "deleting another RP's credential", bound.DeleteCredential(ctx, d.ids["carol"]), ctap2.CTAP2ErrPinAuthInvalid)
	err = bound.UpdateUser(ctx, d.ids["carol"], client.UserEntity{ID: []byte("carol"), Name: "x"})
	want(t, "renaming another RP's user", err, ctap2.CTAP2ErrPinAuthInvalid)
	if creds, err := bound.Credentials(ctx, rpIDHash("example.com")); err != nil || len(creds) != 2 {
		t.Fatalf("the bound RP's credentials: %d, %v", len(creds), err)
	}
	if err := bound.DeleteCredential(ctx, d.ids["alice"]); err != nil {
		t.Fatalf("deleting the bound RP's credential: %v", err)
	}
	if d.presence.count() == 0 {
		t.Fatal("setup asked nobody") // the registrations did; credential management never does
	}
	if _, err := d.cm(cm).Metadata(ctx); err == nil {
		t.Fatal("a token replaced by later ones still works")
	}
	if d.presence.count() != 0 {
		t.Fatal("credential management asked the user")
	}
}
