package pinuv

import (
	"bytes"
	"crypto/aes"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/vauth/vauth/internal/cose"
)

var versions = []struct {
	version      int
	secretLength int
	sigLength    int
	encOverhead  int // bytes Encrypt adds (the IV of protocol two)
}{
	{ProtocolOneVersion, 32, 16, 0},
	{ProtocolTwoVersion, 64, 32, 16},
}

func mustNew(t testing.TB, version int) Protocol {
	t.Helper()
	p, err := New(version)
	if err != nil {
		t.Fatalf("New(%d): %v", version, err)
	}
	return p
}

// wireKey sends a COSE key through its CBOR encoding, as getKeyAgreement
// and the keyAgreement parameter do.
func wireKey(t *testing.T, k *cose.Key) *cose.Key {
	t.Helper()
	b, err := k.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := cose.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return parsed
}

func paddedPIN(pin string) []byte {
	return append([]byte(pin), make([]byte, PaddedPINLength-len(pin))...)
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range versions {
		t.Run(fmt.Sprintf("protocol%d", tc.version), func(t *testing.T) {
			authenticator, platform := mustNew(t, tc.version), mustNew(t, tc.version)
			if authenticator.Version() != tc.version {
				t.Fatalf("Version() = %d", authenticator.Version())
			}

			pub := authenticator.GetPublicKey()
			if pub.Kty != cose.KtyEC2 || pub.Crv != cose.CrvP256 || pub.Alg != cose.AlgECDHESHKDF256 {
				t.Fatalf("GetPublicKey() = kty %d crv %d alg %d, want EC2 P-256 -25", pub.Kty, pub.Crv, pub.Alg)
			}
			platformKey, platformSecret, err := platform.Encapsulate(wireKey(t, pub))
			if err != nil {
				t.Fatal(err)
			}
			if platformKey.Alg != cose.AlgECDHESHKDF256 {
				t.Errorf("platform key alg %d, want -25", platformKey.Alg)
			}
			secret, err := authenticator.Decapsulate(wireKey(t, platformKey))
			if err != nil {
				t.Fatal(err)
			}
			if len(secret) != tc.secretLength || !bytes.Equal(secret, platformSecret) {
				t.Fatalf("shared secrets differ or have the wrong length: %x vs %x", secret, platformSecret)
			}

			// setPIN: the platform encrypts and authenticates, the
			// authenticator verifies and decrypts.
			newPinEnc, err := platform.Encrypt(platformSecret, paddedPIN("1234"))
			if err != nil {
				t.Fatal(err)
			}
			if len(newPinEnc) != PaddedPINLength+tc.encOverhead {
				t.Errorf("newPinEnc of %d bytes", len(newPinEnc))
			}
			param := platform.Authenticate(platformSecret, newPinEnc)
			if len(param) != tc.sigLength {
				t.Errorf("pinUvAuthParam of %d bytes, want %d", len(param), tc.sigLength)
			}
			if !authenticator.Verify(secret, newPinEnc, param) {
				t.Fatal("Verify rejected the platform's pinUvAuthParam")
			}
			padded, err := authenticator.Decrypt(secret, newPinEnc)
			if err != nil {
				t.Fatal(err)
			}
			pin, err := DecodeNewPIN(padded, MinPINLength)
			if err != nil || string(pin) != "1234" {
				t.Fatalf("DecodeNewPIN = %q, %v", pin, err)
			}

			// getPinUvAuthToken: the authenticator encrypts the token, the
			// platform decrypts it and authenticates with it.
			tok := NewToken(nil)
			tok.BeginUsingPinUvAuthToken(false)
			tokenEnc, err := authenticator.Encrypt(secret, tok.Value(authenticator))
			if err != nil {
				t.Fatal(err)
			}
			token, err := platform.Decrypt(platformSecret, tokenEnc)
			if err != nil || !bytes.Equal(token, tok.Value(authenticator)) {
				t.Fatalf("platform decrypted token %x, %v", token, err)
			}
			clientDataHash := bytes.Repeat([]byte{0xcd}, 32)
			if !tok.Verify(authenticator, clientDataHash, platform.Authenticate(token, clientDataHash)) {
				t.Fatal("Token.Verify rejected a pinUvAuthParam made with the token")
			}
		})
	}
}

func TestTampering(t *testing.T) {
	for _, tc := range versions {
		p := mustNew(t, tc.version)
		_, secret, err := p.Encapsulate(mustNew(t, tc.version).GetPublicKey())
		if err != nil {
			t.Fatal(err)
		}
		plaintext := paddedPIN("123456")
		ct, err := p.Encrypt(secret, plaintext)
		if err != nil {
			t.Fatal(err)
		}
		sig := p.Authenticate(secret, ct)

		flip := func(b []byte, i int) []byte {
			c := bytes.Clone(b)
			c[i] ^= 0x01
			return c
		}
		cases := []struct {
			name           string
			key, msg, sig  []byte
			wantVerifyPass bool
		}{
			{"genuine", secret, ct, sig, true},
			{"first MAC byte", secret, ct, flip(sig, 0), false},
			{"last MAC byte", secret, ct, flip(sig, len(sig)-1), false},
			{"truncated MAC", secret, ct, sig[:len(sig)-1], false},
			{"extended MAC", secret, ct, append(bytes.Clone(sig), 0), false},
			{"empty MAC", secret, ct, nil, false},
			{"first ciphertext byte", secret, flip(ct, 0), sig, false},
			{"last ciphertext byte", secret, flip(ct, len(ct)-1), sig, false},
			{"other key", flip(secret, 0), ct, sig, false},
		}
		for _, c := range cases {
			if got := p.Verify(c.key, c.msg, c.sig); got != c.wantVerifyPass {
				t.Errorf("protocol %d, %s: Verify = %v, want %v", tc.version, c.name, got, c.wantVerifyPass)
			}
		}

		// CBC has no integrity of its own: a changed ciphertext decrypts
		// to a different plaintext, which only the MAC catches.
		for _, i := range []int{0, len(ct) - 1} {
			pt, err := p.Decrypt(secret, flip(ct, i))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(pt, plaintext) {
				t.Errorf("protocol %d: flipping ciphertext byte %d left the plaintext unchanged", tc.version, i)
			}
		}
	}
}

func TestLengths(t *testing.T) {
	type op int
	const (
		encrypt op = iota
		decrypt
	)
	cases := []struct {
		version int
		op      op
		keyLen  int
		dataLen int
		wantErr error
		wantLen int
	}{
		{1, encrypt, 32, 64, nil, 64},
		{1, encrypt, 32, 16, nil, 16},
		{1, encrypt, 32, 63, ErrPlaintextLength, 0},
		{1, encrypt, 32, 1, ErrPlaintextLength, 0},
		{1, encrypt, 64, 64, ErrKeyLength, 0},
		{1, encrypt, 16, 64, ErrKeyLength, 0},
		{1, encrypt, 0, 64, ErrKeyLength, 0},
		{1, decrypt, 32, 64, nil, 64},
		{1, decrypt, 32, 0, nil, 0},
		{1, decrypt, 32, 15, ErrCiphertextLength, 0},
		{1, decrypt, 32, 65, ErrCiphertextLength, 0},
		{1, decrypt, 31, 64, ErrKeyLength, 0},
		{2, encrypt, 64, 64, nil, 80},
		{2, encrypt, 64, 0, nil, 16},
		{2, encrypt, 64, 17, ErrPlaintextLength, 0},
		{2, encrypt, 32, 64, ErrKeyLength, 0},
		{2, encrypt, 65, 64, ErrKeyLength, 0},
		{2, decrypt, 64, 80, nil, 64},
		{2, decrypt, 64, 16, nil, 0},
		{2, decrypt, 64, 15, ErrCiphertextLength, 0},
		{2, decrypt, 64, 0, ErrCiphertextLength, 0},
		{2, decrypt, 64, 33, ErrCiphertextLength, 0},
		{2, decrypt, 64, 79, ErrCiphertextLength, 0},
		{2, decrypt, 32, 80, ErrKeyLength, 0},
		{2, decrypt, 0, 80, ErrKeyLength, 0},
	}
	for _, c := range cases {
		p := mustNew(t, c.version)
		key, data := make([]byte, c.keyLen), make([]byte, c.dataLen)
		var out []byte
		var err error
		if c.op == encrypt {
			out, err = p.Encrypt(key, data)
		} else {
			out, err = p.Decrypt(key, data)
		}
		if !errors.Is(err, c.wantErr) || (err == nil && len(out) != c.wantLen) {
			t.Errorf("protocol %d op %d key %d data %d: got %d bytes, %v; want %d bytes, %v",
				c.version, c.op, c.keyLen, c.dataLen, len(out), err, c.wantLen, c.wantErr)
		}
	}
}

func TestVerifyKeyAndSignatureLengths(t *testing.T) {
	msg := []byte("message")
	cases := []struct {
		version int
		keyLen  int
		want    bool
	}{
		{1, 32, true}, // shared secret and pinUvAuthToken
		{1, 16, false},
		{1, 64, false},
		{1, 0, false},
		{2, 64, true}, // shared secret
		{2, 32, true}, // pinUvAuthToken
		{2, 16, false},
		{2, 48, false},
		{2, 0, false},
	}
	for _, c := range cases {
		p := mustNew(t, c.version)
		key := make([]byte, c.keyLen)
		rand.Read(key)
		sig := p.Authenticate(key, msg)
		if got := p.Verify(key, msg, sig); got != c.want {
			t.Errorf("protocol %d, key of %d bytes: Verify = %v, want %v", c.version, c.keyLen, got, c.want)
		}
	}
}

// Protocol two authenticates with the HMAC-key half of a shared secret, and
// with the whole of a pinUvAuthToken, which is exactly that long.
func TestProtocolTwoHMACKeyHalf(t *testing.T) {
	p := mustNew(t, ProtocolTwoVersion)
	secret := make([]byte, 64)
	rand.Read(secret)
	msg := []byte("newPinEnc")
	full, half := p.Authenticate(secret, msg), p.Authenticate(secret[:32], msg)
	if !bytes.Equal(full, half) {
		t.Fatal("Authenticate(secret) differs from Authenticate(secret[:32])")
	}
	if !p.Verify(secret[:32], msg, full) {
		t.Fatal("Verify with the 32-byte HMAC key rejected the signature")
	}
	other := bytes.Clone(secret)
	other[40] ^= 1 // the AES half does not take part
	if !p.Verify(other, msg, full) {
		t.Fatal("the AES-key half changed the signature")
	}
	other[0] ^= 1
	if p.Verify(other, msg, full) {
		t.Fatal("a changed HMAC key still verified")
	}
}

// Protocol one encrypts with a zero IV: the first block is plain AES of the
// first plaintext block. Protocol two draws a random IV for each call.
func TestIV(t *testing.T) {
	key := make([]byte, 64)
	rand.Read(key)
	plaintext := paddedPIN("1234")

	one := mustNew(t, ProtocolOneVersion)
	ct, err := one.Encrypt(key[:32], plaintext)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(key[:32])
	first := make([]byte, aes.BlockSize)
	block.Encrypt(first, plaintext[:aes.BlockSize])
	if !bytes.Equal(ct[:aes.BlockSize], first) {
		t.Error("protocol one: first block is not AES(key, block) as a zero IV gives")
	}

	two := mustNew(t, ProtocolTwoVersion)
	a, _ := two.Encrypt(key, plaintext)
	b, _ := two.Encrypt(key, plaintext)
	if bytes.Equal(a[:16], b[:16]) || bytes.Equal(a, b) {
		t.Error("protocol two: two encryptions share an IV")
	}
	for _, ct := range [][]byte{a, b} {
		if pt, err := two.Decrypt(key, ct); err != nil || !bytes.Equal(pt, plaintext) {
			t.Errorf("protocol two: Decrypt = %x, %v", pt, err)
		}
	}
}

func TestDecapsulateBadKeys(t *testing.T) {
	valid := mustNew(t, ProtocolTwoVersion).GetPublicKey()
	offCurve := *valid
	offCurve.Y = bytes.Clone(valid.Y)
	offCurve.Y[31] ^= 1
	x25519, _ := ecdh.X25519().GenerateKey(rand.Reader)
	cases := []struct {
		name string
		key  *cose.Key
	}{
		{"nil", nil},
		{"empty", &cose.Key{}},
		{"point not on the curve", &offCurve},
		{"short X", &cose.Key{Kty: cose.KtyEC2, Crv: cose.CrvP256, X: valid.X[:31], Y: valid.Y}},
		{"no Y", &cose.Key{Kty: cose.KtyEC2, Crv: cose.CrvP256, X: valid.X}},
		{"OKP", &cose.Key{Kty: cose.KtyOKP, Crv: cose.CrvEd25519, X: x25519.PublicKey().Bytes()}},
		{"zero point", &cose.Key{Kty: cose.KtyEC2, Crv: cose.CrvP256, X: make([]byte, 32), Y: make([]byte, 32)}},
	}
	for _, tc := range versions {
		p := mustNew(t, tc.version)
		for _, c := range cases {
			if _, err := p.Decapsulate(c.key); err == nil {
				t.Errorf("protocol %d: Decapsulate(%s) succeeded", tc.version, c.name)
			}
			if _, _, err := p.Encapsulate(c.key); err == nil {
				t.Errorf("protocol %d: Encapsulate(%s) succeeded", tc.version, c.name)
			}
		}
	}
}

func TestRegenerate(t *testing.T) {
	for _, tc := range versions {
		authenticator := mustNew(t, tc.version)
		before := authenticator.GetPublicKey()
		platformKey, platformSecret, err := mustNew(t, tc.version).Encapsulate(before)
		if err != nil {
			t.Fatal(err)
		}
		if err := authenticator.Regenerate(); err != nil {
			t.Fatal(err)
		}
		after := authenticator.GetPublicKey()
		if bytes.Equal(before.X, after.X) {
			t.Errorf("protocol %d: Regenerate kept the public key", tc.version)
		}
		secret, err := authenticator.Decapsulate(platformKey)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(secret, platformSecret) {
			t.Errorf("protocol %d: the old key agreement still yields the shared secret", tc.version)
		}
	}
}

func TestGetPublicKeyIsACopy(t *testing.T) {
	p := mustNew(t, ProtocolOneVersion)
	k := p.GetPublicKey()
	k.X[0] ^= 0xff
	k.Alg = 0
	if again := p.GetPublicKey(); again.X[0] == k.X[0] || again.Alg != cose.AlgECDHESHKDF256 {
		t.Fatal("changing the returned key changed the protocol's key")
	}
}

func TestNewUnsupported(t *testing.T) {
	for _, v := range []int{0, 3, -1} {
		if _, err := New(v); !errors.Is(err, ErrUnsupportedProtocol) {
			t.Errorf("New(%d) error = %v, want ErrUnsupportedProtocol", v, err)
		}
	}
}
