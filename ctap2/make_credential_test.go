package ctap2

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/keystore"
)

// TestRegisterAndAssert registers with each algorithm, discoverable or not,
// under each attestation, then signs in a few times: the attestation and
// assertion signatures verify with the public key the registration
// returned, and counters increase.
func TestRegisterAndAssert(t *testing.T) {
	for _, tc := range []struct {
		name     string
		alg      int
		rk       bool
		attester attestation.Attester
		fmt      string
	}{
		{"ES256 self", keystore.ES256, false, attestation.Self(), "packed"},
		{"ES256 self discoverable", keystore.ES256, true, attestation.Self(), "packed"},
		{"EdDSA self", keystore.EdDSA, false, attestation.Self(), "packed"},
		{"EdDSA none discoverable", keystore.EdDSA, true, attestation.None(), "none"},
		{"ES256 none", keystore.ES256, false, attestation.None(), "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newTestDevice(t, func(c *Config) { c.Attester = tc.attester })
			p := makeCredentialParams("example.com", []byte("user-1"), "alice", tc.rk)
			p[int(makeCredentialPubKeyCredParams)] = []any{map[string]any{"type": "public-key", "alg": tc.alg}}
			reg := d.register(p)

			ad := reg.authData
			if ad.rpIDHash != sha256.Sum256([]byte("example.com")) {
				t.Error("rpIdHash is not SHA-256 of the RP ID")
			}
			if ad.flags != flagUP|flagAT {
				t.Errorf("flags 0x%02x, want UP|AT", ad.flags)
			}
			if ad.aaguid != testAAGUID {
				t.Errorf("AAGUID %x", ad.aaguid)
			}
			if ad.alg != tc.alg {
				t.Errorf("COSE alg %d, want %d", ad.alg, tc.alg)
			}
			if n := len(ad.credentialID); n == 0 || n > d.store.MaxCredentialIDLength() {
				t.Errorf("credential ID of %d bytes", n)
			}
			if asked := d.presence.asked(); len(asked) != 1 || asked[0] != (PresenceRequest{Op: "makeCredential", RPID: "example.com", User: "alice"}) {
				t.Errorf("presence asked %+v", asked)
			}
			if reg.fmt != tc.fmt {
				t.Errorf("fmt %q, want %q", reg.fmt, tc.fmt)
			}
			switch tc.fmt {
			case "none":
				if len(reg.attStmt) != 0 {
					t.Errorf("none attStmt %v", reg.attStmt)
				}
			case "packed":
				var alg int
				var sig []byte
				mustUnmarshal(t, reg.attStmt["alg"], &alg)
				mustUnmarshal(t, reg.attStmt["sig"], &sig)
				if alg != tc.alg {
					t.Errorf("attStmt alg %d", alg)
				}
				verify(t, ad.publicKey, assertion{authData: ad, signature: sig})
			}

			last := ad.signCount
			for i := range 3 {
				status, resp := d.call(CmdGetAssertion, getAssertionParams("example.com", ad.credentialID))
				if status != CTAP2OK {
					t.Fatalf("getAssertion %d: %v", i, status)
				}
				as := decodeAssertion(t, resp)
				verify(t, ad.publicKey, as)
				if !bytes.Equal(as.credentialID, ad.credentialID) {
					t.Error("assertion with another credential")
				}
				if as.authData.flags != flagUP {
					t.Errorf("assertion flags 0x%02x, want UP", as.authData.flags)
				}
				if as.authData.rpIDHash != ad.rpIDHash {
					t.Error("assertion rpIdHash differs")
				}
				if as.authData.signCount <= last {
					t.Errorf("counter %d after %d", as.authData.signCount, last)
				}
				last = as.authData.signCount
				if as.numberOfCredentials != 0 {
					t.Error("numberOfCredentials with an allowList")
				}
				if tc.rk {
					var id []byte
					mustUnmarshal(t, as.user["id"], &id)
					if !bytes.Equal(id, []byte("user-1")) || len(as.user) != 1 {
						t.Errorf("user %v: want only the ID without user verification", as.user)
					}
				} else if as.user != nil {
					t.Errorf("user %v for a non-discoverable credential", as.user)
				}
			}
		})
	}
}

// TestAlgorithmChoice: the first pubKeyCredParams entry the authenticator
// supports wins; other types are skipped.
func TestAlgorithmChoice(t *testing.T) {
	param := func(typ string, alg int) map[string]any { return map[string]any{"type": typ, "alg": alg} }
	for _, tc := range []struct {
		name   string
		config []int
		params []any
		want   int // 0: CTAP2_ERR_UNSUPPORTED_ALGORITHM
	}{
		{"EdDSA first", nil, []any{param("public-key", keystore.EdDSA), param("public-key", keystore.ES256)}, keystore.EdDSA},
		{"unknown algorithm skipped", nil, []any{param("public-key", -1), param("public-key", keystore.ES256)}, keystore.ES256},
		{"unknown type skipped", nil, []any{param("future-type", keystore.ES256), param("public-key", keystore.EdDSA)}, keystore.EdDSA},
		{"good then bad", nil, []any{param("public-key", keystore.ES256), param("non-existing type", -1)}, keystore.ES256},
		{"Config.Algorithms restricts", []int{keystore.EdDSA}, []any{param("public-key", keystore.ES256), param("public-key", keystore.EdDSA)}, keystore.EdDSA},
		{"only unsupported", []int{keystore.EdDSA}, []any{param("public-key", keystore.ES256)}, 0},
		{"only unknown type", nil, []any{param("future-type", keystore.ES256)}, 0},
		{"RS1 (not offered)", nil, []any{param("public-key", -65535)}, 0},
		{"empty", nil, []any{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newTestDevice(t, func(c *Config) { c.Algorithms = tc.config })
			p := makeCredentialParams("example.com", []byte{1}, "alice", false)
			p[int(makeCredentialPubKeyCredParams)] = tc.params
			status, resp := d.call(CmdMakeCredential, p)
			if tc.want == 0 {
				if status != CTAP2ErrUnsupportedAlgorithm {
					t.Fatalf("%v, want CTAP2_ERR_UNSUPPORTED_ALGORITHM", status)
				}
				if len(d.presence.asked()) != 0 {
					t.Error("presence asked for an unsupported algorithm")
				}
				return
			}
			if status != CTAP2OK {
				t.Fatalf("makeCredential: %v", status)
			}
			var authData []byte
			mustUnmarshal(t, resp[makeCredentialRespAuthData], &authData)
			ad := parseAuthData(t, authData)
			if ad.alg != tc.want {
				t.Fatalf("alg %d, want %d", ad.alg, tc.want)
			}
			switch ad.publicKey.(type) {
			case *ecdsa.PublicKey:
				if tc.want != keystore.ES256 {
					t.Fatal("ECDSA key for EdDSA")
				}
			case ed25519.PublicKey:
				if tc.want != keystore.EdDSA {
					t.Fatal("Ed25519 key for ES256")
				}
			}
		})
	}
}

// TestMakeCredentialOptionsAndPinUvAuth covers the option and PIN/UV steps
// of an authenticator without a PIN or built-in user verification (see
// pin_uv_test.go for the others).
func TestMakeCredentialOptionsAndPinUvAuth(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(p map[int]any)
		want  Status
		asked int // presence prompts
	}{
		{"up false", func(p map[int]any) { p[int(makeCredentialOptions)] = map[string]any{"up": false} }, CTAP2ErrInvalidOption, 0},
		{"up true", func(p map[int]any) { p[int(makeCredentialOptions)] = map[string]any{"up": true} }, CTAP2OK, 1},
		{"uv true", func(p map[int]any) { p[int(makeCredentialOptions)] = map[string]any{"uv": true} }, CTAP2ErrInvalidOption, 0},
		{"uv false", func(p map[int]any) { p[int(makeCredentialOptions)] = map[string]any{"uv": false} }, CTAP2OK, 1},
		{"rk false", func(p map[int]any) { p[int(makeCredentialOptions)] = map[string]any{"rk": false} }, CTAP2OK, 1},
		{"no options", func(p map[int]any) { delete(p, int(makeCredentialOptions)) }, CTAP2OK, 1},
		{"unknown option", func(p map[int]any) { p[int(makeCredentialOptions)] = map[string]any{"unknown_option": false} }, CTAP2OK, 1},
		{"zero-length pinUvAuthParam, protocol 1", func(p map[int]any) {
			p[int(makeCredentialPinUvAuthParam)] = []byte{}
			p[int(makeCredentialPinUvAuthProtocol)] = 1
		}, CTAP2ErrPinNotSet, 1},
		{"zero-length pinUvAuthParam, no protocol", func(p map[int]any) {
			p[int(makeCredentialPinUvAuthParam)] = []byte{}
		}, CTAP2ErrPinNotSet, 1},
		{"pinUvAuthParam without protocol", func(p map[int]any) {
			p[int(makeCredentialPinUvAuthParam)] = bytes.Repeat([]byte{0x9a}, 32)
		}, CTAP2ErrMissingParameter, 0},
		{"pinUvAuthParam, protocol 3", func(p map[int]any) {
			p[int(makeCredentialPinUvAuthParam)] = bytes.Repeat([]byte{0x9a}, 32)
			p[int(makeCredentialPinUvAuthProtocol)] = 3
		}, CTAP1ErrInvalidParameter, 0},
		{"pinUvAuthParam ignored without a PIN", func(p map[int]any) {
			p[int(makeCredentialPinUvAuthParam)] = bytes.Repeat([]byte{0x9a}, 32)
			p[int(makeCredentialPinUvAuthProtocol)] = 2
		}, CTAP2OK, 1},
		{"pinUvAuthProtocol alone", func(p map[int]any) { p[int(makeCredentialPinUvAuthProtocol)] = 1 }, CTAP2OK, 1},
		{"enterpriseAttestation", func(p map[int]any) { p[int(makeCredentialEnterpriseAttestation)] = 1 }, CTAP1ErrInvalidParameter, 0},
		{"unknown extensions ignored", func(p map[int]any) {
			p[int(makeCredentialExtensions)] = map[string]any{"unknown": map[int]any{1: 2}, "txAuthSimple": "pay"}
		}, CTAP2OK, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newTestDevice(t)
			p := makeCredentialParams("example.com", []byte{1}, "alice", false)
			tc.edit(p)
			status, _ := d.call(CmdMakeCredential, p)
			if status != tc.want {
				t.Errorf("%v, want %v", status, tc.want)
			}
			if n := len(d.presence.asked()); n != tc.asked {
				t.Errorf("presence asked %d times, want %d", n, tc.asked)
			}
			d.mustGetInfo()
		})
	}
}

// TestExcludeList: a credential of the RP in the excludeList ends the
// request with CTAP2_ERR_CREDENTIAL_EXCLUDED after a touch, whatever the
// user answers; other RPs' credentials and unknown IDs do not count.
func TestExcludeList(t *testing.T) {
	d := newTestDevice(t)
	existing := d.register(makeCredentialParams("example.com", []byte("u1"), "alice", true)).authData.credentialID
	other := d.register(makeCredentialParams("other.example", []byte("u1"), "alice", false)).authData.credentialID
	d.presence.asked()

	withExclude := func(rpID string, ids ...[]byte) map[int]any {
		p := makeCredentialParams(rpID, []byte("u2"), "bob", true)
		var list []any
		for _, id := range ids {
			list = append(list, map[string]any{"type": "public-key", "id": id})
		}
		p[int(makeCredentialExcludeList)] = list
		return p
	}
	tampered := bytes.Clone(other)
	tampered[len(tampered)-1] ^= 1
	for _, tc := range []struct {
		name     string
		params   map[int]any
		presence error
		want     Status
	}{
		{"excluded", withExclude("example.com", []byte("unknown"), existing), nil, CTAP2ErrCredentialExcluded},
		{"excluded, user denies", withExclude("example.com", existing), ErrDenied, CTAP2ErrCredentialExcluded},
		{"excluded, user does not answer", withExclude("example.com", existing), ErrTimeout, CTAP2ErrCredentialExcluded},
		{"excluded, request cancelled", withExclude("example.com", existing), context.Canceled, CTAP2ErrKeepaliveCancel},
		{"non-discoverable excluded", withExclude("other.example", other), nil, CTAP2ErrCredentialExcluded},
		{"other RP's credential", withExclude("other.example", existing), nil, CTAP2OK},
		{"tampered ID", withExclude("other.example", tampered), nil, CTAP2OK},
		{"unknown type", func() map[int]any {
			p := withExclude("example.com")
			p[int(makeCredentialExcludeList)] = []any{map[string]any{"type": "future", "id": existing}}
			return p
		}(), nil, CTAP2OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d.presence.set(tc.presence)
			status, _ := d.call(CmdMakeCredential, tc.params)
			if status != tc.want {
				t.Errorf("%v, want %v", status, tc.want)
			}
			if n := len(d.presence.asked()); n != 1 {
				t.Errorf("presence asked %d times, want 1", n)
			}
		})
	}
}

// TestDiscoverableReplacementAndCapacity: a second discoverable credential
// for the same user of the same RP replaces the first, also when the store
// is full; a new user needs room.
func TestDiscoverableReplacementAndCapacity(t *testing.T) {
	d := newTestDevice(t, func(c *Config) { c.MaxDiscoverable = 2 })
	first := d.register(makeCredentialParams("example.com", []byte("u1"), "alice", true))
	d.clock.Advance(1)
	second := d.register(makeCredentialParams("example.com", []byte("u1"), "alice (new)", true))
	if bytes.Equal(first.authData.credentialID, second.authData.credentialID) {
		t.Fatal("the replacement has the same credential ID")
	}
	creds, err := d.store.Discoverable(sha256.Sum256([]byte("example.com")))
	if err != nil {
		t.Fatal(err)
	}
	if len(creds) != 1 || !bytes.Equal(creds[0].ID, second.authData.credentialID) || creds[0].User.Name != "alice (new)" {
		t.Fatalf("after replacement: %+v", creds)
	}
	if status, _ := d.call(CmdGetAssertion, getAssertionParams("example.com", first.authData.credentialID)); status != CTAP2ErrNoCredentials {
		t.Fatalf("the replaced credential still signs: %v", status)
	}

	d.register(makeCredentialParams("example.com", []byte("u2"), "bob", true)) // the store is now full
	if got := remaining(t, d); got != 0 {
		t.Fatalf("remainingDiscoverableCredentials %d, want 0", got)
	}
	for _, tc := range []struct {
		name   string
		params map[int]any
		want   Status
	}{
		{"new user", makeCredentialParams("example.com", []byte("u3"), "carol", true), CTAP2ErrKeyStoreFull},
		{"same user ID, other RP", makeCredentialParams("other.example", []byte("u1"), "alice", true), CTAP2ErrKeyStoreFull},
		{"same user, same RP", makeCredentialParams("example.com", []byte("u2"), "bob", true), CTAP2OK},
		{"non-discoverable", makeCredentialParams("example.com", []byte("u3"), "carol", false), CTAP2OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, _ := d.call(CmdMakeCredential, tc.params); status != tc.want {
				t.Fatalf("%v, want %v", status, tc.want)
			}
		})
	}
}

func remaining(t *testing.T, d *testDevice) int {
	t.Helper()
	var n int
	mustUnmarshal(t, d.mustGetInfo()[getInfoRemainingDiscoverableCredentials], &n)
	return n
}

// failingKeystore makes one keystore method fail, to see that keystore
// trouble becomes CTAP1_ERR_OTHER and is logged.
type failingKeystore struct {
	keystore.Keystore
	failCreate bool
}

func (k failingKeystore) Create(req keystore.CreateRequest) (*keystore.Credential, error) {
	if k.failCreate {
		return nil, errors.New("disk on fire")
	}
	return k.Keystore.Create(req)
}

func TestKeystoreFailureIsOther(t *testing.T) {
	d := newTestDevice(t)
	a, err := New(Config{Keystore: failingKeystore{d.store, true}, Presence: d.presence, Logger: d.a.log})
	if err != nil {
		t.Fatal(err)
	}
	resp := a.HandleCBOR(t.Context(), append([]byte{CmdMakeCredential}, encode(t, makeCredentialParams("example.com", []byte{1}, "alice", false))...), nil)
	if !bytes.Equal(resp, []byte{byte(CTAP1ErrOther)}) {
		t.Fatalf("response %x, want CTAP1_ERR_OTHER", resp)
	}
	if !bytes.Contains(d.logs.Bytes(), []byte("disk on fire")) || !bytes.Contains(d.logs.Bytes(), []byte("level=ERROR")) {
		t.Fatalf("the failure is not logged as an error:\n%s", d.logs)
	}
}

// TestAttestationObjectIsCanonical checks that the response is CTAP2
// canonical CBOR: re-encoding it canonically gives the same bytes.
func TestAttestationObjectIsCanonical(t *testing.T) {
	d := newTestDevice(t)
	resp := d.a.HandleCBOR(t.Context(), append([]byte{CmdMakeCredential}, encode(t, makeCredentialParams("example.com", []byte{1}, "alice", true))...), nil)
	if resp[0] != byte(CTAP2OK) {
		t.Fatalf("status %v", Status(resp[0]))
	}
	var v map[int]any
	if err := cbor.Unmarshal(resp[1:], &v); err != nil {
		t.Fatal(err)
	}
	if again := encode(t, v); !bytes.Equal(again, resp[1:]) {
		t.Fatal("the response is not in canonical order")
	}
}
