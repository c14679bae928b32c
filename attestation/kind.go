package attestation

import (
	"fmt"
	"strings"
)

// Kinds of attestation the CLI offers (--attestation).
const (
	KindNone   = "none"   // format none
	KindSelf   = "self"   // format packed, signed by the credential itself
	KindPacked = "packed" // format packed, basic attestation with an x5c chain
	KindTPM    = "tpm"    // format tpm: the TPM certifies the credential key
)

// Kinds lists the values New accepts, for flag help and error messages.
func Kinds() []string { return []string{KindNone, KindSelf, KindPacked, KindTPM} }

// New returns the attester of one kind. For KindPacked and KindTPM, ca is
// the CA that certifies the attestation key (nil means vauth's own, kept in
// store), and the attestation key and certificate for aaguid are prepared
// at once so that a broken store, CA or TPM shows up at startup rather than
// at the first registration. KindTPM needs store to be the keystore, and a
// TPMCertifier (keystore/tpm).
func New(kind string, aaguid [16]byte, store BlobStore, ca *CA) (Attester, error) {
	switch kind {
	case KindNone:
		return None(), nil
	case KindSelf:
		return Self(), nil
	case KindPacked, KindTPM:
		if store == nil {
			return nil, fmt.Errorf("attestation: %q attestation needs a store", kind)
		}
		certifier, isTPM := store.(TPMCertifier)
		if kind == KindTPM && !isTPM {
			return nil, errNeedsTPM
		}
		if ca == nil {
			var err error
			if ca, err = LoadOrCreateCA(store); err != nil {
				return nil, err
			}
		}
		if kind == KindTPM {
			t := &tpmAttester{ca: ca, aaguid: aaguid, store: store}
			if _, err := t.certificate(certifier); err != nil {
				return nil, err
			}
			return t, nil
		}
		b := newBasic(ca, aaguid, store)
		if _, err := b.attestationKey(); err != nil {
			return nil, err
		}
		return b, nil
	default:
		return nil, fmt.Errorf("attestation: unknown attestation %q; choose one of %s", kind, strings.Join(Kinds(), ", "))
	}
}
