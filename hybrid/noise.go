package hybrid

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// The handshake is one round trip of Noise with P-256, AES-256-GCM and
// SHA-256 (CTAP 2.2 §11.5): the client platform is the initiator.
// After a QR code the pattern is KNpsk0 (the authenticator knows the
// client's identity key from the QR code, prologue 1); state-assisted
// transactions use NKpsk0 (the client knows the authenticator's identity
// key from linking, prologue 0). Both messages are an uncompressed
// ephemeral key and an empty AEAD payload.
const (
	protocolKNpsk0 = "Noise_KNpsk0_P256_AESGCM_SHA256"
	protocolNKpsk0 = "Noise_NKpsk0_P256_AESGCM_SHA256"

	pointSize = 65
	tagSize   = 16
	// HandshakeMessageSize is the size of either handshake message.
	HandshakeMessageSize = pointSize + tagSize
)

// ErrHandshake reports a handshake message that does not complete the
// handshake.
var ErrHandshake = errors.New("hybrid: handshake failed")

// symmetric is Noise's SymmetricState with its CipherState. The
// handshake nonce is the counter big-endian in the first 4 bytes of the
// 12, as Chromium's noise.cc has it; each handshake key seals one
// message, so only nonce 0 occurs, as in standard Noise.
type symmetric struct {
	ck, h [32]byte
	k     [32]byte
	n     uint32
}

func newSymmetric(protocol string) *symmetric {
	var s symmetric
	copy(s.ck[:], protocol) // the names are 31 bytes: zero padded to HASHLEN
	s.h = s.ck
	return &s
}

func (s *symmetric) mixHash(data []byte) {
	d := sha256.New()
	d.Write(s.h[:])
	d.Write(data)
	d.Sum(s.h[:0])
}

func hkdfN(ck [32]byte, ikm []byte, n int) []byte {
	out, err := hkdf.Key(sha256.New, ikm, ck[:], "", 32*n)
	if err != nil {
		panic(err)
	}
	return out
}

func (s *symmetric) mixKey(ikm []byte) {
	out := hkdfN(s.ck, ikm, 2)
	copy(s.ck[:], out[:32])
	copy(s.k[:], out[32:])
	s.n = 0
}

func (s *symmetric) mixKeyAndHash(ikm []byte) {
	out := hkdfN(s.ck, ikm, 3)
	copy(s.ck[:], out[:32])
	s.mixHash(out[32:64])
	copy(s.k[:], out[64:])
	s.n = 0
}

func (s *symmetric) aead() cipher.AEAD {
	block, _ := aes.NewCipher(s.k[:])
	g, _ := cipher.NewGCM(block)
	return g
}

func (s *symmetric) nonce() []byte {
	nonce := make([]byte, 12)
	binary.BigEndian.PutUint32(nonce, s.n)
	s.n++
	return nonce
}

func (s *symmetric) encryptAndHash(plaintext []byte) []byte {
	ct := s.aead().Seal(nil, s.nonce(), plaintext, s.h[:])
	s.mixHash(ct)
	return ct
}

func (s *symmetric) decryptAndHash(ct []byte) ([]byte, error) {
	pt, err := s.aead().Open(nil, s.nonce(), ct, s.h[:])
	if err != nil {
		return nil, ErrHandshake
	}
	s.mixHash(ct)
	return pt, nil
}

// split gives the transport keys: the initiator writes with the first.
func (s *symmetric) split() (k1, k2 [32]byte) {
	out := hkdfN(s.ck, nil, 2)
	return [32]byte(out[:32]), [32]byte(out[32:])
}

func ephemeral(e *ecdh.PrivateKey) (*ecdh.PrivateKey, error) {
	if e != nil {
		return e, nil
	}
	return ecdh.P256().GenerateKey(rand.Reader)
}

func ecdhOrFail(priv *ecdh.PrivateKey, pub *ecdh.PublicKey) ([]byte, error) {
	z, err := priv.ECDH(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	return z, nil
}

// Initiator is the client platform's half of a handshake in progress.
type Initiator struct {
	s        *symmetric
	e        *ecdh.PrivateKey
	identity *ecdh.PrivateKey // KNpsk0: ours; nil for NKpsk0
	peer     *ecdh.PublicKey  // NKpsk0: the authenticator's; nil for KNpsk0
}

// NewQRInitiator starts a KNpsk0 handshake with the client's identity key
// (the one whose public half the QR code shows) and returns the first
// message.
func NewQRInitiator(identity *ecdh.PrivateKey, psk [PSKSize]byte) (*Initiator, []byte, error) {
	s := newSymmetric(protocolKNpsk0)
	s.mixHash([]byte{1})
	s.mixHash(identity.PublicKey().Bytes())
	return startInitiator(&Initiator{s: s, identity: identity}, psk, nil)
}

// NewLinkedInitiator starts an NKpsk0 handshake with an authenticator
// whose identity key the client learned when linking.
func NewLinkedInitiator(peer *ecdh.PublicKey, psk [PSKSize]byte) (*Initiator, []byte, error) {
	s := newSymmetric(protocolNKpsk0)
	s.mixHash([]byte{0})
	s.mixHash(peer.Bytes())
	return startInitiator(&Initiator{s: s, peer: peer}, psk, nil)
}

// startInitiator sends the first message with ephemeral key e (nil: a
// fresh one; tests fix it to check a transcript).
func startInitiator(in *Initiator, psk [PSKSize]byte, e *ecdh.PrivateKey) (*Initiator, []byte, error) {
	in.s.mixKeyAndHash(psk[:])
	e, err := ephemeral(e)
	if err != nil {
		return nil, nil, err
	}
	in.e = e
	ep := e.PublicKey().Bytes()
	in.s.mixHash(ep)
	in.s.mixKey(ep)
	if in.peer != nil {
		es, err := ecdhOrFail(e, in.peer)
		if err != nil {
			return nil, nil, err
		}
		in.s.mixKey(es)
	}
	return in, append(ep, in.s.encryptAndHash(nil)...), nil
}

// Finish reads the authenticator's response and returns the transport.
func (in *Initiator) Finish(msg []byte) (*Crypter, error) {
	if len(msg) != HandshakeMessageSize {
		return nil, fmt.Errorf("%w: response is %d bytes, not %d", ErrHandshake, len(msg), HandshakeMessageSize)
	}
	re, err := ecdh.P256().NewPublicKey(msg[:pointSize])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	in.s.mixHash(msg[:pointSize])
	in.s.mixKey(msg[:pointSize])
	ee, err := ecdhOrFail(in.e, re)
	if err != nil {
		return nil, err
	}
	in.s.mixKey(ee)
	if in.identity != nil {
		se, err := ecdhOrFail(in.identity, re)
		if err != nil {
			return nil, err
		}
		in.s.mixKey(se)
	}
	if pt, err := in.s.decryptAndHash(msg[pointSize:]); err != nil || len(pt) != 0 {
		return nil, ErrHandshake
	}
	w, r := in.s.split()
	return newCrypter(r, w), nil
}

// RespondQR answers a KNpsk0 handshake as the authenticator, which knows
// the client's identity key from the QR code. It returns the response to
// send and the transport.
func RespondQR(peer *ecdh.PublicKey, psk [PSKSize]byte, msg []byte) ([]byte, *Crypter, error) {
	s := newSymmetric(protocolKNpsk0)
	s.mixHash([]byte{1})
	s.mixHash(peer.Bytes())
	return respond(s, psk, nil, peer, msg, nil)
}

// RespondLinked answers an NKpsk0 handshake with the authenticator's
// identity key.
func RespondLinked(identity *ecdh.PrivateKey, psk [PSKSize]byte, msg []byte) ([]byte, *Crypter, error) {
	s := newSymmetric(protocolNKpsk0)
	s.mixHash([]byte{0})
	s.mixHash(identity.PublicKey().Bytes())
	return respond(s, psk, identity, nil, msg, nil)
}

// respond answers msg with ephemeral key e (nil: a fresh one).
func respond(s *symmetric, psk [PSKSize]byte, identity *ecdh.PrivateKey, peer *ecdh.PublicKey, msg []byte, e *ecdh.PrivateKey) ([]byte, *Crypter, error) {
	if len(msg) != HandshakeMessageSize {
		return nil, nil, fmt.Errorf("%w: message is %d bytes, not %d", ErrHandshake, len(msg), HandshakeMessageSize)
	}
	s.mixKeyAndHash(psk[:])
	re, err := ecdh.P256().NewPublicKey(msg[:pointSize])
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	s.mixHash(msg[:pointSize])
	s.mixKey(msg[:pointSize])
	if identity != nil {
		es, err := ecdhOrFail(identity, re)
		if err != nil {
			return nil, nil, err
		}
		s.mixKey(es)
	}
	if pt, err := s.decryptAndHash(msg[pointSize:]); err != nil || len(pt) != 0 {
		return nil, nil, ErrHandshake
	}
	e, err = ephemeral(e)
	if err != nil {
		return nil, nil, err
	}
	ep := e.PublicKey().Bytes()
	s.mixHash(ep)
	s.mixKey(ep)
	ee, err := ecdhOrFail(e, re)
	if err != nil {
		return nil, nil, err
	}
	s.mixKey(ee)
	if peer != nil {
		se, err := ecdhOrFail(e, peer)
		if err != nil {
			return nil, nil, err
		}
		s.mixKey(se)
	}
	resp := append(ep, s.encryptAndHash(nil)...)
	r, w := s.split()
	return resp, newCrypter(r, w), nil
}

// Crypter encrypts the messages after the handshake (CTAP 2.2 §11.5):
// AES-256-GCM, a per-direction counter as the nonce (8 zero bytes, then
// the counter big-endian), no additional data, and the plaintext padded
// to a multiple of 32 bytes whose last byte counts the zeros added.
type Crypter struct {
	read, write cipher.AEAD
	rseq, wseq  uint32
}

// maxSequence bounds the counters (Chromium's limit): past it the channel
// fails rather than reuse a nonce.
const maxSequence = 1<<24 - 1

const paddingGranularity = 32

// ErrFrame reports a tunnel frame that does not decrypt or unpad.
var ErrFrame = errors.New("hybrid: bad encrypted frame")

func newCrypter(readKey, writeKey [32]byte) *Crypter {
	mk := func(k [32]byte) cipher.AEAD {
		block, _ := aes.NewCipher(k[:])
		g, _ := cipher.NewGCM(block)
		return g
	}
	return &Crypter{read: mk(readKey), write: mk(writeKey)}
}

func seqNonce(n uint32) []byte {
	nonce := make([]byte, 12)
	binary.BigEndian.PutUint32(nonce[8:], n)
	return nonce
}

// Encrypt pads and seals one message.
func (c *Crypter) Encrypt(msg []byte) ([]byte, error) {
	if c.wseq > maxSequence {
		return nil, fmt.Errorf("%w: send counter exhausted", ErrFrame)
	}
	size := (len(msg) + 1 + paddingGranularity - 1) &^ (paddingGranularity - 1)
	padded := make([]byte, size)
	copy(padded, msg)
	padded[size-1] = byte(size - len(msg) - 1)
	out := c.write.Seal(nil, seqNonce(c.wseq), padded, nil)
	c.wseq++
	return out, nil
}

// Decrypt opens and unpads one message.
func (c *Crypter) Decrypt(frame []byte) ([]byte, error) {
	if c.rseq > maxSequence {
		return nil, fmt.Errorf("%w: receive counter exhausted", ErrFrame)
	}
	pt, err := c.read.Open(nil, seqNonce(c.rseq), frame, nil)
	if err != nil {
		return nil, ErrFrame
	}
	c.rseq++
	if len(pt) == 0 || int(pt[len(pt)-1])+1 > len(pt) {
		return nil, fmt.Errorf("%w: bad padding", ErrFrame)
	}
	return pt[:len(pt)-1-int(pt[len(pt)-1])], nil
}
