// Package keystore defines where an authenticator keeps its credentials and
// device secrets, and the record a credential is. Backends: keystore/soft (an
// encrypted file store, the default where there is no TPM) and keystore/tpm.
// Every backend passes the conformance suite in internal/keystoretest.
package keystore

import (
	"crypto"
	"errors"
	"time"
)

// COSE algorithm identifiers (RFC 9053, RFC 8812) of the credential key
// types vauth supports. AlgorithmName and ParseAlgorithm name them.
const (
	ES256  = -7   // ECDSA P-256 with SHA-256
	EdDSA  = -8   // Ed25519
	ES384  = -35  // ECDSA P-384 with SHA-384
	ES512  = -36  // ECDSA P-521 with SHA-512
	PS256  = -37  // RSASSA-PSS with SHA-256, salt length 32
	ES256K = -47  // ECDSA secp256k1 with SHA-256
	RS256  = -257 // RSASSA-PKCS1-v1_5 with SHA-256
)

// Limits of the fields a discoverable credential keeps. A request over one
// of them is refused with an error wrapping ErrInvalidLength.
const (
	// MaxUserIDLength is the longest user ID (WebAuthn §5.4.3: a user
	// handle is at most 64 bytes). A discoverable credential's is 1 to 64
	// bytes.
	MaxUserIDLength = 64
	// MaxUserNameLength is the longest user name and display name, in
	// bytes of UTF-8: the 64 bytes WebAuthn §5.4.1 and §5.4.3 require an
	// authenticator to keep. The authenticator truncates longer ones
	// before they reach the keystore (WebAuthn §6.4.1).
	MaxUserNameLength = 64
	// MaxRPIDLength is the longest RP ID. No RP ID is truncated; this is
	// far more than a CTAPHID message (7609 bytes) can carry.
	MaxRPIDLength = 0xffff
)

// Sizes of the extension data a credential carries (CTAP 2.1 §12).
const (
	// MaxCredBlobLength is the longest credBlob a credential keeps
	// (getInfo's maxCredBlobLength; CTAP 2.1 asks for at least 32).
	MaxCredBlobLength = 32
	// LargeBlobKeyLength is the length of a largeBlobKey.
	LargeBlobKeyLength = 32
	// CredRandomLength is the length of an hmac-secret CredRandom.
	CredRandomLength = 32
)

var (
	// ErrNotFound: no such credential for this RP (or no such blob). A
	// credential ID that was tampered with, or that was made for another RP,
	// is simply not found.
	ErrNotFound = errors.New("keystore: not found")
	// ErrUnsupportedAlgorithm: the backend cannot make keys of this type.
	ErrUnsupportedAlgorithm = errors.New("keystore: unsupported algorithm")
	// ErrInUse: another process holds the store.
	ErrInUse = errors.New("keystore: store is in use by another process")
	// ErrInvalidLength: a field of the request is shorter or longer than
	// the keystore keeps (the Max…Length limits above); nothing was
	// stored.
	ErrInvalidLength = errors.New("keystore: field length out of range")
)

// User is the WebAuthn user entity of a discoverable credential.
type User struct {
	ID          []byte
	Name        string
	DisplayName string
}

// Credential is one credential as the authenticator sees it. Backends fill
// KeyHandle with what they need to sign; it is opaque and never holds a
// private key in clear.
type Credential struct {
	ID           []byte
	RPID         string   // empty for non-discoverable credentials
	RPIDHash     [32]byte // SHA-256 of the RP ID
	User         User     // zero for non-discoverable credentials
	Algorithm    int      // COSE algorithm
	PublicKey    crypto.PublicKey
	Discoverable bool
	CredProtect  uint8 // 0 when not set; the authenticator treats it as 1
	// CredBlob is the credBlob extension's data, at most MaxCredBlobLength
	// bytes; nil when none was stored.
	CredBlob []byte
	// LargeBlobKey is the largeBlobKey of a discoverable credential made
	// with the largeBlobKey extension (LargeBlobKeyLength bytes); nil
	// otherwise.
	LargeBlobKey []byte
	// ThirdPartyPayment marks a credential made with the thirdPartyPayment
	// extension (CTAP 2.2 §12, thirdPartyPayment), for both kinds of
	// credential.
	ThirdPartyPayment bool
	Created           time.Time
	KeyHandle         []byte
}

// CreateRequest describes a credential to make.
type CreateRequest struct {
	RPID         string
	RPIDHash     [32]byte
	User         User
	Algorithm    int
	Discoverable bool
	CredProtect  uint8
	// CredBlob is kept with the credential: at most MaxCredBlobLength
	// bytes, for both kinds of credential.
	CredBlob []byte
	// LargeBlobKey, when not nil, is kept with a discoverable credential:
	// LargeBlobKeyLength random bytes the authenticator made. A
	// non-discoverable credential cannot have one.
	LargeBlobKey []byte
	// ThirdPartyPayment is kept with the credential, of either kind.
	ThirdPartyPayment bool
}

// Keystore keeps credentials and device state. Implementations are safe for
// concurrent use.
type Keystore interface {
	// Backend names the backend: "soft" or "tpm".
	Backend() string
	// Algorithms lists the COSE algorithms the backend makes keys for, in
	// order of preference.
	Algorithms() []int
	// MaxCredentialIDLength is the longest credential ID the backend issues.
	MaxCredentialIDLength() int

	// Create makes a new key pair. A discoverable credential is durable when
	// Create returns, and replaces (in the same transaction) any discoverable
	// credential of the same RP with the same user ID. A non-discoverable
	// credential keeps its sealed key in its ID, bound to RPIDHash, or, when
	// the key would make the ID too long, in the store behind a short ID,
	// as durably and as bound; it is not discoverable either way. A field
	// out of its limits is refused with an error wrapping ErrInvalidLength.
	Create(req CreateRequest) (*Credential, error)
	// Lookup finds a credential by ID for an RP: a discoverable one in the
	// store, or a non-discoverable one by unsealing its ID. ErrNotFound when
	// the ID is unknown, tampered with, or belongs to another RP.
	Lookup(rpIDHash [32]byte, id []byte) (*Credential, error)
	// Discoverable lists the discoverable credentials of one RP, newest
	// first.
	Discoverable(rpIDHash [32]byte) ([]*Credential, error)
	// All lists every discoverable credential, newest first.
	All() ([]*Credential, error)
	// Delete removes a discoverable credential and its counter.
	Delete(id []byte) error
	// UpdateUser replaces the name and display name of a discoverable
	// credential's user; the user ID must match. Names longer than
	// MaxUserNameLength are refused (ErrInvalidLength), not truncated.
	UpdateUser(id []byte, user User) error

	// Sign signs msg with the credential's key as WebAuthn expects
	// (§6.5.5): ECDSA signs the hash of its algorithm (SHA-256 for ES256
	// and ES256K, SHA-384 for ES384, SHA-512 for ES512) and returns an
	// ASN.1 DER signature; RS256 and PS256 sign SHA-256(msg) with PKCS#1
	// v1.5 or PSS padding; EdDSA signs msg itself.
	Sign(c *Credential, msg []byte) ([]byte, error)
	// NextCounter returns the credential's next signature counter. Counters
	// are per credential and strictly increase, also across crashes, without
	// an fsync per call.
	NextCounter(c *Credential) (uint32, error)
	// CredRandom returns the credential's hmac-secret CredRandom (CTAP 2.1
	// §12.5), CredRandomLength bytes: CredRandomWithUV when uv is true,
	// CredRandomWithoutUV otherwise, the same on every call. It is derived
	// from a device secret that never leaves the keystore (on the TPM
	// backend, from a key inside the TPM), so nothing the relying party
	// sees reveals it and a copy of the store elsewhere cannot reproduce
	// it. Like Sign, it fails for a credential this keystore did not make.
	CredRandom(c *Credential, uv bool) ([]byte, error)

	// GetBlob returns a named piece of device state (attestation CA, PIN
	// state, large blobs...), or ErrNotFound.
	GetBlob(name string) ([]byte, error)
	// PutBlob stores a named piece of device state, sealed by the backend and
	// durable when it returns.
	PutBlob(name string, data []byte) error

	// Reset deletes every credential and blob and renews the device secrets,
	// so that old non-discoverable credential IDs no longer unseal.
	Reset() error
	Close() error
}
