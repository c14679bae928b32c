// Package tpm is the TPM 2.0 keystore backend. It is the keystore/soft store
// (records, counters, sealed credential IDs, durability) with two parts
// swapped: an Engine whose credential keys are TPM objects (ECC P-256,
// fixedTPM and fixedParent, under a storage primary key kept loaded), and a
// Sealer that seals the store's master key to the TPM, so a copied store is
// useless on another machine.
//
// Algorithms: ES256 only. A TPM 2.0 has no Ed25519 (EdDSA is not among the
// TPM's algorithms), so the store's Algorithms() is [ES256], and the
// authenticator's getInfo, which takes its list from the keystore, offers
// ES256 alone; a relying party that asks for EdDSA only gets
// CTAP2_ERR_UNSUPPORTED_ALGORITHM. The soft backend offers both.
//
// Attestation: the store keeps a TPM attestation key (AIK, a restricted
// P-256 signing key made once) that certifies new credential keys with
// TPM2_Certify (Store.Certify), for the WebAuthn "tpm" attestation format
// that package attestation builds.
//
// Speed: the primary key stays loaded, new keys are made loaded
// (TPM2_CreateLoaded), and recently used keys stay loaded, so a repeated
// assertion with one credential sends one TPM2_Sign, and a registration
// with TPM attestation TPM2_CreateLoaded and TPM2_Certify (plus one
// TPM2_FlushContext once the cache is full). Engine.CommandCounts shows
// what each operation sent.
//
// The TPM is the kernel resource manager /dev/tpmrm0 by default, or a raw
// TCP command port ("tcp:HOST:PORT", as swtpm serves) for tests and VMs.
package tpm
