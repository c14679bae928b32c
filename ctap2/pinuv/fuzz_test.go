package pinuv

import (
	"bytes"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/vauth/vauth/internal/cose"
)

// FuzzDecrypt feeds both protocols arbitrary keys and ciphertexts, as a
// hostile platform could (the key length is the authenticator's own, but
// nothing should panic whatever it is).
func FuzzDecrypt(f *testing.F) {
	f.Add(make([]byte, 32), make([]byte, 64), make([]byte, 16))
	f.Add(make([]byte, 64), make([]byte, 80), make([]byte, 32))
	f.Add(make([]byte, 64), make([]byte, 15), []byte{})
	f.Add([]byte{}, []byte{1}, []byte{2})
	protocols := []Protocol{mustNew(f, ProtocolOneVersion), mustNew(f, ProtocolTwoVersion)}
	f.Fuzz(func(t *testing.T, key, ciphertext, signature []byte) {
		for _, p := range protocols {
			pt, err := p.Decrypt(key, ciphertext)
			if err == nil {
				want := len(ciphertext)
				if p.Version() == ProtocolTwoVersion {
					want -= ivLength
				}
				if len(pt) != want {
					t.Fatalf("protocol %d: %d-byte ciphertext decrypted to %d bytes", p.Version(), len(ciphertext), len(pt))
				}
				ct, err := p.Encrypt(key, pt)
				if err != nil {
					t.Fatalf("protocol %d: cannot encrypt what it decrypted: %v", p.Version(), err)
				}
				if again, err := p.Decrypt(key, ct); err != nil || !bytes.Equal(again, pt) {
					t.Fatalf("protocol %d: round trip failed", p.Version())
				}
			}
			p.Verify(key, ciphertext, signature)
			p.Authenticate(key, ciphertext)
		}
	})
}

// FuzzDecapsulate feeds arbitrary keyAgreement parameters to both protocols.
func FuzzDecapsulate(f *testing.F) {
	valid, err := mustNew(f, ProtocolTwoVersion).GetPublicKey().Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add([]byte{0xa0})
	protocols := []Protocol{mustNew(f, ProtocolOneVersion), mustNew(f, ProtocolTwoVersion)}
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := cose.Parse(data)
		if err != nil {
			return
		}
		for _, p := range protocols {
			p.Decapsulate(k)
		}
	})
}

// FuzzDecodeNewPIN checks that any decrypted paddedNewPin either yields a
// PIN within the composition rules or a status error.
func FuzzDecodeNewPIN(f *testing.F) {
	f.Add(append([]byte("1234"), make([]byte, 60)...), 4)
	f.Add(append([]byte("🔑🔒🔓🗝"), make([]byte, 48)...), 4)
	f.Add(bytes.Repeat([]byte{0xff}, 64), 4)
	f.Add([]byte{}, -1)
	f.Fuzz(func(t *testing.T, padded []byte, minCodePoints int) {
		pin, err := DecodeNewPIN(padded, minCodePoints)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || (e.Status != StatusInvalidParameter && e.Status != StatusPINPolicyViolation) {
				t.Fatalf("error %v carries no PIN status", err)
			}
			return
		}
		switch {
		case len(pin) > MaxPINLength, bytes.IndexByte(pin, 0) >= 0, !utf8.Valid(pin),
			utf8.RuneCount(pin) < max(minCodePoints, MinPINLength):
			t.Fatalf("accepted PIN %q breaks the composition rules", pin)
		case !bytes.Equal(padded, append(bytes.Clone(pin), make([]byte, PaddedPINLength-len(pin))...)):
			t.Fatalf("PIN %q is not paddedNewPin %x without its padding", pin, padded)
		}
	})
}
