package ctap2_test

// The boundary tables: every request field with a limit, at the limit, one
// over and far over (64 KiB), with the exact status, and at the limit a
// round trip of what was stored through getAssertion and credential
// management. They run on the soft keystore and on the TPM keystore (on the
// go-tpm-tools simulator). Requests over maxMsgSize are refused whole, with
// CTAP1_ERR_INVALID_LENGTH, before any field is looked at.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/ctap2/pinuv"
	"github.com/vauth/vauth/hid"
	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/soft"
	"github.com/vauth/vauth/keystore/tpm"
	"github.com/vauth/vauth/keystore/tpm/tpmtest"
)

// limitsBackends are the keystores the boundary tables run on.
var limitsBackends = []struct {
	name string
	open func(t *testing.T) keystore.Keystore
}{
	{"soft", func(t *testing.T) keystore.Keystore {
		s, err := soft.Open(t.TempDir(), soft.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
	{"tpm", func(t *testing.T) keystore.Keystore {
		s, err := tpm.Open(t.TempDir(), tpm.Options{TPM: tpmtest.Simulator(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}},
}

// limitsDevice is an authenticator on ks with built-in user verification,
// so that getAssertion returns the whole user entity and tokens come
// without a PIN.
func limitsDevice(t *testing.T, ks keystore.Keystore) (*device, keystore.Keystore) {
	t.Helper()
	d := &device{t: t, clock: &clock{now: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)}, presence: &answers{}, uv: &answers{}}
	a, err := ctap2.New(ctap2.Config{Keystore: ks, Attester: attestation.Self(), Presence: d.presence, UV: d.uv, Clock: d.clock})
	if err != nil {
		t.Fatal(err)
	}
	d.a, d.c = a, newClient(a)
	return d, ks
}

const (
	limitsRPID = "limits.example"
	farOver    = 64 << 10 // a field of 64 KiB: far over every limit and the message
)

// Sizes of a case's field, besides absolute ones: the most that fits in a
// request of maxMsgSize bytes, and one byte more.
const (
	fillMessage = -1
	overMessage = -2
)

// straddle is a name of n bytes whose last character is 2 bytes long, so
// that a cut at 64 bytes of n = 65 falls inside it.
func straddle(n int) string { return strings.Repeat("n", n-2) + "é" }

// ascii is a text of n bytes.
func ascii(n int) string { return strings.Repeat("a", n) }

// limitsMC is a makeCredential request of a discoverable credential of
// ordinary size, with user verification.
func limitsMC() map[int]any {
	return map[int]any{
		1: testClientDataHash[:],
		2: map[string]any{"id": limitsRPID, "name": "Limits"},
		3: map[string]any{"id": []byte("limits"), "name": "limits", "displayName": "Limits"},
		4: []any{map[string]any{"type": "public-key", "alg": keystore.ES256}},
		7: map[string]any{"rk": true, "uv": true},
	}
}

func entity(req map[int]any, key int) map[string]any { return req[key].(map[string]any) }

// sized sets a field with set to n bytes, or, for fillMessage and
// overMessage, to the size that makes the message (the command byte and the
// encoded request) exactly maxMsgSize bytes long, or one more.
func sized(t *testing.T, req map[int]any, n, maxMsgSize int, set func(n int)) {
	t.Helper()
	if n >= 0 {
		set(n)
		return
	}
	want := maxMsgSize - 1 // the command byte is part of the message
	if n == overMessage {
		want++
	}
	set(1000) // a length with a 3-byte CBOR head, as the result has
	set(want - (len(mustCanonical(t, req)) - 1000))
	if got := len(mustCanonical(t, req)); got != want {
		t.Fatalf("request of %d bytes, want %d", got, want)
	}
}

// credentialID is the credential ID in a registration's authenticator
// data.
func credentialID(t *testing.T, authData []byte) []byte {
	t.Helper()
	ad := parseAuthData(t, authData)
	if ad.CredentialID == nil {
		t.Fatal("authenticator data without attested credential data")
	}
	return ad.CredentialID
}

// discoverableCount is how many discoverable credentials ks holds.
func discoverableCount(t *testing.T, ks keystore.Keystore) int {
	t.Helper()
	all, err := ks.All()
	if err != nil {
		t.Fatal(err)
	}
	return len(all)
}

// wantUser checks a returned user entity.
func wantUser(t *testing.T, what string, got *client.UserEntity, want client.UserEntity) {
	t.Helper()
	if got == nil || !bytes.Equal(got.ID, want.ID) || got.Name != want.Name || got.DisplayName != want.DisplayName {
		t.Errorf("%s: user %+v, want %+v", what, got, want)
	}
}

// truncated is the name as the authenticator must keep it: whole up to 64
// bytes; beyond, its first 64 bytes less a character cut in two.
func truncated(s string) string {
	if len(s) <= keystore.MaxUserNameLength {
		return s
	}
	s = s[:keystore.MaxUserNameLength]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// roundTrip checks that the credential id of rpID comes back from
// getAssertion (with user verification) and from credential management
// with user, and returns the assertion.
func roundTrip(t *testing.T, d *device, rpID string, id []byte, user client.UserEntity, exts map[string]any) *client.GetAssertionResponse {
	t.Helper()
	req := gaRequest(rpID, nil, id)
	req.Options, req.Extensions = map[string]bool{"uv": true}, exts
	as, err := d.c.GetAssertion(t.Context(), req)
	if err != nil {
		t.Fatalf("getAssertion: %v", err)
	}
	wantUser(t, "getAssertion", as.User, user)
	tok, err := d.c.GetPinUvAuthTokenUsingUV(t.Context(), pinuv.ProtocolTwoVersion, pinuv.PermissionCM, "")
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	hash := sha256.Sum256([]byte(rpID))
	creds, err := d.cm(tok).Credentials(t.Context(), hash[:])
	if err != nil {
		t.Fatalf("enumerateCredentials: %v", err)
	}
	for _, c := range creds {
		if bytes.Equal(c.CredentialID.ID, id) {
			wantUser(t, "enumerateCredentials", &c.User, user)
			return as
		}
	}
	t.Fatalf("enumerateCredentials of %d credentials lacks %x", len(creds), id)
	return nil
}

func TestLimits(t *testing.T) {
	for _, b := range limitsBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Run("MakeCredential", func(t *testing.T) { testMakeCredentialLimits(t, b.open(t)) })
			t.Run("Lists", func(t *testing.T) { testListLimits(t, b.open(t)) })
			t.Run("PinUvAuthParam", func(t *testing.T) { testPinUvAuthParamLimits(t, b.open(t)) })
			t.Run("LargeBlobs", func(t *testing.T) { testLargeBlobLimits(t, b.open(t)) })
			t.Run("UpdateUserInformation", func(t *testing.T) { testUpdateUserLimits(t, b.open(t)) })
		})
	}
}

// testMakeCredentialLimits: the entity fields and extension inputs of
// makeCredential. A refused request stores nothing; a taken one stores the
// user (names truncated to 64 bytes at a character boundary), which
// getAssertion and enumerateCredentials return.
func testMakeCredentialLimits(t *testing.T, ks keystore.Keystore) {
	d, ks := limitsDevice(t, ks)
	maxMsg := d.info().MaxMsgSize
	userName := func(key string) func(req map[int]any) func(int) {
		return func(req map[int]any) func(int) {
			return func(n int) { entity(req, 3)[key] = straddle(n) }
		}
	}
	rpName := func(req map[int]any) func(int) { return func(n int) { entity(req, 2)["name"] = straddle(n) } }
	icon := func(key int) func(req map[int]any) func(int) {
		return func(req map[int]any) func(int) { return func(n int) { entity(req, key)["icon"] = ascii(n) } }
	}
	userID := func(req map[int]any) func(int) {
		return func(n int) { entity(req, 3)["id"] = bytes.Repeat([]byte{0xab}, n) }
	}
	rpID := func(req map[int]any) func(int) { return func(n int) { entity(req, 2)["id"] = ascii(n) } }
	extension := func(id string, value func(n int) any) func(req map[int]any) func(int) {
		return func(req map[int]any) func(int) { return func(n int) { req[6] = map[string]any{id: value(n)} } }
	}
	credBlob := extension("credBlob", func(n int) any { return bytes.Repeat([]byte{0xcb}, n) })
	unknown := extension("example.com/unknown", func(n int) any { return bytes.Repeat([]byte{1}, n) })
	for _, tc := range []struct {
		name  string
		field func(req map[int]any) func(n int) // sets the field to n bytes
		n     int
		rk    bool
		want  ctap2.Status
	}{
		{"user.id at 64 bytes", userID, keystore.MaxUserIDLength, true, ctap2.CTAP2OK},
		{"user.id of 65 bytes", userID, keystore.MaxUserIDLength + 1, true, ctap2.CTAP1ErrInvalidLength},
		{"user.id of 65 bytes, non-discoverable", userID, keystore.MaxUserIDLength + 1, false, ctap2.CTAP1ErrInvalidLength},
		{"user.id empty", userID, 0, true, ctap2.CTAP1ErrInvalidLength},
		{"user.id empty, non-discoverable", userID, 0, false, ctap2.CTAP2OK},
		{"user.id of 64 KiB", userID, farOver, true, ctap2.CTAP1ErrInvalidLength},
		{"user.name at 64 bytes", userName("name"), 64, true, ctap2.CTAP2OK},
		{"user.name of 65 bytes, cut inside a character", userName("name"), 65, true, ctap2.CTAP2OK},
		{"user.name filling the message", userName("name"), fillMessage, true, ctap2.CTAP2OK},
		{"user.name one over the message", userName("name"), overMessage, true, ctap2.CTAP1ErrInvalidLength},
		{"user.name of 64 KiB", userName("name"), farOver, true, ctap2.CTAP1ErrInvalidLength},
		{"user.displayName at 64 bytes", userName("displayName"), 64, true, ctap2.CTAP2OK},
		{"user.displayName of 65 bytes, cut inside a character", userName("displayName"), 65, true, ctap2.CTAP2OK},
		{"user.displayName filling the message", userName("displayName"), fillMessage, true, ctap2.CTAP2OK},
		{"user.displayName one over the message", userName("displayName"), overMessage, true, ctap2.CTAP1ErrInvalidLength},
		{"user.displayName of 64 KiB", userName("displayName"), farOver, true, ctap2.CTAP1ErrInvalidLength},
		{"rp.name at 64 bytes", rpName, 64, true, ctap2.CTAP2OK},
		{"rp.name of 65 bytes", rpName, 65, true, ctap2.CTAP2OK},
		{"rp.name filling the message", rpName, fillMessage, true, ctap2.CTAP2OK},
		{"rp.name of 64 KiB", rpName, farOver, true, ctap2.CTAP1ErrInvalidLength},
		{"user.icon filling the message", icon(3), fillMessage, true, ctap2.CTAP2OK},
		{"user.icon of 64 KiB", icon(3), farOver, true, ctap2.CTAP1ErrInvalidLength},
		{"rp.icon filling the message", icon(2), fillMessage, true, ctap2.CTAP2OK},
		{"rp.icon of 64 KiB", icon(2), farOver, true, ctap2.CTAP1ErrInvalidLength},
		{"rp.id of 253 bytes", rpID, 253, true, ctap2.CTAP2OK},
		{"rp.id filling the message", rpID, fillMessage, true, ctap2.CTAP2OK},
		{"rp.id filling the message, non-discoverable", rpID, fillMessage, false, ctap2.CTAP2OK},
		{"rp.id one over the message", rpID, overMessage, true, ctap2.CTAP1ErrInvalidLength},
		{"rp.id of 64 KiB", rpID, farOver, true, ctap2.CTAP1ErrInvalidLength},
		{"credBlob at maxCredBlobLength", credBlob, keystore.MaxCredBlobLength, true, ctap2.CTAP2OK},
		{"credBlob at maxCredBlobLength, non-discoverable", credBlob, keystore.MaxCredBlobLength, false, ctap2.CTAP2OK},
		{"credBlob one over", credBlob, keystore.MaxCredBlobLength + 1, true, ctap2.CTAP2OK},
		{"credBlob filling the message", credBlob, fillMessage, true, ctap2.CTAP2OK},
		{"credBlob of 64 KiB", credBlob, farOver, true, ctap2.CTAP1ErrInvalidLength},
		{"an unknown extension filling the message", unknown, fillMessage, true, ctap2.CTAP2OK},
		{"an unknown extension of 64 KiB", unknown, farOver, true, ctap2.CTAP1ErrInvalidLength},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := limitsMC()
			entity(req, 3)["id"] = []byte(tc.name) // each its own user
			req[7] = map[string]any{"rk": tc.rk, "uv": true}
			sized(t, req, tc.n, maxMsg, tc.field(req))
			before := discoverableCount(t, ks)
			var resp client.MakeCredentialResponse
			if got := statusOf(d.c.Call(t.Context(), cmdMakeCredential, req, &resp)); got != tc.want {
				t.Fatalf("makeCredential: %v, want %v", got, tc.want)
			}
			stored := discoverableCount(t, ks) - before
			if wantStored := tc.want == ctap2.CTAP2OK && tc.rk; stored != map[bool]int{false: 0, true: 1}[wantStored] {
				t.Fatalf("%d discoverable credentials stored", stored)
			}
			if tc.want != ctap2.CTAP2OK {
				return
			}
			rp, u := entity(req, 2), entity(req, 3)
			id := credentialID(t, resp.AuthData)
			ad := parseAuthData(t, resp.AuthData)
			if hash := sha256.Sum256([]byte(rp["id"].(string))); ad.RPIDHash != hash {
				t.Errorf("rpIdHash %x, want that of the RP ID asked", ad.RPIDHash)
			}
			var gaExts map[string]any
			if x, ok := req[6].(map[string]any); ok {
				if _, unknown := ad.Extensions["example.com/unknown"]; unknown {
					t.Error("an output for an unknown extension")
				}
				if blob, ok := x["credBlob"].([]byte); ok {
					var out bool
					if _, err := ad.Extension("credBlob", &out); err != nil || out != (len(blob) <= keystore.MaxCredBlobLength) {
						t.Errorf("credBlob output %v (%v) for %d bytes", out, err, len(blob))
					}
					gaExts = map[string]any{"credBlob": true}
				}
			}
			if !tc.rk {
				return
			}
			want := client.UserEntity{ID: u["id"].([]byte), Name: truncated(u["name"].(string)), DisplayName: truncated(u["displayName"].(string))}
			as := roundTrip(t, d, rp["id"].(string), id, want, gaExts)
			if gaExts != nil {
				var got []byte
				if _, err := parseAuthData(t, as.AuthData).Extension("credBlob", &got); err != nil {
					t.Fatalf("getAssertion credBlob: %v", err)
				}
				blob := req[6].(map[string]any)["credBlob"].([]byte)
				if len(blob) > keystore.MaxCredBlobLength {
					blob = []byte{}
				}
				if !bytes.Equal(got, blob) {
					t.Errorf("getAssertion credBlob of %d bytes, want %d", len(got), len(blob))
				}
			}
			if len(rp["id"].(string)) > 253 {
				tok, err := d.c.GetPinUvAuthTokenUsingUV(t.Context(), pinuv.ProtocolTwoVersion, pinuv.PermissionCM, "")
				if err != nil {
					t.Fatal(err)
				}
				rps, err := d.cm(tok).RPs(t.Context())
				if err != nil {
					t.Fatalf("enumerateRPs: %v", err)
				}
				found := false
				for _, r := range rps {
					found = found || r.RP.ID == rp["id"]
				}
				if !found {
					t.Errorf("enumerateRPs lacks the RP ID of %d bytes", len(rp["id"].(string)))
				}
			}
		})
	}
	// A largeBlobKey comes back from getAssertion and enumerateCredentials.
	req := limitsMC()
	req[6] = map[string]any{"largeBlobKey": true}
	var resp client.MakeCredentialResponse
	if err := d.c.Call(t.Context(), cmdMakeCredential, req, &resp); err != nil || len(resp.LargeBlobKey) != keystore.LargeBlobKeyLength {
		t.Fatalf("makeCredential with largeBlobKey: %v, key of %d bytes", err, len(resp.LargeBlobKey))
	}
	as := roundTrip(t, d, limitsRPID, credentialID(t, resp.AuthData), client.UserEntity{ID: []byte("limits"), Name: "limits", DisplayName: "Limits"},
		map[string]any{"largeBlobKey": true})
	if !bytes.Equal(as.LargeBlobKey, resp.LargeBlobKey) {
		t.Errorf("getAssertion largeBlobKey %x, want %x", as.LargeBlobKey, resp.LargeBlobKey)
	}
}

// testListLimits: an excludeList and an allowList of
// maxCredentialCountInList entries are taken, one more is
// CTAP2_ERR_LIMIT_EXCEEDED.
func testListLimits(t *testing.T, ks keystore.Keystore) {
	d, _ := limitsDevice(t, ks)
	info := d.info()
	id, _ := d.register(mcRequest(limitsRPID, "lists", false, nil))
	list := func(n int) []any {
		out := []any{map[string]any{"type": "public-key", "id": id}}
		for len(out) < n {
			other := make([]byte, info.MaxCredentialIDLength)
			rand.Read(other)
			out = append(out, map[string]any{"type": "public-key", "id": other})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		cmd  byte
		req  func(n int) map[int]any
		n    int
		want ctap2.Status
	}{
		// The excludeList names a credential of the RP: excluded, so the
		// list was read.
		{"excludeList at the limit", cmdMakeCredential, func(n int) map[int]any { r := limitsMC(); r[5] = list(n); return r },
			info.MaxCredentialCountInList, ctap2.CTAP2ErrCredentialExcluded},
		{"excludeList one over", cmdMakeCredential, func(n int) map[int]any { r := limitsMC(); r[5] = list(n); return r },
			info.MaxCredentialCountInList + 1, ctap2.CTAP2ErrLimitExceeded},
		{"allowList at the limit", cmdGetAssertion, func(n int) map[int]any {
			return map[int]any{1: limitsRPID, 2: testClientDataHash[:], 3: list(n)}
		}, info.MaxCredentialCountInList, ctap2.CTAP2OK},
		{"allowList one over", cmdGetAssertion, func(n int) map[int]any {
			return map[int]any{1: limitsRPID, 2: testClientDataHash[:], 3: list(n)}
		}, info.MaxCredentialCountInList + 1, ctap2.CTAP2ErrLimitExceeded},
	} {
		if got, _ := d.raw(tc.cmd, tc.req(tc.n)); got != tc.want {
			t.Errorf("%s (%d entries): %v, want %v", tc.name, tc.n, got, tc.want)
		}
	}
}

// testPinUvAuthParamLimits: a pinUvAuthParam of its protocol's length (16
// bytes for protocol 1, 32 for protocol 2) is verified; any other length is
// CTAP2_ERR_PIN_AUTH_INVALID, an empty one asks for a touch and then says
// no PIN is set (CTAP 2.1 §6.1.2 step 1), and one of 64 KiB is a request
// over maxMsgSize.
func testPinUvAuthParamLimits(t *testing.T, ks keystore.Keystore) {
	d, _ := limitsDevice(t, ks)
	for _, tc := range []struct {
		name    string
		version int
		param   func(right []byte) []byte
		want    ctap2.Status
	}{
		{"protocol 1, 16 bytes", pinuv.ProtocolOneVersion, func(p []byte) []byte { return p }, ctap2.CTAP2OK},
		{"protocol 1, 15 bytes", pinuv.ProtocolOneVersion, func(p []byte) []byte { return p[:15] }, ctap2.CTAP2ErrPinAuthInvalid},
		{"protocol 1, 17 bytes", pinuv.ProtocolOneVersion, func(p []byte) []byte { return append(p, 0) }, ctap2.CTAP2ErrPinAuthInvalid},
		{"protocol 1, 32 bytes", pinuv.ProtocolOneVersion, func(p []byte) []byte { return append(p, p...) }, ctap2.CTAP2ErrPinAuthInvalid},
		{"protocol 2, 32 bytes", pinuv.ProtocolTwoVersion, func(p []byte) []byte { return p }, ctap2.CTAP2OK},
		{"protocol 2, 16 bytes", pinuv.ProtocolTwoVersion, func(p []byte) []byte { return p[:16] }, ctap2.CTAP2ErrPinAuthInvalid},
		{"protocol 2, 31 bytes", pinuv.ProtocolTwoVersion, func(p []byte) []byte { return p[:31] }, ctap2.CTAP2ErrPinAuthInvalid},
		{"protocol 2, 33 bytes", pinuv.ProtocolTwoVersion, func(p []byte) []byte { return append(p, 0) }, ctap2.CTAP2ErrPinAuthInvalid},
		{"protocol 2, empty", pinuv.ProtocolTwoVersion, func([]byte) []byte { return []byte{} }, ctap2.CTAP2ErrPinNotSet},
		{"protocol 2, 64 KiB", pinuv.ProtocolTwoVersion, func([]byte) []byte { return make([]byte, farOver) }, ctap2.CTAP1ErrInvalidLength},
	} {
		tok, err := d.c.GetPinUvAuthTokenUsingUV(t.Context(), tc.version, pinuv.PermissionMC, limitsRPID)
		if err != nil {
			t.Fatalf("%s: token: %v", tc.name, err)
		}
		req := limitsMC()
		entity(req, 3)["id"] = []byte(tc.name)
		req[7] = map[string]any{"rk": true}
		req[8], req[9] = tc.param(tok.Param(testClientDataHash[:])), tc.version
		if got, _ := d.raw(cmdMakeCredential, req); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// testLargeBlobLimits: a read and a write of maxFragmentLength (maxMsgSize
// - 64, CTAP 2.1 §6.10) bytes are taken, one byte more is
// CTAP1_ERR_INVALID_LENGTH, and a write of 64 KiB is a request over
// maxMsgSize.
func testLargeBlobLimits(t *testing.T, ks keystore.Keystore) {
	d, _ := limitsDevice(t, ks)
	maxFragment := d.info().MaxMsgSize - 64
	// A whole serialized array of maxFragmentLength bytes: one byte string
	// (2-byte length) in an array, then the hash.
	data := append([]byte{0x81, 0x59, 0, 0}, make([]byte, maxFragment-16-4)...)
	data[2], data[3] = byte((maxFragment-20)>>8), byte(maxFragment-20)
	array := serialize(data)
	write := func(fragment []byte) ctap2.Status {
		tok, err := d.c.GetPinUvAuthTokenUsingUV(t.Context(), pinuv.ProtocolTwoVersion, pinuv.PermissionLBW, "")
		if err != nil {
			t.Fatalf("token: %v", err)
		}
		status, _ := d.raw(cmdLargeBlobs, map[int]any{2: fragment, 3: 0, 4: len(fragment), 5: lbwParam(tok, 0, fragment), 6: pinuv.ProtocolTwoVersion})
		return status
	}
	if got := write(array); got != ctap2.CTAP2OK {
		t.Fatalf("write of maxFragmentLength: %v", got)
	}
	for _, tc := range []struct {
		name string
		do   func() ctap2.Status
		want ctap2.Status
	}{
		{"read of maxFragmentLength", func() ctap2.Status {
			status, resp := d.raw(cmdLargeBlobs, map[int]any{1: maxFragment, 3: 0})
			if status == ctap2.CTAP2OK && !bytes.Equal(resp[1][len(resp[1])-16:], array[len(array)-16:]) {
				t.Error("read of maxFragmentLength: not the array written")
			}
			return status
		}, ctap2.CTAP2OK},
		{"read one over", func() ctap2.Status { s, _ := d.raw(cmdLargeBlobs, map[int]any{1: maxFragment + 1, 3: 0}); return s }, ctap2.CTAP1ErrInvalidLength},
		{"write one over", func() ctap2.Status { return write(append(bytes.Clone(array), 0)) }, ctap2.CTAP1ErrInvalidLength},
		{"write of 64 KiB", func() ctap2.Status { return write(make([]byte, farOver)) }, ctap2.CTAP1ErrInvalidLength},
	} {
		if got := tc.do(); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := d.readArray(); !bytes.Equal(got, array) {
		t.Errorf("the array changed: %d bytes, want %d", len(got), len(array))
	}
}

// testUpdateUserLimits: updateUserInformation truncates names as
// makeCredential does, refuses a user.id over 64 bytes, and a request over
// maxMsgSize; enumerateCredentials and getAssertion return what was stored.
func testUpdateUserLimits(t *testing.T, ks keystore.Keystore) {
	d, _ := limitsDevice(t, ks)
	userID := bytes.Repeat([]byte{0xab}, keystore.MaxUserIDLength)
	req := limitsMC()
	entity(req, 3)["id"] = userID
	var resp client.MakeCredentialResponse
	if err := d.c.Call(t.Context(), cmdMakeCredential, req, &resp); err != nil {
		t.Fatalf("makeCredential: %v", err)
	}
	id := credentialID(t, resp.AuthData)
	stored := client.UserEntity{ID: userID, Name: "limits", DisplayName: "Limits"}
	for _, tc := range []struct {
		name string
		user client.UserEntity
		want ctap2.Status
	}{
		{"names at 64 bytes", client.UserEntity{ID: userID, Name: straddle(64), DisplayName: ascii(64)}, ctap2.CTAP2OK},
		{"names of 65 bytes", client.UserEntity{ID: userID, Name: straddle(65), DisplayName: ascii(65)}, ctap2.CTAP2OK},
		{"names of 7000 bytes", client.UserEntity{ID: userID, Name: straddle(3500), DisplayName: ascii(3500)}, ctap2.CTAP2OK},
		{"a name of 64 KiB", client.UserEntity{ID: userID, Name: ascii(farOver)}, ctap2.CTAP1ErrInvalidLength},
		{"user.id of 65 bytes", client.UserEntity{ID: append(bytes.Clone(userID), 0xab), Name: "x"}, ctap2.CTAP1ErrInvalidLength},
		{"another user.id", client.UserEntity{ID: userID[1:], Name: "x"}, ctap2.CTAP1ErrInvalidParameter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := d.c.GetPinUvAuthTokenUsingUV(t.Context(), pinuv.ProtocolTwoVersion, pinuv.PermissionCM, "")
			if err != nil {
				t.Fatal(err)
			}
			if got := statusOf(d.cm(tok).UpdateUser(t.Context(), id, tc.user)); got != tc.want {
				t.Fatalf("updateUserInformation: %v, want %v", got, tc.want)
			}
			if tc.want == ctap2.CTAP2OK {
				stored = client.UserEntity{ID: userID, Name: truncated(tc.user.Name), DisplayName: truncated(tc.user.DisplayName)}
			}
			roundTrip(t, d, limitsRPID, id, stored, nil)
		})
	}
}

// TestLimitsOverCTAPHID: the boundaries through the real CTAPHID framing,
// whose largest message (7609 bytes) carries the command byte and at most
// 7608 bytes of parameters: a 64-byte user ID and a display name filling
// the message round-trip, a 65-byte user ID is CTAP1_ERR_INVALID_LENGTH,
// and a request the framing cannot carry (64 KiB) never reaches the device,
// which still answers after it.
func TestLimitsOverCTAPHID(t *testing.T) {
	d, ks := limitsDevice(t, limitsBackends[0].open(t))
	d.c = client.New(ctap2.ServeHID(t, d.a))
	for _, tc := range []struct {
		name string
		n    int // the display name's length; fillMessage: the most CTAPHID carries
		id   int // the user ID's length
		want ctap2.Status
	}{
		{"user.id at 64 bytes", 8, keystore.MaxUserIDLength, ctap2.CTAP2OK},
		{"user.id of 65 bytes", 8, keystore.MaxUserIDLength + 1, ctap2.CTAP1ErrInvalidLength},
		{"user.displayName filling the CTAPHID message", fillMessage, 8, ctap2.CTAP2OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := limitsMC()
			u := entity(req, 3)
			u["id"] = bytes.Repeat([]byte{byte(tc.id)}, tc.id)
			sized(t, req, tc.n, hid.MaxMessageSize-1, func(n int) { u["displayName"] = straddle(n) })
			var resp client.MakeCredentialResponse
			if got := statusOf(d.c.Call(t.Context(), cmdMakeCredential, req, &resp)); got != tc.want {
				t.Fatalf("makeCredential: %v, want %v", got, tc.want)
			}
			if tc.want == ctap2.CTAP2OK {
				want := client.UserEntity{ID: u["id"].([]byte), Name: u["name"].(string), DisplayName: truncated(u["displayName"].(string))}
				roundTrip(t, d, limitsRPID, credentialID(t, resp.AuthData), want, nil)
			}
		})
	}
	before := discoverableCount(t, ks)
	req := limitsMC()
	entity(req, 3)["displayName"] = ascii(farOver)
	var se *ctap2.StatusError
	if err := d.c.Call(t.Context(), cmdMakeCredential, req, nil); err == nil || errors.As(err, &se) {
		t.Errorf("a request of 64 KiB: %v, want the framing to refuse it unsent", err)
	}
	if n := discoverableCount(t, ks); n != before {
		t.Errorf("%d credentials after a request of 64 KiB, want %d", n, before)
	}
	if _, err := d.c.GetInfo(t.Context()); err != nil {
		t.Errorf("getInfo after a request of 64 KiB: %v", err)
	}
}
