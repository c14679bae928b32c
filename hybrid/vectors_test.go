package hybrid

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// Third-party vectors, from Chromium's device/fido/cable/v2_handshake_unittest.cc
// (CableV2Encoding.Digits, TunnelServerURLs, KnownQRs).
func TestDigitsChromiumVector(t *testing.T) {
	if got := BytesToDigits([]byte{'a', 'b', 255}); got != "16736865" {
		t.Fatalf("BytesToDigits = %q, want 16736865", got)
	}
	b, err := DigitsToBytes("16736865")
	if err != nil || !bytes.Equal(b, []byte{'a', 'b', 255}) {
		t.Fatalf("DigitsToBytes = %x, %v", b, err)
	}
}

func TestDigits(t *testing.T) {
	data := []byte("0123456789abcdefghijklmn")
	for n := range len(data) {
		d := BytesToDigits(data[:n])
		if want := n/7*17 + partialDigits[n%7]; len(d) != want {
			t.Errorf("%d bytes: %d digits, want %d", n, len(d), want)
		}
		back, err := DigitsToBytes(d)
		if err != nil || !bytes.Equal(back, data[:n]) {
			t.Errorf("%d bytes: round trip %x, %v", n, back, err)
		}
	}
	for _, bad := range []string{"a", "ab", "abc", "999", "0", "00", "0000", "0000000000000000000", "72057594037927936", "1234567890123456a"} {
		if _, err := DigitsToBytes(bad); !errors.Is(err, ErrQR) {
			t.Errorf("DigitsToBytes(%q) = %v, want ErrQR", bad, err)
		}
	}
}

func TestDomainNames(t *testing.T) {
	for _, tc := range []struct {
		v    uint16
		want string
		ok   bool
	}{
		{0, "cable.ua5v.com", true},
		{1, "cable.auth.com", true},
		{2, "", false},
		{255, "", false},
		{266, "cable.wufkweyy3uaxb.com", true}, // Chromium's hashed-domain vector
	} {
		got, err := DomainName(tc.v)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("DomainName(%d) = %q, %v; want %q ok=%v", tc.v, got, err, tc.want, tc.ok)
		}
	}
}

// chromiumPoint is the compressed P-256 point of Chromium's KnownQRs test.
var chromiumPoint, _ = hex.DecodeString("03364C15EEC34331D2865757421D497E569E1EBA6CFF9A69D32E90F19E7F6FD15E")

func TestKnownQRs(t *testing.T) {
	bad := bytes.Clone(chromiumPoint)
	bad[len(bad)-1] ^= 3
	secret := make([]byte, 16)
	yes, no := true, false
	for _, tc := range []struct {
		name    string
		m       map[int]any
		ok      bool
		domains int64
		linking *bool
		reqType string
	}{
		{"basic", map[int]any{0: chromiumPoint, 1: secret}, true, 0, nil, RequestGetAssertion},
		{"invalid point", map[int]any{0: bad, 1: secret}, false, 0, nil, ""},
		{"key not bytes", map[int]any{0: 42, 1: secret}, false, 0, nil, ""},
		{"known domains", map[int]any{0: chromiumPoint, 1: secret, 2: 4567}, true, 4567, nil, RequestGetAssertion},
		{"domains not a number", map[int]any{0: chromiumPoint, 1: secret, 2: "foo"}, false, 0, nil, ""},
		{"linking", map[int]any{0: chromiumPoint, 1: secret, 4: true}, true, 0, &yes, RequestGetAssertion},
		{"no linking", map[int]any{0: chromiumPoint, 1: secret, 4: false}, true, 0, &no, RequestGetAssertion},
		{"linking not bool", map[int]any{0: chromiumPoint, 1: secret, 4: "foo"}, false, 0, nil, ""},
		{"ga", map[int]any{0: chromiumPoint, 1: secret, 5: "ga"}, true, 0, nil, RequestGetAssertion},
		{"mc", map[int]any{0: chromiumPoint, 1: secret, 5: "mc"}, true, 0, nil, RequestMakeCredential},
		{"unknown type", map[int]any{0: chromiumPoint, 1: secret, 5: "XX"}, true, 0, nil, RequestGetAssertion},
		{"type not string", map[int]any{0: chromiumPoint, 1: secret, 5: 42}, false, 0, nil, ""},
		{"unknown key", map[int]any{0: chromiumPoint, 1: secret, 1000: 42}, true, 0, nil, RequestGetAssertion},
		// vauth's own: a short secret and a missing key.
		{"short secret", map[int]any{0: chromiumPoint, 1: secret[:15]}, false, 0, nil, ""},
		{"no secret", map[int]any{0: chromiumPoint}, false, 0, nil, ""},
	} {
		b, err := cbor.Marshal(tc.m)
		if err != nil {
			t.Fatal(err)
		}
		q, err := ParseQR("FIDO:/" + BytesToDigits(b))
		if (err == nil) != tc.ok {
			t.Errorf("%s: ParseQR error %v, want ok=%v", tc.name, err, tc.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrQR) {
				t.Errorf("%s: error %v is not ErrQR", tc.name, err)
			}
			continue
		}
		if q.KnownDomains != tc.domains || q.RequestType != tc.reqType || (q.SupportsLinking == nil) != (tc.linking == nil) ||
			(q.SupportsLinking != nil && *q.SupportsLinking != *tc.linking) {
			t.Errorf("%s: parsed %+v", tc.name, q)
		}
		if !bytes.Equal(compressKey(q.Identity), chromiumPoint) {
			t.Errorf("%s: identity %x, want %x", tc.name, compressKey(q.Identity), chromiumPoint)
		}
	}
	for _, s := range []string{"nonsense", "FIDO:", "FIDO:/1", "fido:/"} {
		if _, err := ParseQR(s); !errors.Is(err, ErrQR) {
			t.Errorf("ParseQR(%q) = %v, want ErrQR", s, err)
		}
	}
}

func TestQRRoundTrip(t *testing.T) {
	p, err := NewPending(RequestMakeCredential)
	if err != nil {
		t.Fatal(err)
	}
	s := p.QR().String()
	// The prefix is case-insensitive (Chromium compares it so).
	q, err := ParseQR("fido:/" + s[len(QRPrefix):])
	if err != nil {
		t.Fatal(err)
	}
	want := p.QR()
	if !q.Identity.Equal(want.Identity) || q.Secret != want.Secret || q.KnownDomains != KnownDomains ||
		q.Timestamp != want.Timestamp || q.RequestType != RequestMakeCredential || q.SupportsLinking == nil || *q.SupportsLinking {
		t.Fatalf("round trip %+v, want %+v", q, want)
	}
}

// TestDerivations checks the key derivations and the advert against
// testdata/derive.json (self-made; see its provenance).
func TestDerivations(t *testing.T) {
	h := hexVectors(t, "testdata/derive.json")
	secret := h("secret")
	eid := EID{Nonce: [10]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, RoutingID: [3]byte{11, 12, 13}}
	pt := eid.Plaintext()
	key := EIDKey(secret)
	tid := TunnelID(secret)
	psk := PSK(secret, pt)
	advert := EncryptAdvert(key, eid)
	for _, c := range []struct {
		name      string
		got, want []byte
	}{
		{"eidPlaintext", pt[:], h("eidPlaintext")},
		{"eidKey", key[:], h("eidKey")},
		{"tunnelId", tid[:], h("tunnelId")},
		{"psk", psk[:], h("psk")},
		{"advert", advert[:], h("advert")},
	} {
		if !bytes.Equal(c.got, c.want) {
			t.Errorf("%s = %x, want %x", c.name, c.got, c.want)
		}
	}
	got, gotPT, err := DecryptAdvert(key, advert[:])
	if err != nil || got != eid || gotPT != pt {
		t.Fatalf("DecryptAdvert = %+v, %x, %v", got, gotPT, err)
	}
}

func TestDecryptAdvertRejects(t *testing.T) {
	key := EIDKey(make([]byte, 16))
	good := EncryptAdvert(key, EID{Domain: 1})
	tamper := func(i int) []byte { b := bytes.Clone(good[:]); b[i] ^= 1; return b }
	reserved := EID{}
	rp := reserved.Plaintext()
	rp[0] = 1
	var rawReserved [AdvertSize]byte
	{
		b := encryptBlock(key, rp)
		copy(rawReserved[:], b)
		copy(rawReserved[16:], advertTag(key, b))
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"ciphertext changed", tamper(0)},
		{"tag changed", tamper(19)},
		{"short", good[:19]},
		{"long", append(bytes.Clone(good[:]), 0)},
		{"other key", func() []byte { a := EncryptAdvert(EIDKey([]byte("other")), EID{}); return a[:] }()},
		{"unassigned domain", func() []byte { a := EncryptAdvert(key, EID{Domain: 7}); return a[:] }()},
		{"reserved bits", rawReserved[:]},
	} {
		if _, _, err := DecryptAdvert(key, tc.data); err == nil {
			t.Errorf("%s: decrypted", tc.name)
		}
	}
	if _, _, err := DecryptAdvert(key, good[:]); err != nil {
		t.Fatalf("good advert: %v", err)
	}
}

// TestWebauthnRSVectors checks tunnel IDs, a hashed domain and a known
// advert from webauthn-authenticator-rs (testdata/webauthn-rs.json,
// third-party).
func TestWebauthnRSVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/webauthn-rs.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Cases []struct {
			Name, Secret, TunnelID, Advert, Nonce, RoutingID, DomainName string
			Domain                                                       uint16
		}
	}
	if err := json.Unmarshal(raw, &v); err != nil || len(v.Cases) != 2 {
		t.Fatalf("%d cases, %v", len(v.Cases), err)
	}
	for _, c := range v.Cases {
		secret, _ := hex.DecodeString(c.Secret)
		tid := TunnelID(secret)
		if got := strings.ToUpper(hex.EncodeToString(tid[:])); got != c.TunnelID {
			t.Errorf("%s: tunnel ID %s, want %s", c.Name, got, c.TunnelID)
		}
		if got, err := DomainName(c.Domain); err != nil || got != c.DomainName {
			t.Errorf("%s: domain %d = %q, %v; want %q", c.Name, c.Domain, got, err, c.DomainName)
		}
		if c.Advert == "" {
			continue
		}
		advert, _ := hex.DecodeString(c.Advert)
		e, _, err := DecryptAdvert(EIDKey(secret), advert)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if hex.EncodeToString(e.Nonce[:]) != c.Nonce || hex.EncodeToString(e.RoutingID[:]) != c.RoutingID || e.Domain != c.Domain {
			t.Errorf("%s: decrypted %+v", c.Name, e)
		}
		if got := EncryptAdvert(EIDKey(secret), e); !bytes.Equal(got[:], advert) {
			t.Errorf("%s: re-encrypted %x, want %x", c.Name, got, advert)
		}
	}
}

// hexVectors reads a JSON object of hex strings (a test vector file) and
// returns a lookup of its values as bytes; a missing, empty or malformed
// value fails the test.
func hexVectors(t *testing.T, path string) func(key string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]string
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return func(k string) []byte {
		t.Helper()
		b, err := hex.DecodeString(v[k])
		if err != nil || len(b) == 0 {
			t.Fatalf("%s: %v", k, err)
		}
		return b
	}
}
