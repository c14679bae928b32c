package soft

import "crypto"

// KeyEngine makes and uses credential keys. The store keeps everything else
// (records, indices, counters, sealed credential IDs); the engine decides
// where private keys live. The default engine keeps them in software;
// keystore/tpm supplies one whose keys are TPM objects.
type KeyEngine interface {
	// Name is the backend name the store reports: "soft" or "tpm".
	Name() string
	// Algorithms lists the COSE algorithms the engine makes keys for, in
	// order of preference.
	Algorithms() []int
	// MaxBlobLen is the largest key blob Generate returns, which bounds the
	// length of non-discoverable credential IDs.
	MaxBlobLen() int
	// Generate makes a key pair. The blob is what Sign needs later; the store
	// seals it (AEAD under the master key) before it is written anywhere or
	// put into a credential ID, so the engine need not encrypt it.
	Generate(alg int) (pub crypto.PublicKey, blob []byte, err error)
	// Sign signs msg with the key in blob, as keystore.Keystore.Sign does.
	Sign(alg int, blob []byte, msg []byte) ([]byte, error)
}

// InlineLimiter is a KeyEngine some of whose key blobs would make
// non-discoverable credential IDs too long (RSA private keys):
// MaxInlineBlobLen is the longest blob that the store still seals into an
// ID. A credential with a longer blob gets a short ID and keeps its key in
// the database (doc.go says why). An engine that is no InlineLimiter has
// every blob sealed into its ID.
type InlineLimiter interface {
	MaxInlineBlobLen() int
}

// Sealer protects the store's master key at rest. The default writes it to
// a 0600 file, wrapped with argon2id when a passphrase is given;
// keystore/tpm seals it to the TPM so that a copied store is useless
// elsewhere.
type Sealer interface {
	Seal(secret []byte) ([]byte, error)
	Unseal(blob []byte) ([]byte, error)
}
