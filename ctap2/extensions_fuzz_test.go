package ctap2_test

// Structured fuzzers of the extension inputs and of
// authenticatorLargeBlobs, in the manner of fuzz_requests_test.go: they
// build requests from real parts (a real key agreement, salts encrypted and
// authenticated with the real shared secret, fragments of a real array) in
// shapes that leave fields out or mistype them, and check what comes back.

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/vauth/vauth/ctap2"
)

// FuzzHMACSecretInput: every hmac-secret input gets a status, never
// CTAP1_ERR_OTHER; an accepted one gives HMAC-SHA-256(CredRandom, salt) of
// each salt, encrypted for the platform.
func FuzzHMACSecretInput(f *testing.F) {
	d := newDevice(f)
	id, _ := d.register(mcRequest("example.com", "alice", false, nil))
	for _, seed := range []struct {
		s       shape
		salt    []byte
		valid   bool
		version uint64
		sent    uint64
	}{
		{0, make([]byte, 32), true, 2, 2},
		{0, make([]byte, 64), true, 1, 1},
		{0, make([]byte, 48), true, 2, 2},
		{0, make([]byte, 32), false, 2, 2},
		{0, make([]byte, 32), true, 2, 1},
		{1 << 3, make([]byte, 32), true, 1, 0}, // protocol left out: 1
		{1 << 0, make([]byte, 32), true, 2, 2},
		{1<<17 | 1<<18, make([]byte, 32), true, 2, 2},
	} {
		f.Add(uint32(seed.s), seed.salt, seed.valid, seed.version, seed.sent, []byte("junk"))
	}
	f.Fuzz(func(t *testing.T, s32 uint32, salt []byte, valid bool, version, sent uint64, junk []byte) {
		d.t = t
		s := shape(s32)
		p := d.platform(int(version%2) + 1)
		saltEnc, err := p.p.Encrypt(p.secret, salt)
		if err != nil {
			saltEnc = salt // not whole blocks: sent as it is
		}
		saltAuth := junk
		if valid {
			saltAuth = p.p.Authenticate(p.secret, saltEnc)
		}
		input := s.request(field{1, p.platformKey}, field{2, saltEnc}, field{3, saltAuth}, field{4, sent})
		status, resp := send(t, d.a, cmdGetAssertion, map[int]any{
			1: "example.com", 2: testClientDataHash[:],
			3: []any{map[string]any{"type": "public-key", "id": id}},
			4: map[string]any{"hmac-secret": input},
		})
		if status != ctap2.CTAP2OK {
			return
		}
		if !s.sent(0) || !s.sent(1) || !s.sent(2) || !valid {
			t.Fatalf("accepted an input without a valid key agreement, saltEnc and saltAuth (shape %b)", s)
		}
		var authData []byte
		if err := cbor.Unmarshal(resp[2], &authData); err != nil {
			t.Fatal(err)
		}
		enc := extension[[]byte](t, authData, "hmac-secret")
		out, err := p.p.Decrypt(p.secret, enc)
		if err != nil || len(out) != len(salt) || (len(salt) != 32 && len(salt) != 64) {
			t.Fatalf("output of %d bytes (%v) for a salt of %d", len(out), err, len(salt))
		}
		for i := 0; i < len(salt); i += 32 {
			if !bytes.Equal(out[i:i+32], d.hmacOutput(id, "example.com", false, salt[i:i+32])) {
				t.Fatalf("output %d is not HMAC-SHA-256(CredRandom, salt)", i/32)
			}
		}
	})
}

// FuzzLargeBlobs: every authenticatorLargeBlobs request gets a status,
// never CTAP1_ERR_OTHER, and whatever arrives, the stored array always
// ends with the hash of its contents.
func FuzzLargeBlobs(f *testing.F) {
	d := newDevice(f, withConfig(func(c *ctap2.Config) { c.MaxMsgSize = 1024 }))
	array := serialize([]byte{0x81, 0x43, 1, 2, 3})
	for _, seed := range []struct {
		s              shape
		get            uint64
		set            []byte
		offset, length uint64
		split          uint16
		hashOK         bool
	}{
		{1 << 1, 100, nil, 0, 0, 0, true},                  // a read
		{1 << 0, 0, array, 0, uint64(len(array)), 0, true}, // a write in one fragment
		{1 << 0, 0, array, 0, uint64(len(array)), 10, true},
		{1 << 0, 0, array, 0, uint64(len(array)), 0, false},
		{1<<0 | 1<<3, 0, array, 0, 0, 0, true},
		{1<<0 | 1<<17, 0, array, 5, 9, 3, true},
		{0, 5000, array, 2000, 2000, 0, true},
	} {
		f.Add(uint32(seed.s), seed.get, seed.set, seed.offset, seed.length, seed.split, seed.hashOK)
	}
	f.Fuzz(func(t *testing.T, s32 uint32, get uint64, set []byte, offset, length uint64, split uint16, hashOK bool) {
		d.t = t
		s := shape(s32)
		if hashOK && len(set) > 0 {
			set = serialize(set)
		}
		// A write in two fragments when split falls inside it, else one.
		var parts [][]byte
		if n := int(split); n > 0 && n < len(set) {
			parts = [][]byte{set[:n], set[n:]}
		} else {
			parts = [][]byte{set}
		}
		at := offset
		for i, part := range parts {
			lengthField := field{4, length}
			if i > 0 {
				lengthField = field{4, nil}
			}
			if set == nil {
				part = nil
			}
			status, resp := send(t, d.a, cmdLargeBlobs, s.request(field{1, get}, field{2, part}, field{3, at}, lengthField))
			if status == ctap2.CTAP2OK && s.sent(0) {
				var fragment []byte
				if err := cbor.Unmarshal(resp[1], &fragment); err != nil || uint64(len(fragment)) > get {
					t.Fatalf("read %d bytes (%v), asked for %d", len(fragment), err, get)
				}
			}
			at += uint64(len(part))
		}
		stored := d.readArray()
		data := stored[:len(stored)-16]
		if h := sha256.Sum256(data); !bytes.Equal(h[:16], stored[len(data):]) {
			t.Fatalf("the stored array %x fails its hash check", stored)
		}
	})
}
