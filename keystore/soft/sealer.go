package soft

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/cryptobyte"
)

// ErrWrongPassphrase: the master key is wrapped with a passphrase and the
// one given (or none) does not unwrap it.
var ErrWrongPassphrase = errors.New("soft: wrong passphrase")

// First byte of the default sealer's master-key file: the format version and
// whether a passphrase wraps the key.
const (
	masterPlainV1  = 0x01 // 0x01 || key
	masterArgon2V1 = 0x02 // 0x02 || time u32 || memory KiB u32 || threads u8 || salt || nonce || AEAD(key, AD = everything before the nonce)
)

const argon2SaltLen = 16

// argon2Cost is the argon2id work factor of a passphrase wrap.
type argon2Cost struct {
	time      uint32
	memoryKiB uint32
	threads   uint8
}

// newWrapCost is the cost of new wraps: the second recommended option of
// RFC 9106 (t=3, 64 MiB, p=4). Unwrapping uses the cost the file records.
var newWrapCost = argon2Cost{time: 3, memoryKiB: 64 << 10, threads: 4}

// maxUnwrapCost bounds what a master-key file may ask of Unseal.
var maxUnwrapCost = argon2Cost{time: 64, memoryKiB: 4 << 20, threads: 64}

// fileSealer is the default Sealer: the master key as it is, or wrapped with
// XChaCha20-Poly1305 under an argon2id key from a passphrase.
type fileSealer struct {
	passphrase []byte // nil: no wrapping
	rand       io.Reader
}

// Seal implements Sealer.
func (f *fileSealer) Seal(secret []byte) ([]byte, error) {
	if f.passphrase == nil {
		return append([]byte{masterPlainV1}, secret...), nil
	}
	salt := make([]byte, argon2SaltLen)
	if _, err := io.ReadFull(f.rand, salt); err != nil {
		return nil, fmt.Errorf("soft: salt: %w", err)
	}
	header := binary.BigEndian.AppendUint32([]byte{masterArgon2V1}, newWrapCost.time)
	header = binary.BigEndian.AppendUint32(header, newWrapCost.memoryKiB)
	header = append(header, newWrapCost.threads)
	header = append(header, salt...)
	aead, err := f.wrapAEAD(newWrapCost, salt)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(header)+aead.NonceSize(), len(header)+aead.NonceSize()+len(secret)+aead.Overhead())
	copy(out, header)
	nonce := out[len(header):]
	if _, err := io.ReadFull(f.rand, nonce); err != nil {
		return nil, fmt.Errorf("soft: nonce: %w", err)
	}
	return aead.Seal(out, nonce, secret, header), nil
}

// Unseal implements Sealer.
func (f *fileSealer) Unseal(blob []byte) ([]byte, error) {
	if len(blob) == 0 {
		return nil, errors.New("soft: master key file is empty")
	}
	switch blob[0] {
	case masterPlainV1:
		if f.passphrase != nil {
			return nil, errors.New("soft: a passphrase was given but the master key is not passphrase-protected")
		}
		return append([]byte(nil), blob[1:]...), nil
	case masterArgon2V1:
		if f.passphrase == nil {
			return nil, fmt.Errorf("%w: the master key is passphrase-protected and no passphrase was given", ErrWrongPassphrase)
		}
		s := cryptobyte.String(blob[1:])
		var cost argon2Cost
		var salt []byte
		if !s.ReadUint32(&cost.time) || !s.ReadUint32(&cost.memoryKiB) || !s.ReadUint8(&cost.threads) ||
			!s.ReadBytes(&salt, argon2SaltLen) {
			return nil, errors.New("soft: master key file is truncated")
		}
		if cost.time == 0 || cost.threads == 0 || cost.time > maxUnwrapCost.time ||
			cost.memoryKiB > maxUnwrapCost.memoryKiB || cost.threads > maxUnwrapCost.threads {
			return nil, fmt.Errorf("soft: master key file asks for an argon2id cost out of range (t=%d, m=%d KiB, p=%d)",
				cost.time, cost.memoryKiB, cost.threads)
		}
		header := blob[:len(blob)-len(s)]
		aead, err := f.wrapAEAD(cost, salt)
		if err != nil {
			return nil, err
		}
		if len(s) < aead.NonceSize() {
			return nil, errors.New("soft: master key file is truncated")
		}
		key, err := aead.Open(nil, s[:aead.NonceSize()], s[aead.NonceSize():], header)
		if err != nil {
			return nil, ErrWrongPassphrase
		}
		return key, nil
	default:
		return nil, fmt.Errorf("soft: master key file has unknown format %#02x (made by a newer vauth?)", blob[0])
	}
}

// wrapAEAD derives the key-wrapping AEAD from the passphrase.
func (f *fileSealer) wrapAEAD(cost argon2Cost, salt []byte) (cipher.AEAD, error) {
	kek := argon2.IDKey(f.passphrase, salt, cost.time, cost.memoryKiB, cost.threads, chacha20poly1305.KeySize)
	defer clear(kek)
	return chacha20poly1305.NewX(kek)
}

// forget wipes the passphrase.
func (f *fileSealer) forget() { clear(f.passphrase) }
