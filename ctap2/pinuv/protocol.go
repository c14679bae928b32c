package pinuv

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"github.com/vauth/vauth/internal/cose"
)

// The pinUvAuthProtocol numbers (§6.5.6, §6.5.7).
const (
	ProtocolOneVersion = 1
	ProtocolTwoVersion = 2
)

// Sizes of the values the protocols exchange.
const (
	// PinUvAuthTokenLength is the length of the pinUvAuthToken this
	// authenticator issues, for both protocols.
	PinUvAuthTokenLength = 32

	sharedSecretLengthOne = 32 // SHA-256(Z)
	sharedSecretLengthTwo = 64 // HMAC key || AES key
	hmacKeyLength         = 32
	aesKeyLength          = 32 // AES-256
	ivLength              = aes.BlockSize
	signatureLengthOne    = 16 // LEFT(HMAC-SHA-256, 16)
	signatureLengthTwo    = sha256.Size
)

// HKDF parameters of protocol two's kdf (§6.5.7).
const (
	hkdfInfoHMAC = "CTAP2 HMAC key"
	hkdfInfoAES  = "CTAP2 AES key"
)

var hkdfSalt = make([]byte, 32) // 32 zero bytes

// Errors of the protocol operations. Callers map them to the status code
// that the calling command specifies (it differs between commands).
var (
	ErrUnsupportedProtocol = errors.New("pinuv: unsupported pinUvAuthProtocol")
	ErrKeyLength           = errors.New("pinuv: key of the wrong length")
	ErrCiphertextLength    = errors.New("pinuv: ciphertext length is not a whole number of AES blocks")
	ErrPlaintextLength     = errors.New("pinuv: plaintext length is not a multiple of the AES block length")
)

// Protocol is one PIN/UV auth protocol (§6.5.4), both roles. The
// authenticator keeps one per supported version for the device's lifetime;
// a platform may use a fresh one per session. Safe for concurrent use.
type Protocol interface {
	// Version is the pinUvAuthProtocol number.
	Version() int

	// Regenerate replaces the authenticator's key-agreement key pair with a
	// fresh one (the spec's regenerate()): New does it at power-up, and
	// authenticatorClientPIN does it after a PIN mismatch.
	Regenerate() error
	// GetPublicKey returns the authenticator's key-agreement public key as
	// the COSE_Key that getKeyAgreement returns (kty EC2, crv P-256, alg
	// -25).
	GetPublicKey() *cose.Key
	// Decapsulate performs ECDH with the platform's key-agreement key and
	// returns the shared secret (32 bytes for protocol one, 64 for two).
	Decapsulate(peer *cose.Key) (sharedSecret []byte, err error)
	// Verify reports, in constant time, whether signature authenticates
	// message under key (a shared secret or a pinUvAuthToken). Use
	// Token.Verify for a pinUvAuthParam made with the pinUvAuthToken, so
	// that a token not in use is refused.
	Verify(key, message, signature []byte) bool

	// Encrypt encrypts demPlaintext, a whole number of AES blocks, under a
	// shared secret.
	Encrypt(key, demPlaintext []byte) ([]byte, error)
	// Decrypt decrypts demCiphertext under a shared secret.
	Decrypt(key, demCiphertext []byte) ([]byte, error)

	// Encapsulate is the platform side of key agreement: it makes an
	// ephemeral key pair, performs ECDH with the authenticator's key, and
	// returns the platform's public key (for keyAgreement) and the shared
	// secret.
	Encapsulate(peer *cose.Key) (platformKey *cose.Key, sharedSecret []byte, err error)
	// Authenticate computes the pinUvAuthParam of message under key (a
	// shared secret or a pinUvAuthToken).
	Authenticate(key, message []byte) []byte
}

// New returns the protocol with the given pinUvAuthProtocol number and a
// fresh key-agreement key pair (the spec's initialize()).
func New(version int) (Protocol, error) {
	var p Protocol
	switch version {
	case ProtocolOneVersion:
		p = &protocolOne{keyAgreement{kdf: kdfOne}}
	case ProtocolTwoVersion:
		p = &protocolTwo{keyAgreement{kdf: kdfTwo}}
	default:
		return nil, fmt.Errorf("%w: %d", ErrUnsupportedProtocol, version)
	}
	if err := p.Regenerate(); err != nil {
		return nil, err
	}
	return p, nil
}

// keyAgreement is the ECDH half that both protocols share; they differ in
// kdf.
type keyAgreement struct {
	kdf func(z []byte) []byte

	mu   sync.RWMutex
	priv *ecdh.PrivateKey
	pub  cose.Key
}

func (k *keyAgreement) Regenerate() error {
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("pinuv: generating the key-agreement key: %w", err)
	}
	pub, err := cose.FromPublicKey(priv.PublicKey(), cose.AlgECDHESHKDF256)
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.priv, k.pub = priv, *pub
	k.mu.Unlock()
	return nil
}

func (k *keyAgreement) GetPublicKey() *cose.Key {
	k.mu.RLock()
	defer k.mu.RUnlock()
	pub := k.pub
	pub.X, pub.Y = bytes.Clone(pub.X), bytes.Clone(pub.Y)
	return &pub
}

// Decapsulate is the spec's ecdh(peerCoseKey). The peer key's alg is not
// checked: platforms disagree on it, and the point check is what matters.
func (k *keyAgreement) Decapsulate(peer *cose.Key) ([]byte, error) {
	k.mu.RLock()
	priv := k.priv
	k.mu.RUnlock()
	return sharedSecret(priv, peer, k.kdf)
}

func (k *keyAgreement) Encapsulate(peer *cose.Key) (*cose.Key, []byte, error) {
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pinuv: generating the platform key: %w", err)
	}
	secret, err := sharedSecret(priv, peer, k.kdf)
	if err != nil {
		return nil, nil, err
	}
	pub, err := cose.FromPublicKey(priv.PublicKey(), cose.AlgECDHESHKDF256)
	if err != nil {
		return nil, nil, err
	}
	return pub, secret, nil
}

// sharedSecret returns kdf(Z), Z being the x-coordinate of the shared point.
func sharedSecret(priv *ecdh.PrivateKey, peer *cose.Key, kdf func([]byte) []byte) ([]byte, error) {
	if peer == nil {
		return nil, fmt.Errorf("%w: no key", cose.ErrInvalidKey)
	}
	pub, err := peer.ECDH()
	if err != nil {
		return nil, err
	}
	z, err := priv.ECDH(pub)
	if err != nil {
		return nil, fmt.Errorf("pinuv: ECDH: %w", err)
	}
	defer clear(z)
	return kdf(z), nil
}

// kdfOne is protocol one's kdf: SHA-256(Z).
func kdfOne(z []byte) []byte {
	sum := sha256.Sum256(z)
	return sum[:]
}

// kdfTwo is protocol two's kdf: the HKDF-SHA-256 HMAC key followed by the
// HKDF-SHA-256 AES key.
func kdfTwo(z []byte) []byte {
	// hkdf.Key fails only for lengths above 255 hash blocks.
	hmacKey, _ := hkdf.Key(sha256.New, z, hkdfSalt, hkdfInfoHMAC, hmacKeyLength)
	aesKey, _ := hkdf.Key(sha256.New, z, hkdfSalt, hkdfInfoAES, aesKeyLength)
	defer clear(hmacKey)
	defer clear(aesKey)
	return append(append(make([]byte, 0, len(hmacKey)+len(aesKey)), hmacKey...), aesKey...)
}

// protocolOne is PIN/UV auth protocol one (§6.5.6): AES-256-CBC with a zero
// IV and HMAC-SHA-256 truncated to 16 bytes.
type protocolOne struct{ keyAgreement }

func (*protocolOne) Version() int { return ProtocolOneVersion }

func (*protocolOne) Encrypt(key, demPlaintext []byte) ([]byte, error) {
	if len(key) != sharedSecretLengthOne {
		return nil, ErrKeyLength
	}
	return cbcEncrypt(key, make([]byte, ivLength), demPlaintext)
}

func (*protocolOne) Decrypt(key, demCiphertext []byte) ([]byte, error) {
	if len(key) != sharedSecretLengthOne {
		return nil, ErrKeyLength
	}
	return cbcDecrypt(key, make([]byte, ivLength), demCiphertext)
}

func (*protocolOne) Authenticate(key, message []byte) []byte {
	return hmacSHA256(key, message)[:signatureLengthOne]
}

// Verify takes a 32-byte key: both the shared secret and the pinUvAuthToken
// have that length here.
func (p *protocolOne) Verify(key, message, signature []byte) bool {
	if len(key) != sharedSecretLengthOne || len(signature) != signatureLengthOne {
		return false
	}
	return hmac.Equal(p.Authenticate(key, message), signature)
}

// protocolTwo is PIN/UV auth protocol two (§6.5.7): HKDF-derived separate
// HMAC and AES keys, AES-256-CBC with a random IV prepended, and the full
// HMAC-SHA-256.
type protocolTwo struct{ keyAgreement }

func (*protocolTwo) Version() int { return ProtocolTwoVersion }

// Encrypt uses the AES-key half of the shared secret (its last 32 bytes).
func (*protocolTwo) Encrypt(key, demPlaintext []byte) ([]byte, error) {
	if len(key) != sharedSecretLengthTwo {
		return nil, ErrKeyLength
	}
	iv := make([]byte, ivLength)
	rand.Read(iv)
	ct, err := cbcEncrypt(key[hmacKeyLength:], iv, demPlaintext)
	if err != nil {
		return nil, err
	}
	return append(iv, ct...), nil
}

// Decrypt uses the AES-key half of the shared secret; demCiphertext is the
// IV followed by the CBC ciphertext.
func (*protocolTwo) Decrypt(key, demCiphertext []byte) ([]byte, error) {
	if len(key) != sharedSecretLengthTwo {
		return nil, ErrKeyLength
	}
	if len(demCiphertext) < ivLength {
		return nil, ErrCiphertextLength
	}
	return cbcDecrypt(key[hmacKeyLength:], demCiphertext[:ivLength], demCiphertext[ivLength:])
}

// Authenticate uses the first 32 bytes of key: the HMAC-key half of a shared
// secret, or the whole pinUvAuthToken.
func (*protocolTwo) Authenticate(key, message []byte) []byte {
	return hmacSHA256(key[:min(len(key), hmacKeyLength)], message)
}

// Verify takes a shared secret (64 bytes) or a pinUvAuthToken (32 bytes).
func (p *protocolTwo) Verify(key, message, signature []byte) bool {
	if (len(key) != sharedSecretLengthTwo && len(key) != PinUvAuthTokenLength) || len(signature) != signatureLengthTwo {
		return false
	}
	return hmac.Equal(p.Authenticate(key, message), signature)
}

func hmacSHA256(key, message []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(message)
	return m.Sum(nil)
}

// cbcEncrypt encrypts without padding: the protocols only ever encrypt
// whole blocks.
func cbcEncrypt(key, iv, plaintext []byte) ([]byte, error) {
	if len(plaintext)%aes.BlockSize != 0 {
		return nil, ErrPlaintextLength
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyLength, err)
	}
	out := make([]byte, len(plaintext))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, plaintext)
	return out, nil
}

func cbcDecrypt(key, iv, ciphertext []byte) ([]byte, error) {
	if len(ciphertext)%aes.BlockSize != 0 {
		return nil, ErrCiphertextLength
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyLength, err)
	}
	out := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, ciphertext)
	return out, nil
}
