// Package soft is the embedded keystore: credential records, counters and
// device blobs in a bbolt database, sealed with XChaCha20-Poly1305 under keys
// derived from one random master key. It is the default backend where there
// is no TPM, and the store engine that keystore/tpm reuses with its own
// KeyEngine and Sealer.
//
// A store is a directory (0700) holding:
//
//	store.db    bbolt: meta, credentials, per-RP index, counters, blobs
//	master.key  the master key as the Sealer sealed it (0600)
//	lock        flock'ed while a process has the store open; holds its pid
//
// Non-discoverable credentials keep their sealed key in the credential ID and
// nothing on disk except, once used, a signature counter. Discoverable
// credentials live in the database with their key sealed and bound to the
// credential ID and rpIdHash. Counters reserve blocks ahead so that they
// strictly increase across crashes without an fsync per assertion.
package soft
