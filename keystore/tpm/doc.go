// Package tpm is the TPM 2.0 keystore backend. It is the keystore/soft store
// (records, counters, sealed credential IDs, durability) with two parts
// swapped: an Engine whose credential keys are TPM objects (ECC P-256,
// fixedTPM and fixedParent, under a storage primary key kept loaded), and a
// Sealer that seals the store's master key to the TPM, so a copied store is
// useless on another machine.
//
// The TPM is the kernel resource manager /dev/tpmrm0 by default, or a raw
// TCP command port ("tcp:HOST:PORT", as swtpm serves) for tests and VMs.
package tpm
