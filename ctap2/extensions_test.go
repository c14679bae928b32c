package ctap2_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/ctap2/pinuv"
	"github.com/vauth/vauth/keystore"
)

// parseAuthData takes authenticator data apart.
func parseAuthData(t testing.TB, raw []byte) *client.AuthData {
	t.Helper()
	ad, err := client.ParseAuthData(raw)
	if err != nil {
		t.Fatal(err)
	}
	return ad
}

// extension decodes an extension output of authenticator data; it fails
// the test when there is none.
func extension[T any](t testing.TB, raw []byte, id string) T {
	t.Helper()
	var v T
	if ok, err := parseAuthData(t, raw).Extension(id, &v); err != nil || !ok {
		t.Fatalf("extension output %q: present %v, %v", id, ok, err)
	}
	return v
}

// salt is a 32-byte salt made from a label.
func salt(label string) []byte {
	s := sha256.Sum256([]byte(label))
	return s[:]
}

// hmacOutput is what an hmac-secret output must be: HMAC-SHA-256 of the
// salt under the credential's CredRandom, which the test reads from the
// keystore.
func (d *device) hmacOutput(id []byte, rpID string, uv bool, salt []byte) []byte {
	d.t.Helper()
	c, err := d.store.Lookup(sha256.Sum256([]byte(rpID)), id)
	if err != nil {
		d.t.Fatal(err)
	}
	credRandom, err := d.store.CredRandom(c, uv)
	if err != nil {
		d.t.Fatal(err)
	}
	m := hmac.New(sha256.New, credRandom)
	m.Write(salt)
	return m.Sum(nil)
}

// hmacSecretAssertion gets an assertion of rpID with the hmac-secret
// extension over salts (one or two) and returns the decrypted outputs and
// the assertion.
func (d *device) hmacSecretAssertion(version int, req *client.GetAssertionRequest, salt1, salt2 []byte) (out1, out2 []byte, resp *client.GetAssertionResponse) {
	d.t.Helper()
	h, err := d.c.NewHMACSecret(d.t.Context(), version, salt1, salt2)
	if err != nil {
		d.t.Fatal(err)
	}
	req.Extensions = map[string]any{"hmac-secret": h.Input()}
	if resp, err = d.c.GetAssertion(d.t.Context(), req); err != nil {
		d.t.Fatalf("getAssertion with hmac-secret: %v", err)
	}
	enc := extension[[]byte](d.t, resp.AuthData, "hmac-secret")
	if out1, out2, err = h.Outputs(enc); err != nil {
		d.t.Fatal(err)
	}
	return out1, out2, resp
}

// TestHMACSecret: with either PIN/UV auth protocol, a salt gives the same
// output for the same credential and UV state and another with user
// verification; two salts give both outputs; every output is
// HMAC-SHA-256(CredRandom, salt) with the keystore's CredRandom; a
// credential made with hmac-secret-mc gets the output at once, the same as
// its assertions give.
func TestHMACSecret(t *testing.T) {
	for _, version := range []int{pinuv.ProtocolOneVersion, pinuv.ProtocolTwoVersion} {
		t.Run(fmt.Sprintf("protocol %d", version), func(t *testing.T) {
			d := newDevice(t)
			ctx := t.Context()
			req := mcRequest("example.com", "alice", false, nil)
			req.Extensions = map[string]any{"hmac-secret": true}
			id, resp := d.register(req)
			if !extension[bool](t, resp.AuthData, "hmac-secret") {
				t.Fatal(`makeCredential output "hmac-secret" false`)
			}
			s1, s2 := salt("one"), salt("two")
			out, _, as := d.hmacSecretAssertion(version, gaRequest("example.com", nil, id), s1, nil)
			if flags(t, as.AuthData)&flagUV != 0 {
				t.Fatal("UV flag without user verification")
			}
			if !bytes.Equal(out, d.hmacOutput(id, "example.com", false, s1)) {
				t.Error("output is not HMAC-SHA-256(CredRandomWithoutUV, salt)")
			}
			again, _, _ := d.hmacSecretAssertion(version, gaRequest("example.com", nil, id), s1, nil)
			if !bytes.Equal(again, out) {
				t.Error("the same salt gave another output")
			}
			first, second, _ := d.hmacSecretAssertion(version, gaRequest("example.com", nil, id), s1, s2)
			if !bytes.Equal(first, out) || bytes.Equal(second, out) || !bytes.Equal(second, d.hmacOutput(id, "example.com", false, s2)) {
				t.Error("two salts: output1 is not salt1's, or output2 not salt2's")
			}

			if err := d.c.SetPIN(ctx, version, testPIN); err != nil {
				t.Fatal(err)
			}
			tok := d.token(version, testPIN, pinuv.PermissionGA, "example.com")
			withUV, _, as := d.hmacSecretAssertion(version, gaRequest("example.com", tok, id), s1, nil)
			if flags(t, as.AuthData)&flagUV == 0 {
				t.Fatal("no UV flag with a pinUvAuthToken")
			}
			if bytes.Equal(withUV, out) || !bytes.Equal(withUV, d.hmacOutput(id, "example.com", true, s1)) {
				t.Error("with user verification: not HMAC-SHA-256(CredRandomWithUV, salt)")
			}
			if without, _, _ := d.hmacSecretAssertion(version, gaRequest("example.com", nil, id), s1, nil); !bytes.Equal(without, out) {
				t.Error("without user verification after setting a PIN: the output changed")
			}

			// hmac-secret-mc: the new credential's output comes with it.
			h, err := d.c.NewHMACSecret(ctx, version, s1, s2)
			if err != nil {
				t.Fatal(err)
			}
			tok = d.token(version, testPIN, pinuv.PermissionMC, "example.com")
			req = mcRequest("example.com", "bob", true, tok)
			req.Extensions = map[string]any{"hmac-secret": true, "hmac-secret-mc": h.Input()}
			bob, resp := d.register(req)
			mc1, mc2, err := h.Outputs(extension[[]byte](t, resp.AuthData, "hmac-secret-mc"))
			if err != nil {
				t.Fatal(err)
			}
			tok = d.token(version, testPIN, pinuv.PermissionGA, "example.com")
			ga1, ga2, _ := d.hmacSecretAssertion(version, gaRequest("example.com", tok, bob), s1, s2)
			if !bytes.Equal(mc1, ga1) || !bytes.Equal(mc2, ga2) {
				t.Error("hmac-secret-mc outputs differ from the assertion's with the same salts and UV")
			}
		})
	}
}

// TestHMACSecretNextAssertion: each credential of a discoverable
// assertion, the first and those getNextAssertion returns, gets its own
// output.
func TestHMACSecretNextAssertion(t *testing.T) {
	d := newDevice(t)
	var ids [][]byte
	for _, user := range []string{"alice", "bob"} {
		req := mcRequest("example.com", user, true, nil)
		req.Extensions = map[string]any{"hmac-secret": true}
		id, _ := d.register(req)
		ids = append(ids, id)
	}
	h, err := d.c.NewHMACSecret(t.Context(), 0, salt("s"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req := gaRequest("example.com", nil)
	req.Extensions = map[string]any{"hmac-secret": h.Input()}
	first, err := d.c.GetAssertion(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	next, err := d.c.GetNextAssertion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var outputs [][]byte
	for i, as := range []*client.GetAssertionResponse{first, next} {
		// Newest first.
		if !bytes.Equal(as.Credential.ID, ids[len(ids)-1-i]) {
			t.Fatalf("assertion %d by credential %x, want %x", i, as.Credential.ID, ids[len(ids)-1-i])
		}
		out, _, err := h.Outputs(extension[[]byte](t, as.AuthData, "hmac-secret"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, d.hmacOutput(as.Credential.ID, "example.com", false, salt("s"))) {
			t.Errorf("credential %x: output is not its own", as.Credential.ID)
		}
		outputs = append(outputs, out)
	}
	if bytes.Equal(outputs[0], outputs[1]) {
		t.Error("two credentials gave the same output")
	}
}

// TestHMACSecretErrors: every malformed or unauthenticated input gets its
// status, before the user is asked for anything.
func TestHMACSecretErrors(t *testing.T) {
	d := newDevice(t)
	id, _ := d.register(mcRequest("example.com", "alice", false, nil))
	d.presence.count()
	p := d.platform(2)
	salts := make([]byte, 64)
	saltEnc := p.encrypt(t, salts)
	saltAuth := p.p.Authenticate(p.secret, saltEnc)
	short := p.encrypt(t, make([]byte, 48))
	badKey := *p.platformKey
	badKey.Y = bytes.Repeat([]byte{1}, 32)
	input := func(edit func(m map[int]any)) map[int]any {
		m := map[int]any{1: p.platformKey, 2: saltEnc, 3: saltAuth, 4: 2}
		if edit != nil {
			edit(m)
		}
		return m
	}
	for _, tc := range []struct {
		name  string
		value any
		up    bool
		want  ctap2.Status
	}{
		{"valid", input(nil), true, ctap2.CTAP2OK},
		{"missing keyAgreement", input(func(m map[int]any) { delete(m, 1) }), true, ctap2.CTAP2ErrMissingParameter},
		{"missing saltEnc", input(func(m map[int]any) { delete(m, 2) }), true, ctap2.CTAP2ErrMissingParameter},
		{"missing saltAuth", input(func(m map[int]any) { delete(m, 3) }), true, ctap2.CTAP2ErrMissingParameter},
		{"bad saltAuth", input(func(m map[int]any) { m[3] = bytes.Repeat([]byte{7}, 32) }), true, ctap2.CTAP2ErrPinAuthInvalid},
		{"saltAuth of protocol 1 length", input(func(m map[int]any) { m[3] = saltAuth[:16] }), true, ctap2.CTAP2ErrPinAuthInvalid},
		{"salt of 48 bytes", input(func(m map[int]any) { m[2], m[3] = short, p.p.Authenticate(p.secret, short) }), true, ctap2.CTAP1ErrInvalidLength},
		{"saltEnc not whole blocks", input(func(m map[int]any) {
			m[2], m[3] = saltEnc[:40], p.p.Authenticate(p.secret, saltEnc[:40])
		}), true, ctap2.CTAP1ErrInvalidLength},
		{"protocol 1 for a protocol 2 key", input(func(m map[int]any) { m[4] = 1 }), true, ctap2.CTAP2ErrPinAuthInvalid},
		{"protocol 3", input(func(m map[int]any) { m[4] = 3 }), true, ctap2.CTAP1ErrInvalidParameter},
		{"keyAgreement off the curve", input(func(m map[int]any) { m[1] = &badKey }), true, ctap2.CTAP1ErrInvalidParameter},
		{"keyAgreement not a map", input(func(m map[int]any) { m[1] = []byte{1} }), true, ctap2.CTAP2ErrCBORUnexpectedType},
		{"saltEnc as text", input(func(m map[int]any) { m[2] = "salt" }), true, ctap2.CTAP2ErrCBORUnexpectedType},
		{"not a map", true, true, ctap2.CTAP2ErrCBORUnexpectedType},
		{"up false", input(nil), false, ctap2.CTAP2ErrUnsupportedOption},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := gaRequest("example.com", nil, id)
			req.Extensions = map[string]any{"hmac-secret": tc.value}
			if !tc.up {
				req.Options = map[string]bool{"up": false}
			}
			_, err := d.c.GetAssertion(t.Context(), req)
			want(t, "getAssertion", err, tc.want)
			if n := d.presence.count(); tc.want != ctap2.CTAP2OK && n != 0 {
				t.Errorf("the user was asked %d times for a request that fails", n)
			}

			mc := mcRequest("example.com", "bob", false, nil)
			mc.Extensions = map[string]any{"hmac-secret": true, "hmac-secret-mc": tc.value}
			if tc.up { // makeCredential has no silent mode
				_, err = d.c.MakeCredential(t.Context(), mc)
				want(t, "makeCredential with hmac-secret-mc", err, tc.want)
				d.presence.count()
			}
		})
	}
}

// TestCredProtectExtension: the level asked for is stored, output, and
// enforced: without user verification, level 3 credentials are invisible
// and level 2 ones only with an allowList; an excludeList names a level 3
// credential only for a verified user; credential management shows the
// level.
func TestCredProtectExtension(t *testing.T) {
	d := newDevice(t)
	ctx := t.Context()
	ids := map[uint8][]byte{}
	for _, level := range []uint8{1, 2, 3} {
		req := mcRequest("example.com", fmt.Sprint("user", level), true, nil)
		req.Extensions = map[string]any{"credProtect": level}
		id, resp := d.register(req)
		if got := extension[uint8](t, resp.AuthData, "credProtect"); got != level {
			t.Errorf("credProtect output %d, want %d", got, level)
		}
		ids[level] = id
	}
	discoverable, err := d.c.GetAssertion(ctx, gaRequest("example.com", nil))
	if err != nil || discoverable.NumberOfCredentials > 1 || !bytes.Equal(discoverable.Credential.ID, ids[1]) {
		t.Errorf("discoverable assertion without UV: %v, %d credentials; want only level 1's", err, discoverable.NumberOfCredentials)
	}
	for level, want := range map[uint8]ctap2.Status{1: ctap2.CTAP2OK, 2: ctap2.CTAP2OK, 3: ctap2.CTAP2ErrNoCredentials} {
		_, err := d.c.GetAssertion(ctx, gaRequest("example.com", nil, ids[level]))
		if statusOf(err) != want {
			t.Errorf("level %d with an allowList, without UV: %v, want %v", level, statusOf(err), want)
		}
	}
	exclude := mcRequest("example.com", "new", false, nil)
	exclude.ExcludeList = []client.CredentialDescriptor{{ID: ids[3], Type: "public-key"}}
	if _, err := d.c.MakeCredential(ctx, exclude); err != nil {
		t.Errorf("excludeList naming a level 3 credential, without UV: %v, want a new credential", err)
	}

	if err := d.c.SetPIN(ctx, 0, testPIN); err != nil {
		t.Fatal(err)
	}
	all, err := d.c.GetAssertion(ctx, gaRequest("example.com", d.token(0, testPIN, pinuv.PermissionGA, "")))
	if err != nil || all.NumberOfCredentials != 3 {
		t.Errorf("discoverable assertion with UV: %v, %d credentials; want 3", err, all.NumberOfCredentials)
	}
	tok := d.token(0, testPIN, pinuv.PermissionMC, "")
	exclude = mcRequest("example.com", "newer", false, tok)
	exclude.ExcludeList = []client.CredentialDescriptor{{ID: ids[3], Type: "public-key"}}
	_, err = d.c.MakeCredential(ctx, exclude)
	want(t, "excludeList naming a level 3 credential, with UV", err, ctap2.CTAP2ErrCredentialExcluded)

	managed, err := d.cm(d.token(0, testPIN, pinuv.PermissionCM, "")).Credentials(ctx, sum("example.com"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range managed {
		for level, id := range ids {
			if bytes.Equal(c.CredentialID.ID, id) && c.CredProtect != int(level) {
				t.Errorf("credential management shows level %d, want %d", c.CredProtect, level)
			}
		}
	}

	for _, tc := range []struct {
		value any
		want  ctap2.Status
	}{{0, ctap2.CTAP1ErrInvalidParameter}, {4, ctap2.CTAP1ErrInvalidParameter}, {"userVerificationRequired", ctap2.CTAP2ErrCBORUnexpectedType}} {
		req := mcRequest("example.com", "bad", false, d.token(0, testPIN, pinuv.PermissionMC, ""))
		req.Extensions = map[string]any{"credProtect": tc.value}
		_, err := d.c.MakeCredential(ctx, req)
		want(t, fmt.Sprintf("credProtect %v", tc.value), err, tc.want)
	}
}

// sum is an rpIdHash.
func sum(rpID string) []byte {
	h := sha256.Sum256([]byte(rpID))
	return h[:]
}

// TestCredBlob: a credBlob of up to maxCredBlobLength bytes is stored with
// either kind of credential and returned by "credBlob": true; a longer one
// is not stored, which the output says.
func TestCredBlob(t *testing.T) {
	d := newDevice(t)
	if n := d.info().MaxCredBlobLength; n != keystore.MaxCredBlobLength {
		t.Fatalf("maxCredBlobLength %d", n)
	}
	blob := bytes.Repeat([]byte{0xcb}, keystore.MaxCredBlobLength)
	for _, tc := range []struct {
		name   string
		rk     bool
		blob   []byte
		stored bool
	}{
		{"non-discoverable", false, blob, true},
		{"discoverable", true, blob[:5], true},
		{"too long", false, append(blob, 1), false},
		{"empty", true, []byte{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := mcRequest(tc.name+".example", "u", tc.rk, nil)
			req.Extensions = map[string]any{"credBlob": tc.blob}
			id, resp := d.register(req)
			if got := extension[bool](t, resp.AuthData, "credBlob"); got != tc.stored {
				t.Errorf("credBlob output %v, want %v", got, tc.stored)
			}
			ga := gaRequest(tc.name+".example", nil, id)
			ga.Extensions = map[string]any{"credBlob": true}
			as, err := d.c.GetAssertion(t.Context(), ga)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.blob
			if !tc.stored {
				want = []byte{}
			}
			if got := extension[[]byte](t, as.AuthData, "credBlob"); !bytes.Equal(got, want) {
				t.Errorf("credBlob %x, want %x", got, want)
			}
			as, err = d.c.GetAssertion(t.Context(), gaRequest(tc.name+".example", nil, id))
			if err != nil {
				t.Fatal(err)
			}
			if ad := parseAuthData(t, as.AuthData); ad.Extensions != nil || ad.Flags&client.FlagED != 0 {
				t.Errorf("extension outputs %v without extension inputs", ad.Extensions)
			}
		})
	}
}

// TestLargeBlobKey: a discoverable credential made with largeBlobKey has a
// key, returned by makeCredential, by getAssertion when asked, and by
// credential management; a non-discoverable one has none; false is no
// valid input.
func TestLargeBlobKey(t *testing.T) {
	d := newDevice(t)
	ctx := t.Context()
	req := mcRequest("example.com", "alice", true, nil)
	req.Extensions = map[string]any{"largeBlobKey": true}
	id, resp := d.register(req)
	if len(resp.LargeBlobKey) != client.LargeBlobKeyLength {
		t.Fatalf("largeBlobKey of %d bytes", len(resp.LargeBlobKey))
	}
	if ad := parseAuthData(t, resp.AuthData); ad.Extensions != nil {
		t.Errorf("largeBlobKey in the authenticator data: %v", ad.Extensions)
	}
	nd := mcRequest("nd.example", "bob", false, nil)
	nd.Extensions = map[string]any{"largeBlobKey": true}
	if _, resp := d.register(nd); resp.LargeBlobKey != nil {
		t.Error("a non-discoverable credential got a largeBlobKey")
	}
	plain, _ := d.register(mcRequest("example.com", "carol", true, nil))

	ga := gaRequest("example.com", nil, id, plain)
	ga.Extensions = map[string]any{"largeBlobKey": true}
	as, err := d.c.GetAssertion(ctx, ga)
	if err != nil || !bytes.Equal(as.LargeBlobKey, resp.LargeBlobKey) {
		t.Errorf("getAssertion's largeBlobKey %x (%v), want %x", as.LargeBlobKey, err, resp.LargeBlobKey)
	}
	if as, err := d.c.GetAssertion(ctx, gaRequest("example.com", nil, id)); err != nil || as.LargeBlobKey != nil {
		t.Errorf("largeBlobKey %x (%v) without the input", as.LargeBlobKey, err)
	}
	ga = gaRequest("example.com", nil, plain)
	ga.Extensions = map[string]any{"largeBlobKey": true}
	if as, err := d.c.GetAssertion(ctx, ga); err != nil || as.LargeBlobKey != nil {
		t.Errorf("a credential without a key: largeBlobKey %x (%v)", as.LargeBlobKey, err)
	}
	for _, cmd := range []string{"makeCredential", "getAssertion"} {
		var err error
		if cmd == "makeCredential" {
			req := mcRequest("example.com", "dave", true, nil)
			req.Extensions = map[string]any{"largeBlobKey": false}
			_, err = d.c.MakeCredential(ctx, req)
		} else {
			ga := gaRequest("example.com", nil, id)
			ga.Extensions = map[string]any{"largeBlobKey": false}
			_, err = d.c.GetAssertion(ctx, ga)
		}
		want(t, cmd+" with largeBlobKey false", err, ctap2.CTAP2ErrInvalidOption)
	}

	if err := d.c.SetPIN(ctx, 0, testPIN); err != nil {
		t.Fatal(err)
	}
	managed, err := d.cm(d.token(0, testPIN, pinuv.PermissionCM, "")).Credentials(ctx, sum("example.com"))
	if err != nil || len(managed) != 2 {
		t.Fatalf("credential management: %d credentials, %v", len(managed), err)
	}
	for _, c := range managed {
		want := []byte(nil)
		if bytes.Equal(c.CredentialID.ID, id) {
			want = resp.LargeBlobKey
		}
		if !bytes.Equal(c.LargeBlobKey, want) {
			t.Errorf("credential management: largeBlobKey %x, want %x", c.LargeBlobKey, want)
		}
	}
}

// TestMinPINLengthExtension: the minimum PIN length goes to the RPs of
// Config.MinPINLengthRPIDs and of setMinPINLength's list, and to no
// other.
func TestMinPINLengthExtension(t *testing.T) {
	d := newDevice(t, withConfig(func(c *ctap2.Config) { c.MinPINLengthRPIDs = []string{"vendor.example"} }))
	ctx := t.Context()
	output := func(rpID string, tok *client.Token) (int, bool) {
		t.Helper()
		req := mcRequest(rpID, "u", false, tok)
		req.Extensions = map[string]any{"minPinLength": true}
		_, resp := d.register(req)
		var n int
		ok, err := parseAuthData(t, resp.AuthData).Extension("minPinLength", &n)
		if err != nil {
			t.Fatal(err)
		}
		return n, ok
	}
	if n, ok := output("vendor.example", nil); !ok || n != 4 {
		t.Errorf("vendor.example: minPinLength %d (%v), want 4", n, ok)
	}
	if _, ok := output("other.example", nil); ok {
		t.Error("other.example learned the minimum PIN length")
	}
	if err := d.c.SetPIN(ctx, 0, "123456"); err != nil {
		t.Fatal(err)
	}
	if err := d.c.SetMinPINLength(ctx, d.token(0, "123456", pinuv.PermissionACFG, ""), client.MinPINLength{NewMinPINLength: 6, RPIDs: []string{"other.example"}}); err != nil {
		t.Fatal(err)
	}
	for _, rpID := range []string{"vendor.example", "other.example"} {
		if n, ok := output(rpID, d.token(0, "123456", pinuv.PermissionMC, "")); !ok || n != 6 {
			t.Errorf("%s: minPinLength %d (%v), want 6", rpID, n, ok)
		}
	}
	if _, ok := output("third.example", d.token(0, "123456", pinuv.PermissionMC, "")); ok {
		t.Error("third.example learned the minimum PIN length")
	}
}

// TestEnterpriseAttestationModes: once enabled, platform-managed
// enterprise attestation attests with the enterprise certificate for any
// RP and vendor-facilitated for the RPs of the configured list; other RPs
// get the ordinary statement, without epAtt.
func TestEnterpriseAttestationModes(t *testing.T) {
	var ca *attestation.CA
	d := newDevice(t, withEA, withConfig(func(c *ctap2.Config) {
		var err error
		if ca, err = attestation.LoadOrCreateCA(c.Keystore); err != nil {
			t.Fatal(err)
		}
		c.Attester = attestation.Basic(ca, [16]byte{1}, c.Keystore)
		c.EnterpriseAttester = attestation.Enterprise(ca, [16]byte{1}, c.Keystore)
		c.EnterpriseAttestationRPIDs = []string{"corp.example"}
		c.AAGUID = [16]byte{1}
	}))
	if err := d.c.EnableEnterpriseAttestation(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		kind  int
		rpID  string
		epAtt bool
	}{
		{1, "corp.example", true},
		{1, "other.example", false},
		{2, "other.example", true},
		{0, "corp.example", false},
	} {
		req := mcRequest(tc.rpID, "u", false, nil)
		req.EnterpriseAttestation = tc.kind
		_, resp := d.register(req)
		var stmt struct {
			X5C [][]byte `cbor:"x5c"`
		}
		if err := cbor.Unmarshal(resp.AttStmt, &stmt); err != nil || len(stmt.X5C) != 1 {
			t.Fatalf("attStmt %x: %v", resp.AttStmt, err)
		}
		cert, err := x509.ParseCertificate(stmt.X5C[0])
		if err != nil {
			t.Fatal(err)
		}
		enterprise := cert.Subject.CommonName == "vauth Enterprise Attestation"
		if resp.EPAtt != tc.epAtt || enterprise != tc.epAtt || resp.Fmt != "packed" {
			t.Errorf("enterpriseAttestation %d for %s: epAtt %v, enterprise certificate %v (fmt %s); want %v",
				tc.kind, tc.rpID, resp.EPAtt, enterprise, resp.Fmt, tc.epAtt)
		}
	}
}
