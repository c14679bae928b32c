// Package tpm is the TPM 2.0 keystore backend. It is the keystore/soft store
// (records, counters, sealed credential IDs, durability) with two parts
// swapped: an Engine whose credential keys are TPM objects (ECC P-256,
// fixedTPM and fixedParent, under a storage primary key kept loaded), and a
// Sealer that seals the store's master key to the TPM, so a copied store is
// useless on another machine.
//
// Algorithms: what the TPM supports of ES256, ES384, ES512, RS256 and
// PS256, read once with TPM2_GetCapability (algorithms and curves) and
// TPM2_TestParms (RSA-2048) when the engine opens; a TPM 2.0 has no
// Ed25519 and no secp256k1, so a relying party that asks for EdDSA only
// gets CTAP2_ERR_UNSUPPORTED_ALGORITHM. The store adds an RSA check, once
// per store (see Engine.checkRSA): RSA key blobs of a length TPM 2.0
// allows, and PSS salts as long as the hash. swtpm and the simulator
// (Microsoft's reference TPM) offer all five. One key type serves each ECC
// algorithm, one RSA-2048 type both RS256 and PS256:
// credential keys have no scheme of their own, Sign names it.
//
// Attestation: the store keeps a TPM attestation key (AIK, a restricted
// P-256 signing key made once) that certifies new credential keys with
// TPM2_Certify (Store.Certify), for the WebAuthn "tpm" attestation format
// that package attestation builds.
//
// hmac-secret: the store's CredRandom values (keystore.Keystore.CredRandom)
// are HMAC-SHA256 outputs of a keyedhash key that the TPM made and keeps
// (one per store, made on first use, its TPM-wrapped blob kept among the
// store's blobs), computed with TPM2_HMAC and returned encrypted on the
// bus; another TPM cannot load the key, so a copy of the store cannot
// reproduce them.
//
// Speed: the primary key stays loaded, new keys are made loaded
// (TPM2_CreateLoaded), and recently used keys stay loaded, so a repeated
// assertion with one credential sends one TPM2_Sign, and a registration
// with TPM attestation TPM2_CreateLoaded and TPM2_Certify (plus one
// TPM2_FlushContext once the cache is full); a CredRandom costs a
// TPM2_StartAuthSession and a TPM2_HMAC once the hmac-secret key is loaded. Engine.CommandCounts shows
// what each operation sent.
//
// The TPM is the kernel resource manager /dev/tpmrm0 by default, or a raw
// TCP command port ("tcp:HOST:PORT", as swtpm serves) for tests and VMs.
package tpm
