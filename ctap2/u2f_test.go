package ctap2

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"testing"

	"github.com/vauth/vauth/ctap1"
	"github.com/vauth/vauth/hid"
	"github.com/vauth/vauth/keystore"
)

// u2fAPDU encodes a U2F request as U2F over HID does (extended Lc, Le).
func u2fAPDU(ins, p1 byte, data []byte) []byte {
	apdu := []byte{0, ins, p1, 0, 0, byte(len(data) >> 8), byte(len(data))}
	return append(append(apdu, data...), 0, 0)
}

// msg sends a U2F request and splits the response.
func (d *testDevice) msg(apdu []byte) ([]byte, ctap1.StatusWord) {
	d.t.Helper()
	resp := d.a.HandleMsg(context.Background(), apdu, nil)
	if len(resp) < 2 {
		d.t.Fatalf("U2F response of %d bytes", len(resp))
	}
	return resp[:len(resp)-2], ctap1.StatusWord(binary.BigEndian.Uint16(resp[len(resp)-2:]))
}

// u2fRegister registers over U2F for app and returns the key handle and
// the public key.
func (d *testDevice) u2fRegister(app [32]byte) ([]byte, *ecdsa.PublicKey) {
	d.t.Helper()
	data, sw := d.msg(u2fAPDU(ctap1.InsRegister, 0, slices.Concat(clientDataHash, app[:])))
	if sw != ctap1.SWNoError || len(data) < 67 {
		d.t.Fatalf("U2F_REGISTER: %v, %d bytes", sw, len(data))
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), data[1:66])
	if err != nil {
		d.t.Fatal(err)
	}
	return data[67 : 67+int(data[66])], pub
}

// u2fAuthenticate signs in over U2F and verifies the signature with pub;
// it returns the user presence byte and the counter, or the status word.
func (d *testDevice) u2fAuthenticate(p1 byte, app [32]byte, keyHandle []byte, pub *ecdsa.PublicKey) (byte, uint32, ctap1.StatusWord) {
	d.t.Helper()
	data, sw := d.msg(u2fAPDU(ctap1.InsAuthenticate, p1, slices.Concat(clientDataHash, app[:], []byte{byte(len(keyHandle))}, keyHandle)))
	if sw != ctap1.SWNoError {
		return 0, 0, sw
	}
	digest := sha256.Sum256(slices.Concat(app[:], data[:5], clientDataHash))
	if !ecdsa.VerifyASN1(pub, digest[:], data[5:]) {
		d.t.Fatal("U2F authentication signature does not verify")
	}
	return data[0], binary.BigEndian.Uint32(data[1:5]), sw
}

// TestU2FCredentialOverCTAP2: a credential registered over U2F, whose
// application parameter is the SHA-256 of an RP ID, signs a CTAP2
// getAssertion for that RP ID (CTAP 2.1 §6.2), with the counter shared
// between both protocols; for another RP it is not found.
func TestU2FCredentialOverCTAP2(t *testing.T) {
	d := newTestDevice(t)
	app := sha256.Sum256([]byte("example.com"))
	kh, pub := d.u2fRegister(app)
	if asked := d.presence.asked(); len(asked) != 1 || asked[0].Op != "makeCredential" {
		t.Fatalf("U2F_REGISTER asked %+v", asked)
	}
	_, first, sw := d.u2fAuthenticate(ctap1.AuthEnforceUserPresence, app, kh, pub)
	if sw != ctap1.SWNoError {
		t.Fatalf("U2F_AUTHENTICATE: %v", sw)
	}
	if asked := d.presence.asked(); len(asked) != 1 || asked[0].Op != "getAssertion" {
		t.Fatalf("U2F_AUTHENTICATE asked %+v", asked)
	}

	status, resp := d.call(CmdGetAssertion, getAssertionParams("example.com", kh))
	if status != CTAP2OK {
		t.Fatalf("getAssertion with the U2F key handle: %v", status)
	}
	as := decodeAssertion(t, resp)
	if !bytes.Equal(as.credentialID, kh) || as.user != nil {
		t.Fatalf("assertion of credential %x with user %v", as.credentialID, as.user)
	}
	verify(t, pub, as)
	if as.authData.signCount <= first {
		t.Errorf("CTAP2 counter %d after the U2F counter %d", as.authData.signCount, first)
	}
	_, third, _ := d.u2fAuthenticate(ctap1.AuthEnforceUserPresence, app, kh, pub)
	if third <= as.authData.signCount {
		t.Errorf("U2F counter %d after the CTAP2 counter %d", third, as.authData.signCount)
	}

	if status, _ := d.call(CmdGetAssertion, getAssertionParams("other.example", kh)); status != CTAP2ErrNoCredentials {
		t.Errorf("getAssertion for another RP: %v, want CTAP2_ERR_NO_CREDENTIALS", status)
	}
}

// TestCTAP2CredentialOverU2F: a non-discoverable ES256 credential made with
// makeCredential signs in over U2F, with the RP ID hash as application
// parameter; discoverable and EdDSA credentials are unknown key handles to
// U2F.
func TestCTAP2CredentialOverU2F(t *testing.T) {
	d := newTestDevice(t)
	app := sha256.Sum256([]byte("example.com"))
	only := func(params map[int]any, alg int) map[int]any {
		params[int(makeCredentialPubKeyCredParams)] = []any{map[string]any{"type": "public-key", "alg": alg}}
		return params
	}
	for _, tc := range []struct {
		name   string
		params map[int]any
		want   ctap1.StatusWord
	}{
		{"non-discoverable ES256", only(makeCredentialParams("example.com", []byte("u1"), "alice", false), keystore.ES256), ctap1.SWNoError},
		{"discoverable ES256", only(makeCredentialParams("example.com", []byte("u2"), "bob", true), keystore.ES256), ctap1.SWWrongData},
		{"non-discoverable EdDSA", only(makeCredentialParams("example.com", []byte("u3"), "carol", false), keystore.EdDSA), ctap1.SWWrongData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := d.register(tc.params).authData
			pub, _ := reg.publicKey.(*ecdsa.PublicKey)
			up, counter, sw := d.u2fAuthenticate(ctap1.AuthEnforceUserPresence, app, reg.credentialID, pub)
			if sw != tc.want {
				t.Fatalf("U2F_AUTHENTICATE: %v, want %v", sw, tc.want)
			}
			if sw == ctap1.SWNoError && (up != flagUP || counter <= reg.signCount) {
				t.Errorf("user presence 0x%02x, counter %d after %d", up, counter, reg.signCount)
			}
		})
	}
}

// TestU2FOverCTAPHID: through the real CTAPHID framing, the device
// advertises CTAPHID_MSG and answers U2F_VERSION; getInfo lists U2F_V2.
func TestU2FOverCTAPHID(t *testing.T) {
	d := newTestDevice(t)
	c := serveHID(t, d.a)
	ctx := t.Context()
	if c.Capabilities()&hid.CapabilityNMSG != 0 {
		t.Error("the device reports NMSG")
	}
	resp, err := c.Msg(ctx, u2fAPDU(ctap1.InsVersion, 0, nil))
	if err != nil {
		t.Fatal(err)
	}
	if want := append([]byte(ctap1.Version), 0x90, 0x00); !bytes.Equal(resp, want) {
		t.Errorf("U2F_VERSION answered %q, want %q", resp, want)
	}

	var versions []string
	mustUnmarshal(t, d.mustGetInfo()[getInfoVersions], &versions)
	if !slices.Contains(versions, "U2F_V2") {
		t.Errorf("getInfo versions %v lack U2F_V2", versions)
	}
}

// TestU2FAlwaysUV: with alwaysUv on, U2F is off and getInfo does not list it
// (CTAP 2.1 §7.2.4).
func TestU2FAlwaysUV(t *testing.T) {
	d := newTestDevice(t)
	d.a.pin.AlwaysUV = true
	if _, sw := d.msg(u2fAPDU(ctap1.InsVersion, 0, nil)); sw != ctap1.SWINSNotSupported {
		t.Errorf("U2F_VERSION with alwaysUv: %v, want SW_INS_NOT_SUPPORTED", sw)
	}
	var versions []string
	mustUnmarshal(t, d.mustGetInfo()[getInfoVersions], &versions)
	if slices.Contains(versions, "U2F_V2") {
		t.Errorf("getInfo versions %v list U2F_V2 with alwaysUv", versions)
	}
}

// TestU2FEndsGetNextAssertion: a U2F message between getAssertion and
// getNextAssertion ends what getNextAssertion would continue.
func TestU2FEndsGetNextAssertion(t *testing.T) {
	d := newTestDevice(t)
	d.register(makeCredentialParams("example.com", []byte("u1"), "alice", true))
	d.register(makeCredentialParams("example.com", []byte("u2"), "bob", true))
	if status, _ := d.call(CmdGetAssertion, getAssertionParams("example.com")); status != CTAP2OK {
		t.Fatalf("getAssertion: %v", status)
	}
	if _, sw := d.msg(u2fAPDU(ctap1.InsVersion, 0, nil)); sw != ctap1.SWNoError {
		t.Fatalf("U2F_VERSION: %v", sw)
	}
	if status, _ := d.call(CmdGetNextAssertion, nil); status != CTAP2ErrNotAllowed {
		t.Errorf("getNextAssertion after a U2F message: %v, want CTAP2_ERR_NOT_ALLOWED", status)
	}
}

// TestU2FReset: authenticatorReset invalidates the credentials made over
// U2F too (CTAP 2.1 §6.6).
func TestU2FReset(t *testing.T) {
	d := newTestDevice(t)
	app := sha256.Sum256([]byte("example.com"))
	kh, pub := d.u2fRegister(app)
	if _, _, sw := d.u2fAuthenticate(ctap1.AuthCheckOnly, app, kh, pub); sw != ctap1.SWConditionsNotSatisfied {
		t.Fatalf("check-only before reset: %v", sw)
	}
	if status, _ := d.call(CmdReset, nil); status != CTAP2OK {
		t.Fatalf("reset: %v", status)
	}
	if _, _, sw := d.u2fAuthenticate(ctap1.AuthCheckOnly, app, kh, pub); sw != ctap1.SWWrongData {
		t.Errorf("check-only after reset: %v, want SW_WRONG_DATA", sw)
	}
}

// TestU2FNoPresence: without a Presence, U2F registrations wait forever
// (SW_CONDITIONS_NOT_SATISFIED).
func TestU2FNoPresence(t *testing.T) {
	d := newTestDevice(t, func(c *Config) { c.Presence = nil })
	app := sha256.Sum256([]byte("example.com"))
	if _, sw := d.msg(u2fAPDU(ctap1.InsRegister, 0, slices.Concat(clientDataHash, app[:]))); sw != ctap1.SWConditionsNotSatisfied {
		t.Errorf("U2F_REGISTER without Presence: %v, want SW_CONDITIONS_NOT_SATISFIED", sw)
	}
}
