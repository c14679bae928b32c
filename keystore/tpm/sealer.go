package tpm

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"golang.org/x/crypto/cryptobyte"
)

// sealedBlobVersion is the first byte of a sealed-secret blob.
const sealedBlobVersion = 1

// maxSealedSize is the most data a TPM keyedhash object can seal
// (MAX_SYM_DATA).
const maxSealedSize = 128

// Sealer is a soft.Sealer that seals the store's master key to the TPM: a
// keyedhash sealed-data object under the engine's storage primary, which
// only this TPM (with the same owner seed) can load and unseal, so a copied
// store directory is useless elsewhere. The secret crosses the bus encrypted
// (a session salted with the primary key encrypts it).
type Sealer struct {
	e *Engine
}

// Sealer returns the engine's sealer, which shares the engine's primary key
// and object slots.
func (e *Engine) Sealer() *Sealer { return &Sealer{e: e} }

// sealedTemplate is the public area of a sealed-data object; unique is empty
// in the template given to TPM2_Create and the object's unique digest
// otherwise. noDA for the reason given at credentialKeyTemplate.
func sealedTemplate(unique tpm2.TPM2BDigest) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgKeyedHash,
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM:     true,
			FixedParent:  true,
			UserWithAuth: true,
			NoDA:         true,
		},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgKeyedHash, &tpm2.TPMSKeyedHashParms{
			Scheme: tpm2.TPMTKeyedHashScheme{Scheme: tpm2.TPMAlgNull},
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgKeyedHash, &unique),
	}
}

// paramSession is a one-use HMAC session salted with the storage primary
// that encrypts the first command (EncryptIn) or response (EncryptOut)
// parameter.
func (e *Engine) paramSession(dir tpm2.AuthOption) tpm2.Session {
	return tpm2.HMAC(tpm2.TPMAlgSHA256, 16, tpm2.Salted(e.primary.Handle, e.primaryPub), dir)
}

// Seal implements soft.Sealer with TPM2_Create of a sealed-data object. The
// blob is a version byte, the object's TPM2B_PRIVATE and its unique digest.
func (s *Sealer) Seal(secret []byte) ([]byte, error) {
	if len(secret) == 0 || len(secret) > maxSealedSize {
		return nil, fmt.Errorf("tpm: seal: secret of %d bytes (1 to %d)", len(secret), maxSealedSize)
	}
	e := s.e
	if err := e.lock(); err != nil {
		return nil, err
	}
	defer e.mu.Unlock()
	var rsp *tpm2.CreateResponse
	err := e.withObjectSlot(func() (err error) {
		rsp, err = tpm2.Create{
			ParentHandle: tpm2.AuthHandle{
				Handle: e.primary.Handle,
				Name:   e.primary.Name,
				Auth:   e.paramSession(tpm2.AESEncryption(128, tpm2.EncryptIn)),
			},
			InSensitive: tpm2.TPM2BSensitiveCreate{Sensitive: &tpm2.TPMSSensitiveCreate{
				Data: tpm2.NewTPMUSensitiveCreate(&tpm2.TPM2BSensitiveData{Buffer: secret}),
			}},
			InPublic: tpm2.New2B(sealedTemplate(tpm2.TPM2BDigest{})),
		}.Execute(e.tpm)
		return err
	})
	if err != nil {
		return nil, tpmError(e.tpm, "seal", err)
	}
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		return nil, fmt.Errorf("tpm: sealed object public area: %w", err)
	}
	unique, err := pub.Unique.KeyedHash()
	if err != nil {
		return nil, fmt.Errorf("tpm: sealed object public area: %w", err)
	}
	if !bytes.Equal(tpm2.Marshal(sealedTemplate(*unique)), rsp.OutPublic.Bytes()) {
		return nil, errors.New("tpm: the TPM changed the sealed object template")
	}
	blob := []byte{sealedBlobVersion}
	blob = append(blob, tpm2.Marshal(rsp.OutPrivate)...)
	blob = append(blob, tpm2.Marshal(*unique)...)
	return blob, nil
}

// Unseal implements soft.Sealer with TPM2_Load and TPM2_Unseal. A blob
// sealed on another TPM fails to load (TPM_RC_INTEGRITY).
func (s *Sealer) Unseal(blob []byte) ([]byte, error) {
	in := cryptobyte.String(blob)
	var version uint8
	var priv, unique []byte
	if !in.ReadUint8(&version) || version != sealedBlobVersion ||
		!in.ReadUint16LengthPrefixed((*cryptobyte.String)(&priv)) ||
		!in.ReadUint16LengthPrefixed((*cryptobyte.String)(&unique)) || !in.Empty() {
		return nil, errors.New("tpm: unseal: bad sealed blob")
	}
	e := s.e
	if err := e.lock(); err != nil {
		return nil, err
	}
	defer e.mu.Unlock()
	h, err := e.load(tpm2.TPM2BPrivate{Buffer: priv}, sealedTemplate(tpm2.TPM2BDigest{Buffer: unique}))
	if err != nil {
		return nil, tpmError(e.tpm, "load sealed object (was the store made with another TPM, or was the TPM cleared?)", err)
	}
	rsp, err := tpm2.Unseal{ItemHandle: tpm2.AuthHandle{
		Handle: h.Handle,
		Name:   h.Name,
		Auth:   e.paramSession(tpm2.AESEncryption(128, tpm2.EncryptOut)),
	}}.Execute(e.tpm)
	ferr := e.flush(h.Handle, "flush sealed object")
	if err != nil {
		return nil, tpmError(e.tpm, "unseal", err)
	}
	if ferr != nil {
		return nil, ferr
	}
	return rsp.OutData.Buffer, nil
}
