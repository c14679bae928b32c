package soft

import (
	"crypto/cipher"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/cryptobyte"

	"github.com/vauth/vauth/keystore"
)

// formatVersion is the version of the database layout, kept in the meta
// bucket. A store written by a newer layout is refused, not guessed at.
const formatVersion = 1

// The first byte of every sealed or persisted value names its format and
// version.
const (
	idNonDiscoverableV1 = 0x01 // credential ID: 0x01 || nonce || AEAD(ndPayload, AD = 0x01 || rpIdHash)
	idDiscoverableV1    = 0x02 // credential ID: 0x02 || random; the record is in the database
	keyHandleV1         = 0x11 // sealed key: 0x11 || nonce || AEAD(alg || engine blob, AD = 0x11 || rpIdHash || credential ID)
	blobV1              = 0x21 // sealed blob: 0x21 || nonce || AEAD(data, AD = 0x21 || name)
	recordV1            = 0x01 // discoverable credential record
	counterV1           = 0x01 // counter record: 0x01 || high-water mark u32
)

// Sizes of the formats above.
const (
	discoverableRandLen = 16
	discoverableIDLen   = 1 + discoverableRandLen
	sealOverhead        = 1 + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead
	ndPayloadFixed      = 4 + 1 + 8 // alg, credProtect, created
	maxUserIDLen        = 64        // WebAuthn: a user handle is at most 64 bytes
	maxNameLen          = 0xffff
	maxBlobNameLen      = 255
)

// Bucket names and meta keys.
var (
	bucketMeta     = []byte("meta")
	bucketCreds    = []byte("credentials") // credential ID -> record
	bucketRPs      = []byte("rp")          // rpIdHash -> bucket of ^seq -> credential ID (newest first)
	bucketCounters = []byte("counters")    // credential ID -> counter record
	bucketBlobs    = []byte("blobs")       // name -> sealed blob
	keyVersion     = []byte("version")
	keyKeyCheck    = []byte("keycheck")
)

// dataBuckets are the buckets Reset empties.
var dataBuckets = [][]byte{bucketCreds, bucketRPs, bucketCounters, bucketBlobs}

var errOpen = errors.New("soft: sealed value does not open")

// seal returns kind || nonce || AEAD(plain, ad); ad starts with kind.
func seal(aead cipher.AEAD, rand io.Reader, plain, ad []byte) ([]byte, error) {
	out := make([]byte, 1+aead.NonceSize(), sealOverhead+len(plain))
	out[0] = ad[0]
	if _, err := io.ReadFull(rand, out[1:]); err != nil {
		return nil, fmt.Errorf("soft: nonce: %w", err)
	}
	return aead.Seal(out, out[1:], plain, ad), nil
}

// open reverses seal; the caller has checked sealed[0] and built ad with it.
func open(aead cipher.AEAD, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < sealOverhead {
		return nil, errOpen
	}
	n := 1 + aead.NonceSize()
	plain, err := aead.Open(nil, sealed[1:n], sealed[n:], ad)
	if err != nil {
		return nil, errOpen
	}
	return plain, nil
}

// sealAD builds associated data: kind, then each part in turn. Every part but
// the last has a fixed length, so the concatenation is unambiguous.
func sealAD(kind byte, parts ...[]byte) []byte {
	ad := []byte{kind}
	for _, p := range parts {
		ad = append(ad, p...)
	}
	return ad
}

// appendAlg appends a COSE algorithm identifier as a 32-bit two's complement
// number.
func appendAlg(b []byte, alg int) []byte { return binary.BigEndian.AppendUint32(b, uint32(int32(alg))) }

// ndPayload is what a non-discoverable credential ID seals.
type ndPayload struct {
	alg         int
	credProtect uint8
	created     int64 // Unix nanoseconds
	blob        []byte
}

func (p *ndPayload) marshal() []byte {
	b := make([]byte, 0, ndPayloadFixed+len(p.blob))
	b = appendAlg(b, p.alg)
	b = append(b, p.credProtect)
	b = binary.BigEndian.AppendUint64(b, uint64(p.created))
	return append(b, p.blob...)
}

func parseNDPayload(b []byte) (ndPayload, bool) {
	if len(b) < ndPayloadFixed {
		return ndPayload{}, false
	}
	return ndPayload{
		alg:         int(int32(binary.BigEndian.Uint32(b))),
		credProtect: b[4],
		created:     int64(binary.BigEndian.Uint64(b[5:])),
		blob:        b[ndPayloadFixed:],
	}, true
}

// record is a discoverable credential as the database keeps it.
type record struct {
	seq         uint64 // creation order, for newest-first listings
	rpID        string
	rpIDHash    [32]byte
	user        keystore.User
	alg         int
	credProtect uint8
	created     int64  // Unix nanoseconds
	publicKey   []byte // PKIX DER
	keyHandle   []byte // sealed engine blob
}

func (r *record) marshal() ([]byte, error) {
	b := cryptobyte.NewFixedBuilder(make([]byte, 0, 128+len(r.rpID)+len(r.user.Name)+len(r.user.DisplayName)+len(r.publicKey)+len(r.keyHandle)))
	b.AddUint8(recordV1)
	b.AddUint64(r.seq)
	b.AddBytes(r.rpIDHash[:])
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(r.rpID)) })
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r.user.ID) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(r.user.Name)) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(r.user.DisplayName)) })
	b.AddUint32(uint32(int32(r.alg)))
	b.AddUint8(r.credProtect)
	b.AddUint64(uint64(r.created))
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r.publicKey) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r.keyHandle) })
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("soft: encode credential record: %w", err)
	}
	return out, nil
}

// parseRecord decodes a record; the result does not alias val, which bbolt
// owns.
func parseRecord(val []byte) (*record, error) {
	s := cryptobyte.String(val)
	var version uint8
	if !s.ReadUint8(&version) {
		return nil, errors.New("soft: empty credential record")
	}
	if version != recordV1 {
		return nil, fmt.Errorf("soft: credential record has unknown format version %d", version)
	}
	var (
		r                                   record
		hash, rpID, uid, name, display, pub []byte
		kh                                  []byte
		alg                                 uint32
		created                             uint64
	)
	if !s.ReadUint64(&r.seq) || !s.ReadBytes(&hash, len(r.rpIDHash)) ||
		!s.ReadUint16LengthPrefixed((*cryptobyte.String)(&rpID)) ||
		!s.ReadUint8LengthPrefixed((*cryptobyte.String)(&uid)) ||
		!s.ReadUint16LengthPrefixed((*cryptobyte.String)(&name)) ||
		!s.ReadUint16LengthPrefixed((*cryptobyte.String)(&display)) ||
		!s.ReadUint32(&alg) || !s.ReadUint8(&r.credProtect) || !s.ReadUint64(&created) ||
		!s.ReadUint16LengthPrefixed((*cryptobyte.String)(&pub)) ||
		!s.ReadUint16LengthPrefixed((*cryptobyte.String)(&kh)) || !s.Empty() {
		return nil, errors.New("soft: malformed credential record")
	}
	copy(r.rpIDHash[:], hash)
	r.rpID = string(rpID)
	r.user = keystore.User{ID: slices.Clone(uid), Name: string(name), DisplayName: string(display)}
	r.alg = int(int32(alg))
	r.created = int64(created)
	r.publicKey = slices.Clone(pub)
	r.keyHandle = slices.Clone(kh)
	return &r, nil
}

// credential turns a record into the Credential it describes.
func (r *record) credential(id []byte) (*keystore.Credential, error) {
	pub, err := x509.ParsePKIXPublicKey(r.publicKey)
	if err != nil {
		return nil, fmt.Errorf("soft: credential record public key: %w", err)
	}
	return &keystore.Credential{
		ID:           slices.Clone(id),
		RPID:         r.rpID,
		RPIDHash:     r.rpIDHash,
		User:         r.user,
		Algorithm:    r.alg,
		PublicKey:    pub,
		Discoverable: true,
		CredProtect:  r.credProtect,
		Created:      time.Unix(0, r.created),
		KeyHandle:    r.keyHandle,
	}, nil
}

// indexKey orders an RP's index newest first.
func indexKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, ^seq) }

func marshalCounter(mark uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{counterV1}, mark)
}

func parseCounter(val []byte) (uint32, error) {
	if len(val) != 5 || val[0] != counterV1 {
		return 0, errors.New("soft: malformed counter record")
	}
	return binary.BigEndian.Uint32(val[1:]), nil
}
