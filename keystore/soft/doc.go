// Package soft is the embedded keystore: credential records, counters and
// device blobs in a bbolt database, sealed with XChaCha20-Poly1305 under keys
// derived from one random master key. It is the default backend where there
// is no TPM, and the store engine that keystore/tpm reuses with its own
// KeyEngine and Sealer.
//
// A store is a directory (0700) holding:
//
//	store.db    bbolt: meta, credentials, per-RP index, counters, blobs,
//	            stored non-discoverable credentials
//	master.key  the master key as the Sealer sealed it (0600)
//	lock        flock'ed while a process has the store open; holds its pid
//
// Non-discoverable credentials keep their sealed key, credProtect level and
// credBlob in the credential ID and nothing on disk except, once used, a
// signature counter. The exception is a key whose blob is longer than the
// longest EC or EdDSA blob (an RSA key; see InlineLimiter): its sealed ID
// would be 345 bytes or more, and getInfo's maxCredentialCountInList
// (CTAP 2.1 §6.4), which vauth keeps to what a list of IDs of
// maxCredentialIdLength fits in maxMsgSize, would fall to 2 on uhid's 1200
// bytes for every user (python-fido2 refuses longer lists).
// Such a credential gets a random 17-byte ID and a record in the database,
// bound to its rpIdHash, which only Reset removes; it is still not
// discoverable. Discoverable credentials live in the database with
// their key sealed and bound to the credential ID and rpIdHash, and their
// credBlob and largeBlobKey. Counters reserve blocks ahead so that they
// strictly increase across crashes without an fsync per assertion.
// hmac-secret's CredRandom is an HMAC under a key derived from the master
// key, or under the engine's own key when it is an HMACEngine
// (keystore/tpm).
//
// The software Engine makes keys of every algorithm in keystore.Preferred
// (ES256, EdDSA, ES384, ES512, RS256, PS256, ES256K); software.go lays out
// its versioned key blobs, which keep RSA keys as their two primes (which
// vauth sealed into IDs of up to 345 bytes, or 473 for RSA-3072, before
// the exception above; the store still reads those).
//
// The store answers the optional index interfaces of keystore (a count of
// discoverable credentials kept in the meta bucket by the transactions
// that change it, the RPs from the per-RP index, a credential by its ID
// alone), so that getInfo, makeCredential and credential management do not
// read every record; CreateMany seeds many credentials in one transaction.
package soft
