package hybrid

import (
	"crypto/aes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Derivation purposes: HKDF-SHA256 info is the purpose as a 32-bit
// little-endian integer (CTAP 2.2 §11.5; Chromium DerivedValueType).
const (
	purposeEIDKey   uint32 = 1
	purposeTunnelID uint32 = 2
	purposePSK      uint32 = 3
)

// Sizes of the derived values and of the advert.
const (
	EIDKeySize    = 64 // AES-256 key || HMAC-SHA256 key
	TunnelIDSize  = 16
	PSKSize       = 32
	AdvertSize    = 20 // one AES block and a 4-byte HMAC tag
	NonceSize     = 10
	RoutingIDSize = 3
)

// ServiceUUID is the 16-bit BLE service UUID whose service data carries
// the advert (CTAP 2.2 §11.5; FIDO's assigned 0xFFF9).
const ServiceUUID = 0xFFF9

// derive is HKDF-SHA256 over secret with salt and the purpose as info.
func derive(secret, salt []byte, purpose uint32, n int) []byte {
	var info [4]byte
	binary.LittleEndian.PutUint32(info[:], purpose)
	out, err := hkdf.Key(sha256.New, secret, salt, string(info[:]), n)
	if err != nil {
		panic(err) // only for n beyond 255 hash lengths
	}
	return out
}

// EIDKey derives the key that encrypts and authenticates the BLE advert.
func EIDKey(secret []byte) [EIDKeySize]byte {
	return [EIDKeySize]byte(derive(secret, nil, purposeEIDKey, EIDKeySize))
}

// TunnelID derives the tunnel ID both sides name to the tunnel server.
func TunnelID(secret []byte) [TunnelIDSize]byte {
	return [TunnelIDSize]byte(derive(secret, nil, purposeTunnelID, TunnelIDSize))
}

// PSK derives the Noise pre-shared key; the salt is the advert's
// plaintext, so that only a party that received the advert can handshake.
func PSK(secret []byte, plaintext [16]byte) [PSKSize]byte {
	return [PSKSize]byte(derive(secret, plaintext[:], purposePSK, PSKSize))
}

// EID is the advert's plaintext: a reserved zero byte, a random nonce,
// the routing ID the tunnel server assigned and the tunnel server domain.
type EID struct {
	Nonce     [NonceSize]byte
	RoutingID [RoutingIDSize]byte
	Domain    uint16
}

// Plaintext lays the EID out as the AES block the advert encrypts.
func (e EID) Plaintext() [16]byte {
	var p [16]byte
	copy(p[1:], e.Nonce[:])
	copy(p[1+NonceSize:], e.RoutingID[:])
	binary.LittleEndian.PutUint16(p[14:], e.Domain)
	return p
}

// ErrAdvert reports service data that is not an advert for this QR code.
var ErrAdvert = errors.New("hybrid: advert does not decrypt under this QR secret")

// EncryptAdvert makes the 20-byte service data for e.
func EncryptAdvert(key [EIDKeySize]byte, e EID) [AdvertSize]byte {
	var out [AdvertSize]byte
	ct := encryptBlock(key, e.Plaintext())
	copy(out[:], ct)
	copy(out[16:], advertTag(key, ct))
	return out
}

func encryptBlock(key [EIDKeySize]byte, p [16]byte) []byte {
	block, _ := aes.NewCipher(key[:32]) // a 32-byte key is always valid
	out := make([]byte, 16)
	block.Encrypt(out, p[:])
	return out
}

// DecryptAdvert checks and decrypts service data. It fails on a wrong tag,
// on reserved bits set, and on an unassigned tunnel server domain.
func DecryptAdvert(key [EIDKeySize]byte, data []byte) (EID, [16]byte, error) {
	var p [16]byte
	if len(data) != AdvertSize || !hmac.Equal(advertTag(key, data[:16]), data[16:]) {
		return EID{}, p, ErrAdvert
	}
	block, _ := aes.NewCipher(key[:32])
	block.Decrypt(p[:], data[:16])
	if p[0] != 0 {
		return EID{}, p, fmt.Errorf("%w: reserved bits set", ErrAdvert)
	}
	var e EID
	copy(e.Nonce[:], p[1:])
	copy(e.RoutingID[:], p[1+NonceSize:])
	e.Domain = binary.LittleEndian.Uint16(p[14:])
	if _, err := DomainName(e.Domain); err != nil {
		return EID{}, p, err
	}
	return e, p, nil
}

func advertTag(key [EIDKeySize]byte, ciphertext []byte) []byte {
	m := hmac.New(sha256.New, key[32:])
	m.Write(ciphertext)
	return m.Sum(nil)[:4]
}

// assignedDomains are the tunnel server domains 0..255 stand for; the
// index is the encoded value (Chromium kAssignedDomains).
var assignedDomains = []string{"cable.ua5v.com", "cable.auth.com"}

// KnownDomains is how many assigned domains this package can resolve (the
// QR payload's key 2).
var KnownDomains = int64(len(assignedDomains))

// ErrDomain reports an encoded tunnel server domain that names no server.
var ErrDomain = errors.New("hybrid: unassigned tunnel server domain")

// DomainName resolves an encoded tunnel server domain: values below 256
// are assigned, the others name a hashed domain under cable.*
// (CTAP 2.2 §11.5).
func DomainName(v uint16) (string, error) {
	if v < 256 {
		if int(v) >= len(assignedDomains) {
			return "", fmt.Errorf("%w: %d", ErrDomain, v)
		}
		return assignedDomains[v], nil
	}
	// SHA-256 over the label, the value in little endian and a NUL; the
	// first 8 digest bytes (little endian) pick a TLD (2 bits) and spell
	// the name in base32 (5 bits a letter).
	in := append([]byte("caBLEv2 tunnel server domain"), byte(v), byte(v>>8), 0)
	d := sha256.Sum256(in)
	x := binary.LittleEndian.Uint64(d[:8])
	tlds := [4]string{"com", "org", "net", "info"}
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	tld := tlds[x&3]
	x >>= 2
	var sb strings.Builder
	sb.WriteString("cable.")
	for ; x != 0; x >>= 5 {
		sb.WriteByte(alphabet[x&31])
	}
	sb.WriteString(".")
	sb.WriteString(tld)
	return sb.String(), nil
}
