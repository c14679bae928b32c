package soft

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/cryptobyte"

	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/keystore"
)

// formatVersion is the version of the database layout, kept in the meta
// bucket. A store written by a newer layout is refused, not guessed at.
// Version 2 added the count of discoverable credentials to the meta
// bucket; Open upgrades a version 1 store by counting its records once.
// Version 3 keeps records of format recordV2 (with credBlob and
// largeBlobKey); Open rewrites the recordV1 records of an older store.
// Version 4 writes recordV3 records and idNonDiscoverableV3 IDs (with the
// flags, thirdPartyPayment); it still reads the older ones, so a version 3
// store needs no rewriting, but an older vauth must not open it.
// Version 5 adds the bucket of stored non-discoverable credentials
// (idNonDiscoverableStoredV1 IDs, ndRecordV1 records), which Open creates
// in an older store; an older vauth would not find those credentials.
const formatVersion = 5

// The first byte of every sealed or persisted value names its format and
// version.
const (
	idNonDiscoverableV1 = 0x01 // credential ID: 0x01 || nonce || AEAD(ndPayload v1, AD = 0x01 || rpIdHash); still read
	idNonDiscoverableV2 = 0x03 // credential ID: 0x03 || nonce || AEAD(ndPayload v2, AD = 0x03 || rpIdHash): v1 and the credBlob; still read
	idNonDiscoverableV3 = 0x04 // credential ID: 0x04 || nonce || AEAD(ndPayload v3, AD = 0x04 || rpIdHash): v2 and the flags
	idDiscoverableV1    = 0x02 // credential ID: 0x02 || random; the record is in the database
	keyHandleV1         = 0x11 // sealed key: 0x11 || nonce || AEAD(alg || engine blob, AD = 0x11 || rpIdHash || credential ID)
	blobV1              = 0x21 // sealed blob: 0x21 || nonce || AEAD(data, AD = 0x21 || name)
	recordV1            = 0x01 // discoverable credential record; read, and rewritten as recordV3 when a store is upgraded
	recordV2            = 0x02 // discoverable credential record: recordV1's fields, then credBlob and largeBlobKey; still read
	recordV3            = 0x03 // discoverable credential record: recordV2's fields under this version byte, then the flags byte
	counterV1           = 0x01 // counter record: 0x01 || high-water mark u32
)

// Stored non-discoverable credentials, whose key blob is longer than
// Store.inlineBlobLen (doc.go says why).
const (
	// idNonDiscoverableStoredV1 is the ID: 0x05 || random, shaped as a
	// discoverable ID; the record is in bucketND.
	idNonDiscoverableStoredV1 = 0x05
	// ndRecordV1 is the record: 0x01 || rpIdHash || alg || credProtect ||
	// created || flags || credBlob (u8 length) || public key (PKIX DER, u16
	// length) || key handle (keyHandleV1, u16 length).
	ndRecordV1 = 0x01
)

// Sizes of the formats above.
const (
	discoverableRandLen = 16
	discoverableIDLen   = 1 + discoverableRandLen
	sealOverhead        = 1 + chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead
	ndPayloadFixed      = 4 + 1 + 8 // alg, credProtect, created
	maxBlobNameLen      = 255
	// recordFixedLen is the length of a recordV2 but its variable fields:
	// version, seq, rpIdHash, alg, credProtect, created and the length
	// prefixes of rpID, user ID, name, display name, public key, key
	// handle, credBlob and largeBlobKey.
	recordFixedLen = 1 + 8 + 32 + 4 + 1 + 8 + 2 + 1 + 2 + 2 + 2 + 2 + 1 + 1
	// ndPayloadMaxV2 is the longest ndPayload v2 but the engine blob: the
	// fixed part, the credBlob's length byte and the longest credBlob.
	ndPayloadMaxV2 = ndPayloadFixed + 1 + keystore.MaxCredBlobLength
	// ndPayloadMaxV3 adds the flags byte.
	ndPayloadMaxV3 = ndPayloadMaxV2 + 1
)

// Flags of a credential, the flags byte of recordV3 and ndPayload v3.
const (
	flagThirdPartyPayment = 0x01 // made with the thirdPartyPayment extension
	knownFlags            = flagThirdPartyPayment
)

// credentialFlags is the flags byte of a credential.
func credentialFlags(thirdPartyPayment bool) byte {
	if thirdPartyPayment {
		return flagThirdPartyPayment
	}
	return 0
}

// Bucket names and meta keys.
var (
	bucketMeta     = []byte("meta")
	bucketCreds    = []byte("credentials") // credential ID -> record
	bucketRPs      = []byte("rp")          // rpIdHash -> bucket of ^seq -> credential ID (newest first)
	bucketCounters = []byte("counters")    // credential ID -> counter record
	bucketBlobs    = []byte("blobs")       // name -> sealed blob
	bucketUsage    = []byte("usage")       // credential ID -> usage record (usage.go)
	keyVersion     = []byte("version")
	keyKeyCheck    = []byte("keycheck")
	keyCount       = []byte("discoverable") // number of discoverable credentials, u64
)

// bucketND maps a stored non-discoverable credential's ID to its record.
var bucketND = []byte("nondiscoverable")

// dataBuckets are the buckets Reset empties.
var dataBuckets = [][]byte{bucketCreds, bucketRPs, bucketCounters, bucketBlobs, bucketUsage, bucketND}

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
func sealAD(kind byte, parts ...[]byte) []byte { return appendAD(nil, kind, parts...) }

// appendAD is sealAD appended to dst, so that a caller can build it on its
// stack.
func appendAD(dst []byte, kind byte, parts ...[]byte) []byte {
	dst = append(dst, kind)
	for _, p := range parts {
		dst = append(dst, p...)
	}
	return dst
}

// appendAlg appends a COSE algorithm identifier as a 32-bit two's complement
// number.
func appendAlg(b []byte, alg int) []byte { return binary.BigEndian.AppendUint32(b, uint32(int32(alg))) }

// ndPayload is what a non-discoverable credential ID seals: version 1
// alg || credProtect || created || engine blob; version 2 puts
// len(credBlob) (one byte) || credBlob before the engine blob; version 3
// puts the flags byte before len(credBlob).
type ndPayload struct {
	alg         int
	credProtect uint8
	created     int64 // Unix nanoseconds
	flags       byte
	credBlob    []byte
	blob        []byte
}

// marshal encodes the payload as version 3; the caller has checked the
// credBlob's length.
func (p *ndPayload) marshal() []byte {
	b := make([]byte, 0, ndPayloadMaxV3+len(p.blob))
	b = appendAlg(b, p.alg)
	b = append(b, p.credProtect)
	b = binary.BigEndian.AppendUint64(b, uint64(p.created))
	b = append(b, p.flags)
	b = append(b, byte(len(p.credBlob)))
	b = append(b, p.credBlob...)
	return append(b, p.blob...)
}

// parseNDPayload decodes the payload of an ID of kind idNonDiscoverableV1,
// V2 or V3. The result aliases b.
func parseNDPayload(kind byte, b []byte) (ndPayload, bool) {
	if len(b) < ndPayloadFixed {
		return ndPayload{}, false
	}
	p := ndPayload{
		alg:         int(int32(binary.BigEndian.Uint32(b))),
		credProtect: b[4],
		created:     int64(binary.BigEndian.Uint64(b[5:])),
		blob:        b[ndPayloadFixed:],
	}
	if kind == idNonDiscoverableV1 {
		return p, true
	}
	if kind == idNonDiscoverableV3 {
		if len(p.blob) == 0 || p.blob[0]&^knownFlags != 0 {
			return ndPayload{}, false
		}
		p.flags, p.blob = p.blob[0], p.blob[1:]
	}
	if len(p.blob) == 0 || int(p.blob[0]) > keystore.MaxCredBlobLength || len(p.blob) < 1+int(p.blob[0]) {
		return ndPayload{}, false
	}
	n := int(p.blob[0])
	if n > 0 {
		p.credBlob = p.blob[1 : 1+n]
	}
	p.blob = p.blob[1+n:]
	return p, true
}

// isNonDiscoverable reports whether an ID's first byte names a sealed
// non-discoverable credential ID.
func isNonDiscoverable(kind byte) bool {
	return kind == idNonDiscoverableV1 || kind == idNonDiscoverableV2 || kind == idNonDiscoverableV3
}

// openND unseals a non-discoverable credential ID made for rpIDHash. The
// payload aliases the cache's plaintext: the caller neither changes nor
// clears it.
func (k *sealKeys) openND(id []byte, rpIDHash [32]byte) (p ndPayload, ok bool) {
	if len(id) == 0 || !isNonDiscoverable(id[0]) {
		return ndPayload{}, false
	}
	var ad [1 + 32]byte
	plain, err := k.opened.open(k.credentialID, id, appendAD(ad[:0], id[0], rpIDHash[:]))
	if err != nil {
		return ndPayload{}, false
	}
	return parseNDPayload(id[0], plain)
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
	// credBlob and largeBlobKey are nil when the credential has none.
	credBlob     []byte
	largeBlobKey []byte
	// flags is recordV3's flags byte: 0 for older records.
	flags byte
	// nonDiscoverable marks the record of a stored non-discoverable
	// credential (ndRecordV1), which has no rpID, user, seq or
	// largeBlobKey.
	nonDiscoverable bool
}

// encode is the record as this vauth stores it, recordV3: what marshal
// encodes as recordV2, under recordV3's version byte, then the flags byte.
func (r *record) encode() ([]byte, error) {
	b, err := r.marshal()
	if err != nil {
		return nil, err
	}
	b[0] = recordV3
	return append(b, r.flags), nil
}

// marshal encodes the record as recordV2. The builder grows as it must (the
// capacity is only a hint), so that no field at its limit can overflow it;
// a field too long for its length prefix is an error, which checkRequest
// and checkUser rule out beforehand.
func (r *record) marshal() ([]byte, error) {
	n := recordFixedLen + len(r.rpID) + len(r.user.ID) + len(r.user.Name) + len(r.user.DisplayName) +
		len(r.publicKey) + len(r.keyHandle) + len(r.credBlob) + len(r.largeBlobKey)
	b := cryptobyte.NewBuilder(make([]byte, 0, n))
	b.AddUint8(recordV2)
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
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r.credBlob) })
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r.largeBlobKey) })
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("soft: encode credential record: %w", err)
	}
	return out, nil
}

// parseRecord decodes a record of format recordV1, recordV2 or recordV3;
// the result does not alias val, which bbolt owns.
func parseRecord(val []byte) (*record, error) {
	s := cryptobyte.String(val)
	var version uint8
	if !s.ReadUint8(&version) {
		return nil, errors.New("soft: empty credential record")
	}
	var flags byte
	if version == recordV3 {
		// recordV2's fields, then the flags byte.
		if len(s) == 0 || s[len(s)-1]&^knownFlags != 0 {
			return nil, errors.New("soft: malformed credential record")
		}
		flags, s, version = s[len(s)-1], s[:len(s)-1], recordV2
	}
	if version != recordV1 && version != recordV2 {
		return nil, fmt.Errorf("soft: credential record has unknown format version %d", version)
	}
	var (
		r                                   record
		hash, rpID, uid, name, display, pub []byte
		kh, credBlob, largeBlobKey          []byte
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
		!s.ReadUint16LengthPrefixed((*cryptobyte.String)(&kh)) ||
		(version == recordV2 && (!s.ReadUint8LengthPrefixed((*cryptobyte.String)(&credBlob)) ||
			!s.ReadUint8LengthPrefixed((*cryptobyte.String)(&largeBlobKey)))) || !s.Empty() {
		return nil, errors.New("soft: malformed credential record")
	}
	if len(credBlob) > keystore.MaxCredBlobLength || (len(largeBlobKey) != 0 && len(largeBlobKey) != keystore.LargeBlobKeyLength) {
		return nil, errors.New("soft: malformed credential record")
	}
	r.setShared(hash, alg, created, credBlob, pub, kh)
	r.largeBlobKey = nilIfEmpty(largeBlobKey)
	r.flags = flags
	r.rpID = string(rpID)
	r.user = keystore.User{ID: slices.Clone(uid), Name: string(name), DisplayName: string(display)}
	return &r, nil
}

// setShared sets the fields that both record formats hold, from the bytes
// parseRecord or parseNDRecord read, without aliasing them.
func (r *record) setShared(hash []byte, alg uint32, created uint64, credBlob, pub, kh []byte) {
	copy(r.rpIDHash[:], hash)
	r.alg = int(int32(alg))
	r.created = int64(created)
	r.credBlob = nilIfEmpty(credBlob)
	r.publicKey = slices.Clone(pub)
	r.keyHandle = slices.Clone(kh)
}

// credential turns a record into the Credential it describes.
func (r *record) credential(id []byte) (*keystore.Credential, error) {
	pub, err := cose.ParsePKIX(r.publicKey) // also secp256k1, unlike crypto/x509
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
		Discoverable: !r.nonDiscoverable,
		CredProtect:  r.credProtect,
		CredBlob:     r.credBlob,
		LargeBlobKey: r.largeBlobKey,
		Created:      time.Unix(0, r.created),
		KeyHandle:    r.keyHandle,

		ThirdPartyPayment: r.flags&flagThirdPartyPayment != 0,
	}, nil
}

// encodeND encodes the record of a stored non-discoverable credential as
// ndRecordV1: what its sealed ID would have held, and the rpIdHash it is
// bound to, the public key and the sealed key handle.
func (r *record) encodeND() ([]byte, error) {
	n := 1 + len(r.rpIDHash) + 4 + 1 + 8 + 1 + 1 + len(r.credBlob) + 2 + len(r.publicKey) + 2 + len(r.keyHandle)
	b := cryptobyte.NewBuilder(make([]byte, 0, n))
	b.AddUint8(ndRecordV1)
	b.AddBytes(r.rpIDHash[:])
	b.AddUint32(uint32(int32(r.alg)))
	b.AddUint8(r.credProtect)
	b.AddUint64(uint64(r.created))
	b.AddUint8(r.flags)
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r.credBlob) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r.publicKey) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r.keyHandle) })
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("soft: encode non-discoverable credential record: %w", err)
	}
	return out, nil
}

// parseNDRecord decodes an ndRecordV1; the result does not alias val.
func parseNDRecord(val []byte) (*record, error) {
	s := cryptobyte.String(val)
	var (
		r                       = record{nonDiscoverable: true}
		version                 uint8
		hash, credBlob, pub, kh []byte
		alg                     uint32
		created                 uint64
	)
	if !s.ReadUint8(&version) || version != ndRecordV1 {
		return nil, errors.New("soft: non-discoverable credential record has an unknown format")
	}
	if !s.ReadBytes(&hash, len(r.rpIDHash)) || !s.ReadUint32(&alg) || !s.ReadUint8(&r.credProtect) ||
		!s.ReadUint64(&created) || !s.ReadUint8(&r.flags) ||
		!s.ReadUint8LengthPrefixed((*cryptobyte.String)(&credBlob)) ||
		!s.ReadUint16LengthPrefixed((*cryptobyte.String)(&pub)) ||
		!s.ReadUint16LengthPrefixed((*cryptobyte.String)(&kh)) || !s.Empty() ||
		r.flags&^knownFlags != 0 || len(credBlob) > keystore.MaxCredBlobLength {
		return nil, errors.New("soft: malformed non-discoverable credential record")
	}
	r.setShared(hash, alg, created, credBlob, pub, kh)
	return &r, nil
}

// upgradeRecords rewrites every recordV1 record as recordV3 (no credBlob,
// no largeBlobKey, no flags): the upgrade of a store older than format
// version 3. recordV2 records are read as they are.
func upgradeRecords(tx *bolt.Tx) error {
	creds := tx.Bucket(bucketCreds)
	var old [][2][]byte
	err := creds.ForEach(func(id, val []byte) error {
		if len(val) > 0 && val[0] == recordV1 {
			old = append(old, [2][]byte{slices.Clone(id), slices.Clone(val)})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, kv := range old {
		rec, err := parseRecord(kv[1])
		if err != nil {
			return fmt.Errorf("credential %x: %w", kv[0], err)
		}
		val, err := rec.encode()
		if err != nil {
			return err
		}
		if err := creds.Put(kv[0], val); err != nil {
			return err
		}
	}
	return nil
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
