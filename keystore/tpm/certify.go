package tpm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/google/go-tpm/tpm2"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/vauth/vauth/internal/cose"
)

// recentKeyCount is how many new credential keys the engine remembers.
const recentKeyCount = 16

// maxQualifyingData is the most qualifying data TPM2_Certify takes: a
// TPM2B_DATA holds at most a TPMT_HA (a SHA-512 digest and its algorithm).
const maxQualifyingData = 2 + 64

// ErrNotCertifiable: Certify was asked for a credential key that the engine
// did not make recently. The keystore hands key blobs to the engine, never
// back, so the engine certifies the keys it has just made, which is when
// an attestation is made: right after the credential is created.
var ErrNotCertifiable = errors.New("tpm: only a credential key made moments ago by this store can be certified")

// recentKeys remembers the blobs of the last recentKeyCount credential keys
// the engine made, by public key, for Certify.
type recentKeys struct {
	next int
	keys [recentKeyCount]struct {
		pub  crypto.PublicKey
		blob []byte
	}
}

// add remembers a new key. The blob is copied: the store clears its copy.
func (r *recentKeys) add(pub crypto.PublicKey, blob []byte) {
	k := &r.keys[r.next]
	k.pub, k.blob = pub, bytes.Clone(blob)
	r.next = (r.next + 1) % len(r.keys)
}

// find returns the blob of the recent key pub, or nil.
func (r *recentKeys) find(pub crypto.PublicKey) []byte {
	for _, k := range r.keys {
		if k.pub != nil && cose.Equal(k.pub, pub) {
			return k.blob
		}
	}
	return nil
}

// Info identifies a TPM as its attestation key's certificate names it (the
// TCG EK Credential Profile's TPMManufacturer, TPMModel and TPMVersion).
type Info struct {
	// Manufacturer is TPM_PT_MANUFACTURER, the vendor ID from the TCG
	// registry ("IBM\0" = 0x49424D00 for swtpm, "MSFT" for the reference
	// simulator, "INTC", "IFX\0", ... for hardware).
	Manufacturer uint32
	// Model is the vendor string (TPM_PT_VENDOR_STRING_1 to _4), trimmed.
	Model string
	// FirmwareVersion is TPM_PT_FIRMWARE_VERSION_1 (high 32 bits) and _2.
	FirmwareVersion uint64
}

// TPMInfo reads the TPM's manufacturer, model and firmware version (one
// TPM2_GetCapability, on first use).
func (e *Engine) TPMInfo() (Info, error) {
	if err := e.lock(); err != nil {
		return Info{}, err
	}
	defer e.mu.Unlock()
	if e.info != nil {
		return *e.info, nil
	}
	rsp, err := tpm2.GetCapability{
		Capability:    tpm2.TPMCapTPMProperties,
		Property:      uint32(tpm2.TPMPTManufacturer),
		PropertyCount: uint32(tpm2.TPMPTFirmwareVersion2 - tpm2.TPMPTManufacturer + 1),
	}.Execute(e.tpm)
	if err != nil {
		return Info{}, tpmError(e.tpm, "read TPM properties", err)
	}
	props, err := rsp.CapabilityData.Data.TPMProperties()
	if err != nil {
		return Info{}, fmt.Errorf("tpm: read TPM properties: %w", err)
	}
	var info Info
	vendor := make([]byte, 16)
	for _, p := range props.TPMProperty {
		switch {
		case p.Property == tpm2.TPMPTManufacturer:
			info.Manufacturer = p.Value
		case p.Property >= tpm2.TPMPTVendorString1 && p.Property <= tpm2.TPMPTVendorString4:
			binary.BigEndian.PutUint32(vendor[4*(p.Property-tpm2.TPMPTVendorString1):], p.Value)
		case p.Property == tpm2.TPMPTFirmwareVersion1:
			info.FirmwareVersion |= uint64(p.Value) << 32
		case p.Property == tpm2.TPMPTFirmwareVersion2:
			info.FirmwareVersion |= uint64(p.Value)
		}
	}
	if info.Manufacturer == 0 {
		return Info{}, errors.New("tpm: the TPM reports no manufacturer (TPM_PT_MANUFACTURER)")
	}
	info.Model = strings.TrimRight(strings.ReplaceAll(string(vendor), "\x00", ""), " ")
	e.info = &info
	return info, nil
}

// newAttestationKey makes an attestation key and returns its public key and
// blob, which the store keeps so that the key is made once.
func (e *Engine) newAttestationKey() (*ecdsa.PublicKey, []byte, error) {
	if err := e.lock(); err != nil {
		return nil, nil, err
	}
	defer e.mu.Unlock()
	pk, blob, err := e.createKey(attestationKeyBlobVersion, keyP256, attestationKeyTemplate, "attestation key")
	if err != nil {
		return nil, nil, err
	}
	return pk.(*ecdsa.PublicKey), blob, nil
}

// forgetKey flushes the key of blob (the attestation key or the hmac-secret
// key) if it is loaded: the store dropped it.
func (e *Engine) forgetKey(blob []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	el, ok := e.loaded[string(blob)]
	if !ok || e.closed {
		return nil
	}
	e.lru.Remove(el)
	delete(e.loaded, string(blob))
	return e.flush(el.Value.(*loadedKey).handle.Handle, "flush a key the store dropped")
}

// attestationKeyPublic returns the public key in an attestation key blob.
func attestationKeyPublic(blob []byte) (*ecdsa.PublicKey, error) {
	k, _, u, err := parseKeyBlob(blob, true)
	if err != nil {
		return nil, err
	}
	pk, err := publicKey(k, u)
	if err != nil {
		return nil, err
	}
	return pk.(*ecdsa.PublicKey), nil
}

// certify has the attestation key in aikBlob certify the recent credential
// key pub, of any type, with TPM2_Certify. It returns the TPMS_ATTEST the TPM made and
// signed, the attestation key's signature over it in ASN.1 DER, and the
// credential key's TPMT_PUBLIC, whose name the TPMS_ATTEST carries.
func (e *Engine) certify(pub crypto.PublicKey, aikBlob, qualifyingData []byte) (certInfo, sig, pubArea []byte, err error) {
	if len(qualifyingData) > maxQualifyingData {
		return nil, nil, nil, fmt.Errorf("tpm: certify: %d bytes of qualifying data, at most %d", len(qualifyingData), maxQualifyingData)
	}
	if err := e.lock(); err != nil {
		return nil, nil, nil, err
	}
	defer e.mu.Unlock()
	blob := e.recent.find(pub)
	if blob == nil {
		return nil, nil, nil, ErrNotCertifiable
	}
	k, _, u, err := parseKeyBlob(blob, false)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := e.credentialKey(blob)
	if err != nil {
		return nil, nil, nil, err
	}
	aik, err := e.key(aikBlob, true)
	if err != nil {
		return nil, nil, nil, err
	}
	// Loading the attestation key never evicts the credential key it just
	// used (capacity is at least 2), unless the TPM ran out of object
	// memory and eviction went further: then the handle may be stale.
	if _, ok := e.loaded[string(blob)]; !ok {
		return nil, nil, nil, errors.New("tpm: certify: the TPM cannot hold the credential key and the attestation key at once")
	}
	rsp, err := tpm2.Certify{
		ObjectHandle:   key,
		SignHandle:     aik,
		QualifyingData: tpm2.TPM2BData{Buffer: qualifyingData},
		InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull}, // the key's own
	}.Execute(e.tpm)
	if err != nil {
		return nil, nil, nil, tpmError(e.tpm, "certify credential key", err)
	}
	if sig, err = derSignature(&rsp.Signature); err != nil {
		return nil, nil, nil, fmt.Errorf("tpm: certify: %w", err)
	}
	return rsp.CertifyInfo.Bytes(), sig, tpm2.Marshal(credentialKeyTemplate(k, u)), nil
}

// derSignature encodes a TPM ECDSA signature as ASN.1 DER, the form COSE
// ES256 verifiers and crypto/ecdsa take.
func derSignature(s *tpm2.TPMTSignature) ([]byte, error) {
	sig, err := s.Signature.ECDSA()
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(new(big.Int).SetBytes(sig.SignatureR.Buffer))
		b.AddASN1BigInt(new(big.Int).SetBytes(sig.SignatureS.Buffer))
	})
	return b.Bytes()
}
