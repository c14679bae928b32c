package ctap2

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vauth/vauth/keystore"
)

// TestAllowList: the allowList is filtered to what the keystore finds for
// the RP, the first match signs, and nothing is left for
// getNextAssertion.
func TestAllowList(t *testing.T) {
	d := newTestDevice(t)
	a := d.register(makeCredentialParams("example.com", []byte("u1"), "alice", false)).authData
	b := d.register(makeCredentialParams("example.com", []byte("u2"), "bob", false)).authData
	other := d.register(makeCredentialParams("other.example", []byte("u1"), "alice", false)).authData
	tampered := bytes.Clone(a.credentialID)
	tampered[0] ^= 0x80
	d.presence.asked()

	for _, tc := range []struct {
		name string
		ids  [][]byte
		want crypto.PublicKey // nil: CTAP2_ERR_NO_CREDENTIALS
		id   []byte
	}{
		{"unknown, other RP, then b", [][]byte{[]byte("unknown"), other.credentialID, b.credentialID}, b.publicKey, b.credentialID},
		{"a and b", [][]byte{a.credentialID, b.credentialID}, a.publicKey, a.credentialID},
		{"other RP only", [][]byte{other.credentialID}, nil, nil},
		{"tampered", [][]byte{tampered}, nil, nil},
		{"empty ID", [][]byte{{}}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, resp := d.call(CmdGetAssertion, getAssertionParams("example.com", tc.ids...))
			if tc.want == nil {
				if status != CTAP2ErrNoCredentials {
					t.Fatalf("%v, want CTAP2_ERR_NO_CREDENTIALS", status)
				}
				if n := len(d.presence.asked()); n != 0 {
					t.Fatalf("presence asked %d times without credentials", n)
				}
				return
			}
			if status != CTAP2OK {
				t.Fatalf("getAssertion: %v", status)
			}
			as := decodeAssertion(t, resp)
			if !bytes.Equal(as.credentialID, tc.id) {
				t.Fatal("signed with another credential")
			}
			verify(t, tc.want, as)
			if as.numberOfCredentials != 0 {
				t.Fatal("numberOfCredentials with an allowList")
			}
			if asked := d.presence.asked(); len(asked) != 1 || asked[0].Op != "getAssertion" || asked[0].RPID != "example.com" {
				t.Fatalf("presence asked %+v", asked)
			}
			if status, _ := d.call(CmdGetNextAssertion, nil); status != CTAP2ErrNotAllowed {
				t.Fatalf("getNextAssertion after an allowList: %v", status)
			}
		})
	}

	t.Run("only unknown types", func(t *testing.T) {
		p := getAssertionParams("example.com")
		p[int(getAssertionAllowList)] = []any{map[string]any{"type": "future", "id": a.credentialID}}
		if status, _ := d.call(CmdGetAssertion, p); status != CTAP2ErrNoCredentials {
			t.Fatalf("%v, want CTAP2_ERR_NO_CREDENTIALS", status)
		}
	})
	t.Run("longer than maxCredentialCountInList", func(t *testing.T) {
		ids := make([][]byte, DefaultMaxCredentialCountInList+1)
		for i := range ids {
			ids[i] = a.credentialID
		}
		if status, _ := d.call(CmdGetAssertion, getAssertionParams("example.com", ids...)); status != CTAP2ErrLimitExceeded {
			t.Fatalf("%v, want CTAP2_ERR_LIMIT_EXCEEDED", status)
		}
		if status, _ := d.call(CmdGetAssertion, getAssertionParams("example.com", ids[1:]...)); status != CTAP2OK {
			t.Fatalf("a full allowList: %v", status)
		}
	})
}

// TestGetAssertionOptions covers the options and PIN/UV steps.
func TestGetAssertionOptions(t *testing.T) {
	d := newTestDevice(t)
	cred := d.register(makeCredentialParams("example.com", []byte("u1"), "alice", true)).authData
	d.presence.asked()
	for _, tc := range []struct {
		name  string
		edit  func(p map[int]any)
		want  Status
		asked int
	}{
		{"rk present", func(p map[int]any) { p[int(getAssertionOptions)] = map[string]any{"rk": false} }, CTAP2ErrUnsupportedOption, 0},
		{"uv true", func(p map[int]any) { p[int(getAssertionOptions)] = map[string]any{"uv": true} }, CTAP2ErrInvalidOption, 0},
		{"uv false", func(p map[int]any) { p[int(getAssertionOptions)] = map[string]any{"uv": false} }, CTAP2OK, 1},
		{"up true", func(p map[int]any) { p[int(getAssertionOptions)] = map[string]any{"up": true} }, CTAP2OK, 1},
		{"zero-length pinUvAuthParam, protocol 1", func(p map[int]any) {
			p[int(getAssertionPinUvAuthParam)] = []byte{}
			p[int(getAssertionPinUvAuthProtocol)] = 1
		}, CTAP2ErrPinNotSet, 1},
		{"pinUvAuthProtocol not supported", func(p map[int]any) {
			p[int(getAssertionPinUvAuthParam)] = []byte{1, 2}
			p[int(getAssertionPinUvAuthProtocol)] = 7
		}, CTAP1ErrInvalidParameter, 0},
		{"pinUvAuthParam without protocol", func(p map[int]any) { p[int(getAssertionPinUvAuthParam)] = []byte{1, 2} }, CTAP2ErrMissingParameter, 0},
		{"unknown extensions ignored", func(p map[int]any) { p[int(getAssertionExtensions)] = map[string]any{"unknown": map[int]any{1: 2}} }, CTAP2OK, 1},
		{"empty allowList means none", func(p map[int]any) { p[int(getAssertionAllowList)] = []any{} }, CTAP2OK, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := getAssertionParams("example.com")
			tc.edit(p)
			status, resp := d.call(CmdGetAssertion, p)
			if status != tc.want {
				t.Fatalf("%v, want %v", status, tc.want)
			}
			if n := len(d.presence.asked()); n != tc.asked {
				t.Errorf("presence asked %d times, want %d", n, tc.asked)
			}
			if status == CTAP2OK {
				verify(t, cred.publicKey, decodeAssertion(t, resp))
			}
		})
	}
}

// TestSilentAssertion: "up" false signs without asking the user and leaves
// the UP flag clear.
func TestSilentAssertion(t *testing.T) {
	d := newTestDevice(t)
	cred := d.register(makeCredentialParams("example.com", []byte("u1"), "alice", false)).authData
	d.presence.asked()
	d.presence.set(ErrDenied) // nobody would approve
	for _, ids := range [][][]byte{{cred.credentialID}, nil} {
		p := getAssertionParams("example.com", ids...)
		p[int(getAssertionOptions)] = map[string]any{"up": false}
		status, resp := d.call(CmdGetAssertion, p)
		if ids == nil {
			// A non-discoverable credential is not found without an allowList.
			if status != CTAP2ErrNoCredentials {
				t.Fatalf("silent assertion without allowList: %v", status)
			}
			continue
		}
		if status != CTAP2OK {
			t.Fatalf("silent assertion: %v", status)
		}
		as := decodeAssertion(t, resp)
		if as.authData.flags != 0 {
			t.Errorf("flags 0x%02x, want none", as.authData.flags)
		}
		verify(t, cred.publicKey, as)
	}
	if n := len(d.presence.asked()); n != 0 {
		t.Fatalf("presence asked %d times for silent assertions", n)
	}
}

// TestDiscoverableAssertions lists several accounts of an RP: newest first,
// numberOfCredentials in the first response, the others through
// getNextAssertion, which needs the getAssertion right before it and at
// most 30 seconds between steps.
func TestDiscoverableAssertions(t *testing.T) {
	d := newTestDevice(t)
	users := []string{"alice", "bob", "carol"}
	keys := map[string]crypto.PublicKey{}
	for i, name := range users {
		reg := d.register(makeCredentialParams("example.com", []byte("id-"+name), name, true))
		keys["id-"+name] = reg.authData.publicKey
		d.clock.Advance(time.Duration(i+1) * time.Second)
	}
	d.register(makeCredentialParams("other.example", []byte("id-dave"), "dave", true))
	d.register(makeCredentialParams("example.com", []byte("id-erin"), "erin", false)) // not discoverable
	d.presence.asked()

	userID := func(as assertion) string {
		t.Helper()
		var id []byte
		mustUnmarshal(t, as.user["id"], &id)
		if len(as.user) != 1 {
			t.Errorf("user %v: want only the ID without user verification", as.user)
		}
		verify(t, keys[string(id)], as)
		return string(id)
	}
	start := func() assertion {
		t.Helper()
		status, resp := d.call(CmdGetAssertion, getAssertionParams("example.com"))
		if status != CTAP2OK {
			t.Fatalf("getAssertion: %v", status)
		}
		return decodeAssertion(t, resp)
	}
	next := func(want Status) assertion {
		t.Helper()
		status, resp := d.call(CmdGetNextAssertion, nil)
		if status != want {
			t.Fatalf("getNextAssertion: %v, want %v", status, want)
		}
		if status != CTAP2OK {
			return assertion{}
		}
		as := decodeAssertion(t, resp)
		if as.numberOfCredentials != 0 {
			t.Error("numberOfCredentials in getNextAssertion")
		}
		return as
	}

	t.Run("order", func(t *testing.T) {
		first := start()
		if first.numberOfCredentials != 3 {
			t.Fatalf("numberOfCredentials %d, want 3", first.numberOfCredentials)
		}
		got := []string{userID(first)}
		for range 2 {
			d.clock.Advance(29 * time.Second)
			got = append(got, userID(next(CTAP2OK)))
		}
		if want := []string{"id-carol", "id-bob", "id-alice"}; !slices.Equal(got, want) {
			t.Fatalf("order %v, want %v", got, want)
		}
		next(CTAP2ErrNotAllowed)
		if asked := d.presence.asked(); len(asked) != 1 || asked[0] != (PresenceRequest{Op: "getAssertion", RPID: "example.com"}) {
			t.Fatalf("presence asked %+v for one getAssertion over three accounts", asked)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		start()
		d.clock.Advance(30*time.Second + time.Millisecond)
		next(CTAP2ErrNotAllowed)
		d.clock.Advance(-time.Hour) // back in time does not bring it back
		next(CTAP2ErrNotAllowed)
		d.clock.Advance(time.Hour)
	})
	t.Run("another command between", func(t *testing.T) {
		start()
		d.mustGetInfo()
		next(CTAP2ErrNotAllowed)
	})
	t.Run("an unknown command between", func(t *testing.T) {
		start()
		d.call(0x55, nil)
		next(CTAP2ErrNotAllowed)
	})
	t.Run("failed getAssertion between", func(t *testing.T) {
		start()
		d.call(CmdGetAssertion, getAssertionParams("nobody.example"))
		next(CTAP2ErrNotAllowed)
	})
	t.Run("without getAssertion", func(t *testing.T) {
		next(CTAP2ErrNotAllowed)
	})
	t.Run("counters", func(t *testing.T) {
		seen := map[string]uint32{}
		for range 2 {
			for i, as := range []assertion{start(), next(CTAP2OK), next(CTAP2OK)} {
				id := userID(as)
				if as.authData.signCount <= seen[id] {
					t.Fatalf("assertion %d: counter %d after %d", i, as.authData.signCount, seen[id])
				}
				seen[id] = as.authData.signCount
				if as.authData.flags != flagUP {
					t.Fatalf("flags 0x%02x, want UP", as.authData.flags)
				}
			}
		}
	})
	t.Run("one credential", func(t *testing.T) {
		d.presence.asked()
		status, resp := d.call(CmdGetAssertion, getAssertionParams("other.example"))
		if status != CTAP2OK {
			t.Fatalf("getAssertion: %v", status)
		}
		if as := decodeAssertion(t, resp); as.numberOfCredentials != 0 {
			t.Fatalf("numberOfCredentials %d for one credential", as.numberOfCredentials)
		}
		if asked := d.presence.asked(); len(asked) != 1 || asked[0] != (PresenceRequest{Op: "getAssertion", RPID: "other.example", User: "dave"}) {
			t.Fatalf("presence asked %+v", asked)
		}
		next(CTAP2ErrNotAllowed)
	})
	t.Run("no credentials", func(t *testing.T) {
		d.presence.asked()
		if status, _ := d.call(CmdGetAssertion, getAssertionParams("nobody.example")); status != CTAP2ErrNoCredentials {
			t.Fatalf("%v, want CTAP2_ERR_NO_CREDENTIALS", status)
		}
		if n := len(d.presence.asked()); n != 0 {
			t.Fatalf("presence asked %d times", n)
		}
	})
}

// TestCredProtect: without user verification, userVerificationRequired
// credentials are never found, and userVerificationOptionalWithCredentialIDList
// ones only through an allowList.
func TestCredProtect(t *testing.T) {
	d := newTestDevice(t)
	rpIDHash := sha256.Sum256([]byte("example.com"))
	create := func(level uint8, name string) *keystore.Credential {
		c, err := d.store.Create(keystore.CreateRequest{
			RPID: "example.com", RPIDHash: rpIDHash, Algorithm: keystore.ES256, Discoverable: true,
			User: keystore.User{ID: []byte(name), Name: name}, CredProtect: level,
		})
		if err != nil {
			t.Fatal(err)
		}
		d.clock.Advance(time.Second)
		return c
	}
	optional := create(0, "optional")
	withList := create(credProtectUVOptionalWithCredentialIDList, "with-list")
	required := create(credProtectUVRequired, "required")

	status, resp := d.call(CmdGetAssertion, getAssertionParams("example.com"))
	if status != CTAP2OK {
		t.Fatalf("getAssertion: %v", status)
	}
	if as := decodeAssertion(t, resp); !bytes.Equal(as.credentialID, optional.ID) || as.numberOfCredentials != 0 {
		t.Fatalf("without allowList: credential %x of %d, want only the unprotected one", as.credentialID, as.numberOfCredentials)
	}
	for _, tc := range []struct {
		name string
		cred *keystore.Credential
		want Status
	}{
		{"optional", optional, CTAP2OK},
		{"optional with credential ID list", withList, CTAP2OK},
		{"required", required, CTAP2ErrNoCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, _ := d.call(CmdGetAssertion, getAssertionParams("example.com", tc.cred.ID)); status != tc.want {
				t.Fatalf("with allowList: %v, want %v", status, tc.want)
			}
		})
	}
	t.Run("excludeList ignores required without UV", func(t *testing.T) {
		p := makeCredentialParams("example.com", []byte("new"), "new", false)
		p[int(makeCredentialExcludeList)] = []any{map[string]any{"type": "public-key", "id": required.ID}}
		if status, _ := d.call(CmdMakeCredential, p); status != CTAP2OK {
			t.Fatalf("%v, want CTAP2_OK", status)
		}
		p[int(makeCredentialExcludeList)] = []any{map[string]any{"type": "public-key", "id": withList.ID}}
		if status, _ := d.call(CmdMakeCredential, p); status != CTAP2ErrCredentialExcluded {
			t.Fatalf("%v, want CTAP2_ERR_CREDENTIAL_EXCLUDED", status)
		}
	})
}

func TestUserResponse(t *testing.T) {
	u := keystore.User{ID: []byte{1}, Name: "alice", DisplayName: "Alice"}
	if got := userResponse(u, false); got.Name != "" || got.DisplayName != "" || !bytes.Equal(got.ID, u.ID) {
		t.Errorf("without UV: %+v", got)
	}
	if got := userResponse(u, true); got.Name != "alice" || got.DisplayName != "Alice" {
		t.Errorf("with UV: %+v", got)
	}
}

// TestUserResponseTruncatesStoredNames: a name stored before requests were
// truncated (up to 65535 bytes) still goes out within the 64-byte limit,
// cut at a character boundary.
func TestUserResponseTruncatesStoredNames(t *testing.T) {
	long := strings.Repeat("a", 63) + "é" + strings.Repeat("b", 1000)
	u := userResponse(keystore.User{ID: []byte{1}, Name: long, DisplayName: long}, true)
	want := strings.Repeat("a", 63)
	if u.Name != want || u.DisplayName != want {
		t.Fatalf("name %q, displayName %q, want %q", u.Name, u.DisplayName, want)
	}
	if u := userResponse(keystore.User{ID: []byte{1}, Name: long}, false); u.Name != "" {
		t.Fatalf("unverified user: name %q sent", u.Name)
	}
}
