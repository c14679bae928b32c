package ctap2_test

// Structured fuzzers, one per CTAP2 command with parameters. Each builds a
// well-typed request from the fuzz inputs — real credential IDs, real
// pinUvAuthParams made with real tokens, PINs encrypted under a real shared
// secret — and a shape that leaves fields out or gives them the wrong CBOR
// type, so that the fuzzer reaches each command's logic and not only the
// decoder's first check. Every answer must be a status (never
// CTAP1_ERR_OTHER, which is what a panic or an unexpected error becomes), and
// every CTAP2_OK is checked against the request and the store.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/ctap2/pinuv"
	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/keystore"
)

// shape says, for each field of a request in the order the fuzzer lists
// them, whether to leave it out (bit i) or to send a value of the wrong
// CBOR type in its place (bit 16+i). The zero shape sends every field.
type shape uint32

// field is one parameter of a request; a nil value (nil slices and maps
// too) is never sent.
type field struct {
	key   int
	value any
}

func (f field) absent() bool {
	if f.value == nil {
		return true
	}
	switch v := reflect.ValueOf(f.value); v.Kind() {
	case reflect.Slice, reflect.Map, reflect.Pointer:
		return v.IsNil()
	}
	return false
}

func (s shape) request(fields ...field) map[int]any {
	req := map[int]any{}
	for i, f := range fields {
		switch {
		case f.absent() || s.omitted(i):
		case s.mistyped(i):
			req[f.key] = wrongType(f.value)
		default:
			req[f.key] = f.value
		}
	}
	return req
}

func (s shape) omitted(i int) bool  { return s&(1<<i) != 0 }
func (s shape) mistyped(i int) bool { return !s.omitted(i) && s&(1<<(16+i)) != 0 }

// sent says whether field i goes out as built.
func (s shape) sent(i int) bool { return !s.omitted(i) && !s.mistyped(i) }

// wrongType is a value of another CBOR type than v's.
func wrongType(v any) any {
	switch v.(type) {
	case string:
		return []byte("not text")
	case int, int64, uint64, bool:
		return "not a number"
	}
	return 7 // in place of byte strings, maps and arrays
}

// send sends cmd with req, encoded as a platform encodes it, and checks the
// form of the answer: a status other than CTAP1_ERR_OTHER, nothing after an
// error, a CBOR map after CTAP2_OK.
func send(t *testing.T, a *ctap2.Authenticator, cmd byte, req map[int]any) (ctap2.Status, map[int]cbor.RawMessage) {
	t.Helper()
	raw, err := canonical(req)
	if err != nil {
		t.Fatal(err)
	}
	return sendRaw(t, a, cmd, raw)
}

func sendRaw(t *testing.T, a *ctap2.Authenticator, cmd byte, params []byte) (ctap2.Status, map[int]cbor.RawMessage) {
	t.Helper()
	resp := a.HandleCBOR(t.Context(), append([]byte{cmd}, params...), nil)
	if len(resp) == 0 {
		t.Fatalf("command 0x%02x: empty response", cmd)
	}
	status := ctap2.Status(resp[0])
	switch {
	case status == ctap2.CTAP1ErrOther:
		t.Fatalf("command 0x%02x: CTAP1_ERR_OTHER for %x", cmd, params)
	case status != ctap2.CTAP2OK && len(resp) != 1:
		t.Fatalf("command 0x%02x: %v with %d bytes of data", cmd, status, len(resp)-1)
	case status != ctap2.CTAP2OK || len(resp) == 1:
		return status, nil
	}
	var m map[int]cbor.RawMessage
	if err := cbor.Unmarshal(resp[1:], &m); err != nil {
		t.Fatalf("command 0x%02x: response is not a CBOR map: %v", cmd, err)
	}
	return status, m
}

// decodeMember decodes a response member that must be there.
func decodeMember(t *testing.T, resp map[int]cbor.RawMessage, key int, v any) {
	t.Helper()
	raw, ok := resp[key]
	if !ok {
		t.Fatalf("response without member %d: %v", key, resp)
	}
	if err := cbor.Unmarshal(raw, v); err != nil {
		t.Fatalf("response member %d: %v", key, err)
	}
}

// fuzzDevice is newCredMgmtDevice's device (a PIN; alice and bob at
// example.com; carol at other.example, credProtect 3; a non-discoverable
// credential at example.com) with what the fuzzers check answers against.
type fuzzDevice struct {
	*credMgmtDevice
	pin   string
	known map[string]knownCredential // by credential ID
	// counters are the last signature counter seen of each credential.
	counters map[string]uint32
}

// knownCredential is a credential the fuzzer made, with its public key.
type knownCredential struct {
	rpID string
	user string
	pub  any
}

func newFuzzDevice(f *testing.F, opts ...option) *fuzzDevice {
	d := &fuzzDevice{credMgmtDevice: newCredMgmtDevice(f, opts...), pin: testPIN, known: map[string]knownCredential{}, counters: map[string]uint32{}}
	for user, id := range d.ids {
		if user == "plain" {
			continue
		}
		rpID := "example.com"
		if user == "carol" {
			rpID = "other.example"
		}
		c, err := d.store.Lookup(sha256.Sum256([]byte(rpID)), id)
		if err != nil {
			f.Fatal(err)
		}
		d.known[string(id)] = knownCredential{rpID: rpID, user: user, pub: c.PublicKey}
	}
	// A non-discoverable credential whose public key the fuzzer keeps.
	id, resp := d.register(mcRequest("example.com", "plain", false, nil))
	d.ids["plain"] = id
	d.known[string(id)] = knownCredential{rpID: "example.com", pub: credentialPublicKey(f, resp.AuthData)}
	return d
}

// bind makes the device report to the fuzz iteration's t.
func (d *fuzzDevice) bind(t *testing.T) { d.t = t }

// credentialPublicKey is the public key in attested credential data.
func credentialPublicKey(t testing.TB, authData []byte) any {
	t.Helper()
	n := int(binary.BigEndian.Uint16(authData[53:]))
	var raw cbor.RawMessage
	if _, err := cbor.UnmarshalFirst(authData[55+n:], &raw); err != nil {
		t.Fatalf("credential public key: %v", err)
	}
	k, err := cose.Parse(raw)
	if err != nil {
		t.Fatalf("credential public key: %v", err)
	}
	pub, err := k.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// descriptors is an allowList or excludeList of the entries the bits of
// which choose: alice's credential, the non-discoverable one, carol's
// (another RP), a tampered copy of alice's (its bit tamper flipped), an ID
// of random bytes, and bob's under another type.
func (d *fuzzDevice) descriptors(which uint8, tamper uint16, random []byte) []any {
	var list []any
	add := func(id []byte, typ string) {
		list = append(list, map[string]any{"type": typ, "id": id})
	}
	for i, user := range []string{"alice", "plain", "carol"} {
		if which&(1<<i) != 0 {
			add(d.ids[user], "public-key")
		}
	}
	if which&8 != 0 {
		id := bytes.Clone(d.ids["alice"])
		id[int(tamper/8)%len(id)] ^= 1 << (tamper % 8)
		add(id, "public-key")
	}
	if which&16 != 0 {
		add(random, "public-key")
	}
	if which&32 != 0 {
		add(d.ids["bob"], "other-type")
	}
	if list == nil {
		list = []any{}
	}
	return list
}

// pinUvAuth is the pinUvAuthParam of message and its protocol, as mode
// chooses: 0 none, 1 made with a fresh token for permissions (none when the
// authenticator refuses the token, say for a malformed RP ID), 2 of the
// right length but wrong, 3 empty (the "touch to select" probe).
func (d *fuzzDevice) pinUvAuth(mode uint8, version uint64, permissions pinuv.Permission, rpID string, message []byte) (param, protocol any, valid bool) {
	switch mode % 4 {
	case 1:
		v := protocolVersion(version)
		tok, err := d.c.GetPinUvAuthTokenUsingPIN(d.t.Context(), v, d.pin, permissions, rpID)
		if err != nil {
			return nil, nil, false
		}
		return tok.Param(message), v, true
	case 2:
		return bytes.Repeat([]byte{0x5a}, 32), version, false
	case 3:
		return []byte{}, version, false
	}
	return nil, nil, false
}

// checkAssertion checks a getAssertion or getNextAssertion answer: a known
// credential of the RP, a signature by its key over authData ||
// clientDataHash, the rpIdHash, and a counter above the last one seen.
func (d *fuzzDevice) checkAssertion(t *testing.T, resp map[int]cbor.RawMessage, rpID string, clientDataHash []byte) []byte {
	t.Helper()
	var (
		cred     client.CredentialDescriptor
		authData []byte
		sig      []byte
	)
	decodeMember(t, resp, 1, &cred)
	decodeMember(t, resp, 2, &authData)
	decodeMember(t, resp, 3, &sig)
	k, ok := d.known[string(cred.ID)]
	if !ok || k.rpID != rpID {
		t.Fatalf("assertion for %q with credential %x, not one of its own (%+v)", rpID, cred.ID, k)
	}
	if h := sha256.Sum256([]byte(rpID)); len(authData) < 37 || !bytes.Equal(authData[:32], h[:]) {
		t.Fatalf("authData %x does not start with the rpIdHash of %q", authData, rpID)
	}
	signed := append(bytes.Clone(authData), clientDataHash...)
	switch pub := k.pub.(type) {
	case *ecdsa.PublicKey:
		digest := sha256.Sum256(signed)
		if !ecdsa.VerifyASN1(pub, digest[:], sig) {
			t.Fatal("ES256 signature does not verify")
		}
	case ed25519.PublicKey:
		if !ed25519.Verify(pub, signed, sig) {
			t.Fatal("EdDSA signature does not verify")
		}
	default:
		t.Fatalf("public key %T", k.pub)
	}
	n := binary.BigEndian.Uint32(authData[33:])
	if last, seen := d.counters[string(cred.ID)]; seen && n <= last {
		t.Fatalf("counter of %x went from %d to %d", cred.ID, last, n)
	}
	d.counters[string(cred.ID)] = n
	return cred.ID
}

var fuzzClientDataHash = testClientDataHash[:]

// protocolVersion is a PIN/UV auth protocol the client knows: 1 for 1,
// else 2.
func protocolVersion(v uint64) int {
	if v == pinuv.ProtocolOneVersion {
		return pinuv.ProtocolOneVersion
	}
	return pinuv.ProtocolTwoVersion
}

// FuzzMakeCredential builds authenticatorMakeCredential requests. A
// registration that succeeds must be for the RP asked (rpIdHash), with the
// UV flag only after a valid pinUvAuthParam, and its credential must be in
// the store (as discoverable as asked) and sign.
func FuzzMakeCredential(f *testing.F) {
	d := newFuzzDevice(f)
	type args struct {
		s                shape
		clientDataHash   []byte
		rpID, rpName     string
		userID           []byte
		userName         string
		alg              int64
		rk, up, uv       bool
		exclude          uint8
		credProtect      uint8
		auth             uint8
		protocol         uint64
		enterpriseAttest uint64
		credBlob         []byte
	}
	const omitEA = 1 << 9
	for _, a := range []args{
		// Fields at and past their limits: a 64-byte user ID, names cut
		// inside a character, the longest credBlob and one more.
		{omitEA, fuzzClientDataHash, "example.com", straddle(65), bytes.Repeat([]byte{0xab}, 64), straddle(65), keystore.ES256, true, true, false, 0, 2, 1, 2, 0, bytes.Repeat([]byte{1}, keystore.MaxCredBlobLength)},
		{omitEA, fuzzClientDataHash, "example.com", "Example", bytes.Repeat([]byte{0xab}, 65), "henry", keystore.ES256, true, true, false, 0, 2, 1, 2, 0, nil},
		{omitEA, fuzzClientDataHash, ascii(300), ascii(300), []byte("ida"), ascii(300), keystore.ES256, true, true, false, 0, 2, 1, 2, 0, bytes.Repeat([]byte{1}, keystore.MaxCredBlobLength+1)},
		{omitEA, fuzzClientDataHash, "example.com", "Example", []byte{}, "empty", keystore.ES256, false, true, false, 0, 2, 0, 0, 0, []byte{}},
		{omitEA, fuzzClientDataHash, "example.com", "Example", []byte("dave"), "dave", keystore.ES256, true, true, false, 0, 0, 1, 2, 0, nil},
		{omitEA, fuzzClientDataHash, "example.com", "Example", []byte("erin"), "erin", keystore.EdDSA, false, true, false, 0, 2, 0, 0, 0, nil},
		{omitEA, fuzzClientDataHash, "example.com", "Example", []byte("frank"), "frank", keystore.ES256, true, true, false, 0b11, 3, 1, 1, 0, nil},
		{omitEA, fuzzClientDataHash, "example.com", "", []byte("alice"), "alice", keystore.ES256, true, true, true, 0, 0, 2, 2, 0, nil},
		{0, fuzzClientDataHash, "example.com", "Example", []byte("gina"), "gina", keystore.ES256, false, false, false, 0, 0, 3, 2, 2, nil},
		{1<<6 | omitEA, fuzzClientDataHash, "other.example", "Other", []byte("carol"), "carol", -257, true, true, false, 0b111100, 1, 1, 2, 0, nil},
		{1<<16 | 1<<18 | omitEA, fuzzClientDataHash, "example.com", "Example", []byte("x"), "x", keystore.ES256, false, true, false, 0, 0, 0, 0, 0, nil},
	} {
		f.Add(uint32(a.s), a.clientDataHash, a.rpID, a.rpName, a.userID, a.userName, a.alg, a.rk, a.up, a.uv, a.exclude, a.credProtect, a.auth, a.protocol, a.enterpriseAttest, a.credBlob)
	}
	f.Fuzz(func(t *testing.T, s32 uint32, clientDataHash []byte, rpID, rpName string, userID []byte, userName string, alg int64, rk, up, uv bool, exclude, credProtect, auth uint8, protocol, enterpriseAttest uint64, credBlob []byte) {
		d.bind(t)
		s := shape(s32)
		param, version, validAuth := d.pinUvAuth(auth, protocol, pinuv.PermissionMC, rpID, clientDataHash)
		exts := map[string]any{"credProtect": int(credProtect % 5), "hmac-secret": credProtect&8 != 0}
		if credBlob != nil {
			exts["credBlob"] = credBlob
		}
		status, resp := send(t, d.a, cmdMakeCredential, s.request(
			field{1, clientDataHash},
			field{2, map[string]any{"id": rpID, "name": rpName}},
			field{3, map[string]any{"id": userID, "name": userName, "displayName": "User " + userName}},
			field{4, []any{map[string]any{"type": "public-key", "alg": alg}, map[string]any{"type": "public-key", "alg": keystore.ES256}}},
			field{5, d.descriptors(exclude, uint16(credProtect), userID)},
			field{6, exts},
			field{7, map[string]any{"rk": rk, "up": up, "uv": uv}},
			field{8, param},
			field{9, version},
			field{10, enterpriseAttest},
		))
		if status != ctap2.CTAP2OK {
			return
		}
		var authData []byte
		decodeMember(t, resp, 2, &authData)
		hash := sha256.Sum256([]byte(rpID))
		if len(authData) < 55 || !bytes.Equal(authData[:32], hash[:]) {
			t.Fatalf("registration for %q: authData %x", rpID, authData)
		}
		if flags := authData[32]; flags&flagUP == 0 || flags&0x40 == 0 {
			t.Fatalf("registration flags %08b without UP or AT", flags)
		} else if flags&flagUV != 0 && !(validAuth && s.sent(7) && s.sent(8)) {
			t.Fatalf("UV flag %08b without a valid pinUvAuthParam", flags)
		}
		n := int(binary.BigEndian.Uint16(authData[53:]))
		id := authData[55 : 55+n]
		c, err := d.store.Lookup(hash, id)
		if err != nil {
			t.Fatalf("the new credential is not in the store: %v", err)
		}
		if wantRK := rk && s.sent(6); c.Discoverable != wantRK {
			t.Fatalf("new credential discoverable %v, asked %v", c.Discoverable, wantRK)
		}
		if len(userID) > keystore.MaxUserIDLength {
			t.Fatalf("registration with a user ID of %d bytes", len(userID))
		}
		if c.Discoverable && (!bytes.Equal(c.User.ID, userID) || c.User.Name != truncated(userName) || c.User.DisplayName != truncated("User "+userName)) {
			t.Fatalf("new credential's user %+v, asked %x %q", c.User, userID, userName)
		}
		if credBlob != nil && s.sent(5) {
			want := credBlob
			if len(want) > keystore.MaxCredBlobLength {
				want = nil // not stored: an output of false (CTAP 2.1 §12.2)
			}
			if !bytes.Equal(c.CredBlob, want) {
				t.Fatalf("new credential's credBlob %x, asked %x", c.CredBlob, credBlob)
			}
		}
		if _, err := d.store.Sign(c, []byte("message")); err != nil {
			t.Fatalf("the new credential does not sign: %v", err)
		}
	})
}

// FuzzGetAssertion builds authenticatorGetAssertion requests with allowLists
// of real, tampered, foreign and random credential IDs. An assertion that
// succeeds must be by a credential of the RP asked, from the allowList when
// there is one, signed by its key, with a counter above the last, and the
// UV flag only after a valid pinUvAuthParam; getNextAssertion continues
// only what getAssertion announced.
func FuzzGetAssertion(f *testing.F) {
	d := newFuzzDevice(f)
	for _, seed := range []struct {
		s         shape
		rpID      string
		allow     uint8
		up, uv    bool
		auth      uint8
		protocol  uint64
		extension uint8
	}{
		{0, "example.com", 0b11, true, false, 0, 2, 0},
		{1 << 2, "example.com", 0, true, false, 0, 2, 0},          // discoverable: two
		{1 << 2, "other.example", 0, true, false, 1, 1, 0},        // credProtect 3: needs UV
		{0, "example.com", 0b111000, false, false, 0, 2, 0},       // silent, with junk
		{0, "example.com", 0b01, true, false, 2, 2, 1},            // a wrong pinUvAuthParam
		{0, "example.com", 0b10, true, true, 3, 1, 2},             // uv without built-in UV
		{1<<17 | 1<<19, "example.com", 0b1, true, false, 0, 2, 0}, // clientDataHash, options mistyped
	} {
		f.Add(uint32(seed.s), seed.rpID, fuzzClientDataHash, seed.allow, uint16(5), seed.up, seed.uv, seed.auth, seed.protocol, seed.extension, []byte("random id"))
	}
	f.Fuzz(func(t *testing.T, s32 uint32, rpID string, clientDataHash []byte, allow uint8, tamper uint16, up, uv bool, auth uint8, protocol uint64, extension uint8, random []byte) {
		d.bind(t)
		s := shape(s32)
		param, version, validAuth := d.pinUvAuth(auth, protocol, pinuv.PermissionGA, rpID, clientDataHash)
		allowList := d.descriptors(allow, tamper, random)
		exts := map[string]any{"credProtect": 3, "hmac-secret": extension&1 != 0, "credBlob": extension&2 != 0}
		status, resp := send(t, d.a, cmdGetAssertion, s.request(
			field{1, rpID},
			field{2, clientDataHash},
			field{3, allowList},
			field{4, exts},
			field{5, map[string]any{"up": up, "uv": uv}},
			field{6, param},
			field{7, version},
		))
		if status != ctap2.CTAP2OK {
			return
		}
		id := d.checkAssertion(t, resp, rpID, clientDataHash)
		if s.sent(2) && len(allowList) > 0 {
			allowed := false
			for _, e := range allowList {
				m := e.(map[string]any)
				allowed = allowed || (m["type"] == "public-key" && bytes.Equal(m["id"].([]byte), id))
			}
			if !allowed {
				t.Fatalf("assertion with %x, not in the allowList", id)
			}
		}
		var authData []byte
		decodeMember(t, resp, 2, &authData)
		if authData[32]&flagUV != 0 && !(validAuth && s.sent(5) && s.sent(6)) {
			t.Fatalf("UV flag %08b without a valid pinUvAuthParam", authData[32])
		}
		if d.known[string(id)].user == "carol" && authData[32]&flagUV == 0 {
			t.Fatal("credProtect 3 credential used without user verification")
		}
		var count int
		if raw, ok := resp[5]; ok {
			if err := cbor.Unmarshal(raw, &count); err != nil {
				t.Fatal(err)
			}
		}
		for i := 1; i < count; i++ {
			status, next := sendRaw(t, d.a, 0x08, nil)
			if status != ctap2.CTAP2OK {
				t.Fatalf("getNextAssertion %d of %d: %v", i, count, status)
			}
			d.checkAssertion(t, next, rpID, clientDataHash)
		}
		if status, _ := sendRaw(t, d.a, 0x08, nil); status != ctap2.CTAP2ErrNotAllowed {
			t.Fatalf("getNextAssertion past the %d announced: %v", count, status)
		}
	})
}

// Subcommands of authenticatorClientPIN that compare a PIN.
const (
	subCmdGetPINRetries = 0x01
	subCmdSetPIN        = 0x03
	subCmdChangePIN     = 0x04
	subCmdGetPinToken   = 0x05
	subCmdGetTokenPIN   = 0x09
)

// FuzzClientPIN builds authenticatorClientPIN requests under a real key
// agreement: PINs of any content encrypted under the shared secret, with
// right or broken pinUvAuthParams, keyAgreement keys of our own, the
// authenticator's or off the curve. Answers must be consistent with the PIN
// state: pinRetries never rise but after a correct PIN, a PIN that setPIN or
// changePIN accepted is the PIN from then on, and a token comes encrypted
// under the shared secret.
func FuzzClientPIN(f *testing.F) {
	withPIN := newFuzzDevice(f)
	noPIN := newDevice(f)
	// Shapes of the seeds: fields 0 pinUvAuthProtocol, 1 subCommand, 2
	// keyAgreement, 3 pinUvAuthParam, 4 newPinEnc, 5 pinHashEnc, 6
	// permissions, 7 rpId.
	const (
		noPermissions = 1<<6 | 1<<7
		onlyNewPIN    = 1<<5 | noPermissions
		tokenOnly     = 1<<3 | 1<<4
	)
	for _, seed := range []struct {
		s           shape
		sub         uint64
		protocol    uint64
		key         uint8
		newPIN      string
		rightPIN    bool
		pin         string
		permissions uint64
		rpID        string
		auth        uint8
		target      uint8
	}{
		{0, subCmdGetPINRetries, 2, 0, "", true, "", 0, "", 0, 0},
		{0, 0x02, 1, 0, "", true, "", 0, "", 0, 0},
		{onlyNewPIN, subCmdSetPIN, 2, 0, "1234", true, "", 0, "", 0, 1},
		{onlyNewPIN, subCmdSetPIN, 1, 0, "12\x003", true, "", 0, "", 0, 1},
		{onlyNewPIN, subCmdSetPIN, 2, 0, "123", true, "", 0, "", 0, 1},
		{onlyNewPIN, subCmdSetPIN, 2, 0, "246810", true, "", 0, "", 0, 0},
		{noPermissions, subCmdChangePIN, 2, 0, "135791", true, "", 0, "", 0, 0},
		{noPermissions, subCmdChangePIN, 1, 0, "135791", false, "wrong", 0, "", 0, 0},
		{noPermissions, subCmdChangePIN, 2, 1, "abcdef", true, "", 0, "", 1, 0},
		{tokenOnly | noPermissions, subCmdGetPinToken, 1, 0, "", true, "", 0, "", 0, 0},
		{tokenOnly, subCmdGetTokenPIN, 2, 0, "", true, "", 0x27, "example.com", 0, 0},
		{tokenOnly | 1<<7, subCmdGetTokenPIN, 2, 2, "", true, "", 0x01, "", 0, 0},
		{tokenOnly | 1<<7, subCmdGetTokenPIN, 1, 0, "", false, "0000", 0x04, "", 0, 0},
		{tokenOnly, subCmdGetTokenPIN, 2, 0, "", true, "", 0x10, "", 0, 0},
		{tokenOnly, 0x06, 2, 0, "", true, "", 0x01, "example.com", 0, 0},
	} {
		f.Add(uint32(seed.s), seed.sub, seed.protocol, seed.key, seed.newPIN, uint8(64), seed.rightPIN, seed.pin, seed.permissions, seed.rpID, seed.auth, seed.target)
	}
	f.Fuzz(func(t *testing.T, s32 uint32, sub, protocol uint64, key uint8, newPIN string, padTo uint8, rightPIN bool, pin string, permissions uint64, rpID string, auth, target uint8) {
		withPIN.bind(t)
		d := withPIN.device
		if target%2 == 1 {
			noPIN.t = t
			d = noPIN
		}
		s := shape(s32)
		version := protocolVersion(protocol)
		before := retries(t, d)
		p := d.platform(version)
		platformKey := any(p.platformKey)
		switch key % 4 {
		case 1: // the authenticator's own key, echoed
			_, resp := send(t, d.a, cmdClientPIN, map[int]any{1: version, 2: 0x02})
			platformKey = resp[1]
		case 2: // off the curve
			off := *p.platformKey
			off.Y = bytes.Clone(off.Y)
			off.Y[0] ^= 1
			platformKey = &off
		case 3:
			platformKey = map[int]any{1: 1, -1: 6, -2: bytes.Repeat([]byte{9}, 32)}
		}
		if rightPIN {
			pin = withPIN.pin
		}
		padded := pad(newPIN, int(padTo)&^15) // what encrypts: whole blocks
		newPinEnc, err := p.p.Encrypt(p.secret, padded)
		if err != nil {
			t.Fatal(err)
		}
		hash := pinuv.PINHash([]byte(pin))
		pinHashEnc := p.encrypt(t, hash[:])
		var message []byte
		switch sub {
		case subCmdSetPIN:
			message = newPinEnc
		case subCmdChangePIN:
			message = append(bytes.Clone(newPinEnc), pinHashEnc...)
		}
		param := p.p.Authenticate(p.secret, message)
		switch auth % 4 {
		case 1:
			param[0] ^= 1
		case 2:
			param = param[:len(param)/2]
		case 3:
			param = []byte{}
		}
		status, resp := send(t, d.a, cmdClientPIN, s.request(
			field{1, protocol},
			field{2, sub},
			field{3, platformKey},
			field{4, param},
			field{5, newPinEnc},
			field{6, pinHashEnc},
			field{9, permissions},
			field{10, rpID},
		))
		after := retries(t, d)
		// Only the right PIN restores pinRetries, even when the request
		// fails after the PIN matched (a new PIN against the rules).
		verifiesPIN := sub == subCmdChangePIN || sub == subCmdGetPinToken || sub == subCmdGetTokenPIN
		if after > before && !(verifiesPIN && pin == withPIN.pin && d == withPIN.device) {
			t.Fatalf("pinRetries rose from %d to %d after %v (subcommand %d, PIN %q)", before, after, status, sub, pin)
		}
		if status == ctap2.CTAP2OK {
			switch sub {
			case 0x02:
				var k cose.Key
				decodeMember(t, resp, 1, &k)
				if _, err := k.ECDH(); err != nil {
					t.Fatalf("getKeyAgreement key: %v", err)
				}
			case subCmdSetPIN, subCmdChangePIN:
				newPIN := string(bytes.TrimRight(padded, "\x00"))
				if _, err := d.c.GetPinUvAuthTokenUsingPIN(t.Context(), version, newPIN, pinuv.PermissionCM, ""); err != nil {
					t.Fatalf("the PIN %q set by subcommand %d does not verify: %v", newPIN, sub, err)
				}
				if d == withPIN.device {
					withPIN.pin = newPIN
				}
			case subCmdGetPinToken, subCmdGetTokenPIN, 0x06:
				var enc []byte
				decodeMember(t, resp, 2, &enc)
				if key%4 == 0 {
					if tok, err := p.p.Decrypt(p.secret, enc); err != nil || len(tok) != pinuv.PinUvAuthTokenLength {
						t.Fatalf("token of %d bytes, %v", len(tok), err)
					}
				}
			}
		}
		// Put the devices back for the next input: a correct PIN before a
		// third mismatch in a row needs a power cycle, and no PIN on the
		// device that has none.
		if after <= pinuv.MaxPINRetries-2 {
			d.token(version, withPIN.pin, pinuv.PermissionCM, "")
		}
		if d == noPIN && d.info().Options["clientPin"] {
			if status, _ := sendRaw(t, d.a, cmdReset, nil); status != ctap2.CTAP2OK {
				t.Fatalf("reset: %v", status)
			}
		}
	})
}

// retries is getPINRetries' pinRetries; without a PIN, where
// getPINRetries is CTAP2_ERR_PIN_NOT_SET, the counter in the state.
func retries(t *testing.T, d *device) int {
	t.Helper()
	n, _, err := d.c.PINRetries(t.Context())
	if !d.a.PINStatus().PINSet {
		// No PIN, no retries to tell: the counter is only in the state.
		want(t, "getPINRetries without a PIN", err, ctap2.CTAP2ErrPinNotSet)
		return d.a.PINStatus().PINRetries
	}
	if err != nil {
		t.Fatalf("getPINRetries: %v", err)
	}
	return n
}

// FuzzCredentialManagement builds authenticatorCredentialManagement
// requests with valid and broken pinUvAuthParams of tokens bound and not
// bound to an RP, over real and tampered credential IDs and RP ID hashes.
// What succeeds must agree with the store: counts, RPs, credentials,
// deletions and renamings; a token bound to one RP touches only that RP.
func FuzzCredentialManagement(f *testing.F) {
	d := newFuzzDevice(f)
	for _, seed := range []struct {
		s       shape
		sub     uint64
		rp      uint8
		cred    uint8
		name    string
		auth    uint8
		preview bool
		nexts   uint8
	}{
		{0, 0x01, 0, 0, "", 1, false, 0},
		{0, 0x02, 0, 0, "", 1, false, 1},
		{0, 0x04, 0, 0, "", 1, false, 1},
		{0, 0x04, 1, 0, "", 1, true, 0},
		{0, 0x06, 0, 1, "", 1, false, 0},
		{0, 0x06, 0, 2, "", 5, false, 0}, // a token bound to example.com, for carol's
		{0, 0x07, 0, 0, "alice renamed", 1, false, 0},
		{0, 0x07, 0, 0, straddle(65), 1, false, 0}, // truncated inside a character
		{0, 0x07, 0, 0, ascii(3000), 1, false, 0},
		{0, 0x07, 0, 4, "tampered", 1, false, 0},
		{0, 0x02, 0, 0, "", 5, false, 0},
		{0, 0x01, 0, 0, "", 2, false, 0},
		{1 << 1, 0x04, 0, 0, "", 1, false, 0},
	} {
		f.Add(uint32(seed.s), seed.sub, seed.rp, seed.cred, []byte("alice"), seed.name, seed.auth, uint64(2), seed.preview, seed.nexts)
	}
	f.Fuzz(func(t *testing.T, s32 uint32, sub uint64, rp, cred uint8, userID []byte, name string, auth uint8, protocol uint64, preview bool, nexts uint8) {
		d.bind(t)
		s := shape(s32)
		hashes := [][]byte{rpIDHash("example.com"), rpIDHash("other.example"), rpIDHash("nobody.example"), userID}
		ids := [][]byte{d.ids["alice"], d.ids["bob"], d.ids["carol"], d.ids["plain"], nil, userID}
		ids[4] = bytes.Clone(d.ids["alice"])
		ids[4][len(ids[4])-1] ^= 1
		credID := ids[int(cred)%len(ids)]
		params := shape(s32>>8).request(
			field{1, hashes[int(rp)%len(hashes)]},
			field{2, map[string]any{"type": "public-key", "id": credID}},
			field{3, map[string]any{"id": userID, "name": name, "displayName": name}},
		)
		var (
			rawParams []byte
			err       error
		)
		if len(params) > 0 {
			if rawParams, err = canonical(params); err != nil {
				t.Fatal(err)
			}
		}
		boundTo := ""
		if auth&4 != 0 {
			boundTo = "example.com"
		}
		param, version, validAuth := d.pinUvAuth(auth, protocol, pinuv.PermissionCM, boundTo, append([]byte{byte(sub)}, rawParams...))
		cmd := byte(cmdCredMgmt)
		if preview {
			cmd = cmdCredMgmtPreview
		}
		req := s.request(field{1, sub}, field{2, cbor.RawMessage(rawParams)}, field{3, version}, field{4, param})
		all, err := d.store.All()
		if err != nil {
			t.Fatal(err)
		}
		status, resp := send(t, d.a, cmd, req)
		if status == ctap2.CTAP2OK && !validAuth && sub != 0x03 && sub != 0x05 {
			t.Fatalf("subcommand %d succeeded without a valid pinUvAuthParam", sub)
		}
		if status != ctap2.CTAP2OK {
			return
		}
		byRP := map[string][]*keystore.Credential{}
		var rps []string
		for _, c := range all {
			if byRP[c.RPID] == nil {
				rps = append(rps, c.RPID)
			}
			byRP[c.RPID] = append(byRP[c.RPID], c)
		}
		switch sub {
		case 0x01:
			var n int
			decodeMember(t, resp, 1, &n)
			if n != len(all) {
				t.Fatalf("getCredsMetadata: %d credentials, the store has %d", n, len(all))
			}
		case 0x02:
			var total int
			decodeMember(t, resp, 5, &total)
			if total != len(rps) || boundTo != "" {
				t.Fatalf("enumerateRPsBegin: %d RPs (token bound to %q), the store has %d", total, boundTo, len(rps))
			}
			var rpEntity client.RPEntity
			decodeMember(t, resp, 3, &rpEntity)
			if rpEntity.ID != rps[0] {
				t.Fatalf("enumerateRPsBegin: first RP %q, want the newest %q", rpEntity.ID, rps[0])
			}
			for i := 1; i < min(int(nexts), total); i++ {
				status, next := sendRaw(t, d.a, cmd, mustCanonical(t, map[int]any{1: 0x03}))
				if status != ctap2.CTAP2OK {
					t.Fatalf("enumerateRPsGetNextRP %d of %d: %v", i, total, status)
				}
				decodeMember(t, next, 3, &rpEntity)
				if rpEntity.ID != rps[i] {
					t.Fatalf("RP %d: %q, want %q", i, rpEntity.ID, rps[i])
				}
			}
		case 0x04:
			var total int
			decodeMember(t, resp, 9, &total)
			h, _ := params[1].([]byte)
			var rpID string
			for _, c := range all {
				if bytes.Equal(c.RPIDHash[:], h) {
					rpID = c.RPID
				}
			}
			if total != len(byRP[rpID]) || (boundTo != "" && boundTo != rpID) {
				t.Fatalf("enumerateCredentialsBegin of %q: %d credentials (token bound to %q), the store has %d", rpID, total, boundTo, len(byRP[rpID]))
			}
			for i := 1; i < min(int(nexts), total); i++ {
				if status, _ := sendRaw(t, d.a, cmd, mustCanonical(t, map[int]any{1: 0x05})); status != ctap2.CTAP2OK {
					t.Fatalf("enumerateCredentialsGetNextCredential %d of %d: %v", i, total, status)
				}
			}
		case 0x06:
			k, ok := d.known[string(credID)]
			if !ok || k.user == "" || (boundTo != "" && boundTo != k.rpID) {
				t.Fatalf("deleteCredential of %x succeeded (%+v, token bound to %q)", credID, k, boundTo)
			}
			if c, err := d.store.Lookup(sha256.Sum256([]byte(k.rpID)), credID); !errors.Is(err, keystore.ErrNotFound) {
				t.Fatalf("deleted credential still found: %v, %v", c, err)
			}
			// Make the user again, for the next input.
			c, err := d.store.Create(keystore.CreateRequest{
				RPID: k.rpID, RPIDHash: sha256.Sum256([]byte(k.rpID)), User: keystore.User{ID: []byte(k.user), Name: k.user, DisplayName: "User " + k.user},
				Algorithm: keystore.ES256, Discoverable: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			delete(d.known, string(credID))
			d.ids[k.user] = c.ID
			d.known[string(c.ID)] = knownCredential{rpID: k.rpID, user: k.user, pub: c.PublicKey}
		case 0x07:
			k := d.known[string(credID)]
			c, err := d.store.Lookup(sha256.Sum256([]byte(k.rpID)), credID)
			if err != nil || (boundTo != "" && boundTo != k.rpID) {
				t.Fatalf("updateUserInformation of %x succeeded (token bound to %q), store: %v", credID, boundTo, err)
			}
			if !bytes.Equal(c.User.ID, userID) || c.User.Name != truncated(name) || c.User.DisplayName != truncated(name) {
				t.Fatalf("user after updateUserInformation %+v, want %q %q", c.User, userID, truncated(name))
			}
		}
	})
}

func mustCanonical(t *testing.T, v any) []byte {
	t.Helper()
	b, err := canonical(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzConfig builds authenticatorConfig requests. A subcommand that fails
// changes nothing; one that succeeds changes what getInfo reports as it
// should: the minimum PIN length only rises, forcePINChange follows,
// alwaysUv flips, enterprise attestation turns on.
func FuzzConfig(f *testing.F) {
	d := newFuzzDevice(f, withEA)
	for _, seed := range []struct {
		s         shape
		sub       uint64
		minLength uint64
		rpIDs     uint8
		force     bool
		auth      uint8
	}{
		{0, 0x01, 0, 0, false, 1},
		{0, 0x02, 0, 0, false, 1},
		{0, 0x03, 6, 1, false, 1},
		{0, 0x03, 8, 0, true, 1},
		{0, 0x03, 2, 0, false, 1},
		{0, 0x03, 6, 9, false, 1},
		{0, 0x02, 0, 0, false, 2},
		{0, 0xff, 0, 0, false, 1},
	} {
		f.Add(uint32(seed.s), seed.sub, seed.minLength, seed.rpIDs, seed.force, seed.auth, uint64(2))
	}
	f.Fuzz(func(t *testing.T, s32 uint32, sub, minLength uint64, rpIDs uint8, force bool, auth uint8, protocol uint64) {
		d.bind(t)
		s := shape(s32)
		// Start from a device whose PIN works and whose settings have room.
		if inf := d.info(); inf.ForcePINChange || inf.MinPINLength > 8 || inf.Options["alwaysUv"] {
			if status, _ := sendRaw(t, d.a, cmdReset, nil); status != ctap2.CTAP2OK {
				t.Fatalf("reset: %v", status)
			}
			if err := d.c.SetPIN(t.Context(), 2, d.pin); err != nil {
				t.Fatal(err)
			}
		}
		before := d.info()
		var names []string
		for i := range int(rpIDs % 10) {
			names = append(names, string(rune('a'+i))+".example")
		}
		params := shape(s32>>8).request(field{1, minLength}, field{2, names}, field{3, force})
		var rawParams []byte
		if len(params) > 0 {
			rawParams = mustCanonical(t, params)
		}
		message := append(bytes.Repeat([]byte{0xff}, 32), cmdConfig, byte(sub))
		param, version, validAuth := d.pinUvAuth(auth, protocol, pinuv.PermissionACFG, "", append(message, rawParams...))
		req := s.request(field{1, sub}, field{2, cbor.RawMessage(rawParams)}, field{3, version}, field{4, param})
		status, _ := send(t, d.a, cmdConfig, req)
		after := d.info()
		if status != ctap2.CTAP2OK {
			if after.MinPINLength != before.MinPINLength || after.ForcePINChange != before.ForcePINChange ||
				after.Options["alwaysUv"] != before.Options["alwaysUv"] || after.Options["ep"] != before.Options["ep"] {
				t.Fatalf("a failed authenticatorConfig (%v) changed getInfo: %+v -> %+v", status, before, after)
			}
			return
		}
		if !validAuth {
			t.Fatalf("authenticatorConfig subcommand %d succeeded without a valid pinUvAuthParam", sub)
		}
		switch sub {
		case 0x01:
			if !after.Options["ep"] {
				t.Fatal("enableEnterpriseAttestation succeeded, ep is off")
			}
		case 0x02:
			if after.Options["alwaysUv"] == before.Options["alwaysUv"] {
				t.Fatal("toggleAlwaysUv succeeded, alwaysUv did not change")
			}
		case 0x03:
			if after.MinPINLength < before.MinPINLength {
				t.Fatalf("minimum PIN length fell from %d to %d", before.MinPINLength, after.MinPINLength)
			}
			if v, ok := params[1].(uint64); ok && s.sent(1) && int(v) > before.MinPINLength && after.MinPINLength != int(v) {
				t.Fatalf("setMinPINLength %d succeeded, minimum now %d", minLength, after.MinPINLength)
			}
			forced := s.sent(1) && params[3] == true
			if mustForce := before.ForcePINChange || forced || after.MinPINLength > utf8.RuneCountInString(d.pin); mustForce && !after.ForcePINChange {
				t.Fatalf("forcePINChange off after setMinPINLength (PIN of %d code points, minimum %d, forceChangePin %v)", utf8.RuneCountInString(d.pin), after.MinPINLength, forced)
			}
		}
	})
}
