package tpm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/google/go-tpm/tpm2"
	"golang.org/x/crypto/cryptobyte"

	"github.com/vauth/vauth/keystore"
)

// keyType is a kind of TPM key the engine makes, named by the first byte of
// its blob.
type keyType struct {
	version byte
	curve   tpm2.TPMECCCurve // ECC keys
	ec      elliptic.Curve   // the same curve in crypto/elliptic
	rsaBits int              // RSA keys; 0 for ECC
	size    int              // ECC scalar and coordinate bytes, or RSA modulus bytes
}

// Credential key types. keyP256 is the only kind earlier versions made;
// the attestation key is a P-256 key too, restricted and with a scheme, so
// its blobs have their own version byte (attestationKeyBlobVersion).
var (
	keyP256    = &keyType{version: keyBlobVersion, curve: tpm2.TPMECCNistP256, ec: elliptic.P256(), size: 32}
	keyP384    = &keyType{version: 3, curve: tpm2.TPMECCNistP384, ec: elliptic.P384(), size: 48}
	keyP521    = &keyType{version: 4, curve: tpm2.TPMECCNistP521, ec: elliptic.P521(), size: 66}
	keyRSA2048 = &keyType{version: 5, rsaBits: 2048, size: 256}
	keyTypes   = []*keyType{keyP256, keyP384, keyP521, keyRSA2048}
)

// isRSA reports whether k is an RSA key type.
func (k *keyType) isRSA() bool { return k.rsaBits != 0 }

// keyTypeOf returns the credential key type of a blob's version byte.
func keyTypeOf(version byte) (*keyType, bool) {
	i := slices.IndexFunc(keyTypes, func(k *keyType) bool { return k.version == version })
	if i < 0 {
		return nil, false
	}
	return keyTypes[i], true
}

// signAlgorithm is how the TPM makes signatures of a COSE algorithm: the
// key type, TPM2_Sign's scheme and the hash of the digest it signs.
type signAlgorithm struct {
	key    *keyType
	scheme tpm2.TPMAlgID // TPM_ALG_ECDSA, TPM_ALG_RSASSA or TPM_ALG_RSAPSS
	hash   tpm2.TPMAlgID
}

// signAlgorithms are the COSE algorithms a TPM can make keys for (RFC 9053
// §2.1, RFC 8812 §2): a TPM 2.0 has no Ed25519 and no secp256k1. RSA keys
// are 2048 bits, the size every TPM 2.0 (PC Client profile) makes.
var signAlgorithms = map[int]signAlgorithm{
	keystore.ES256: {keyP256, tpm2.TPMAlgECDSA, tpm2.TPMAlgSHA256},
	keystore.ES384: {keyP384, tpm2.TPMAlgECDSA, tpm2.TPMAlgSHA384},
	keystore.ES512: {keyP521, tpm2.TPMAlgECDSA, tpm2.TPMAlgSHA512},
	keystore.RS256: {keyRSA2048, tpm2.TPMAlgRSASSA, tpm2.TPMAlgSHA256},
	keystore.PS256: {keyRSA2048, tpm2.TPMAlgRSAPSS, tpm2.TPMAlgSHA256},
}

// capabilities is what a TPM reports it can do, as far as the choice of
// credential algorithms goes.
type capabilities struct {
	// algs is TPM_CAP_ALGS: the TPM's algorithm IDs (object types,
	// signature schemes, hashes).
	algs []tpm2.TPMAlgID
	// curves is TPM_CAP_ECC_CURVES.
	curves []tpm2.TPMECCCurve
	// rsa2048: TPM2_TestParms accepts a 2048-bit RSA key (no capability
	// lists RSA key sizes).
	rsa2048 bool
}

// offeredAlgorithms lists the COSE algorithms a TPM with caps can make
// keys for and sign with, in vauth's order of preference
// (keystore.Preferred): the key's object type and curve or size, the
// signature scheme and the hash must all be there.
func offeredAlgorithms(caps capabilities) []int {
	var algs []int
	for _, alg := range keystore.Preferred() {
		s, ok := signAlgorithms[alg]
		if !ok || !slices.Contains(caps.algs, s.scheme) || !slices.Contains(caps.algs, s.hash) {
			continue
		}
		if s.key.isRSA() {
			ok = slices.Contains(caps.algs, tpm2.TPMAlgRSA) && caps.rsa2048
		} else {
			ok = slices.Contains(caps.algs, tpm2.TPMAlgECC) && slices.Contains(caps.curves, s.key.curve)
		}
		if ok {
			algs = append(algs, alg)
		}
	}
	return algs
}

// readCapabilities asks the TPM for its algorithms and curves
// (TPM2_GetCapability, TPM 2.0 Part 3 §30.2, following moreData), and with
// TPM2_TestParms (§10.3) whether it makes 2048-bit RSA credential keys.
func (e *Engine) readCapabilities() (capabilities, error) {
	var caps capabilities
	var err error
	caps.algs, err = readCapability(e, tpm2.TPMCapAlgs, 128, "algorithms", func(d *tpm2.TPMUCapabilities) ([]tpm2.TPMAlgID, error) {
		list, err := d.Algorithms()
		if err != nil {
			return nil, err
		}
		algs := make([]tpm2.TPMAlgID, len(list.AlgProperties))
		for i, a := range list.AlgProperties {
			algs[i] = a.Alg
		}
		return algs, nil
	})
	if err != nil {
		return capabilities{}, err
	}
	caps.curves, err = readCapability(e, tpm2.TPMCapECCCurves, 64, "curves", func(d *tpm2.TPMUCapabilities) ([]tpm2.TPMECCCurve, error) {
		list, err := d.ECCCurves()
		if err != nil {
			return nil, err
		}
		return list.ECCCurves, nil
	})
	if err != nil {
		return capabilities{}, err
	}
	if slices.Contains(caps.algs, tpm2.TPMAlgRSA) {
		// Any refusal (TPM_RC_VALUE, TPM_RC_KEY_SIZE, ...) means no.
		tmpl := credentialKeyTemplate(keyRSA2048, unique{})
		_, err = tpm2.TestParms{Parameters: tpm2.TPMTPublicParms{Type: tmpl.Type, Parameters: tmpl.Parameters}}.Execute(e.tpm)
		caps.rsa2048 = err == nil
	}
	return caps, nil
}

// readCapability reads one TPM2_GetCapability list whole: while the TPM
// says moreData, it asks again from the property after the last one given.
func readCapability[T ~uint16](e *Engine, capability tpm2.TPMCap, count uint32, what string, items func(*tpm2.TPMUCapabilities) ([]T, error)) ([]T, error) {
	var all []T
	for next := uint32(0); ; {
		rsp, err := tpm2.GetCapability{Capability: capability, Property: next, PropertyCount: count}.Execute(e.tpm)
		if err != nil {
			return nil, tpmError(e.tpm, "read the TPM's "+what, err)
		}
		list, err := items(&rsp.CapabilityData.Data)
		if err != nil {
			return nil, fmt.Errorf("tpm: read the TPM's %s: %w", what, err)
		}
		all = append(all, list...)
		if !rsp.MoreData || len(list) == 0 {
			return all, nil
		}
		next = uint32(list[len(list)-1]) + 1
	}
}

// unique is the unique field of a key's public area: the public point of
// an ECC key, as the TPM gave it (it may drop leading zero bytes), or the
// modulus of an RSA key. The zero value is a creation template's.
type unique struct {
	point   tpm2.TPMSECCPoint
	modulus []byte
}

// signingKeyAttributes are the attributes of every signing key vauth makes
// under the storage primary: made by the TPM (sensitiveDataOrigin), never
// leaving it unencrypted (fixedTPM, fixedParent). noDA: the key has an
// empty authValue, so dictionary-attack protection guards nothing, and a
// lockout caused by another program does not stop the authenticator.
func signingKeyAttributes(restricted bool) tpm2.TPMAObject {
	return tpm2.TPMAObject{
		FixedTPM:            true,
		FixedParent:         true,
		SensitiveDataOrigin: true,
		UserWithAuth:        true,
		NoDA:                true,
		Restricted:          restricted,
		SignEncrypt:         true,
	}
}

// keyTemplate is the public area of a key of type k under the storage
// primary, with signingKeyAttributes.
func keyTemplate(k *keyType, restricted bool, scheme, hash tpm2.TPMAlgID, u unique) tpm2.TPMTPublic {
	pub := tpm2.TPMTPublic{NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: signingKeyAttributes(restricted)}
	if k.isRSA() {
		s := tpm2.TPMTRSAScheme{Scheme: tpm2.TPMAlgNull}
		if scheme != tpm2.TPMAlgNull {
			s = tpm2.TPMTRSAScheme{Scheme: scheme, Details: tpm2.NewTPMUAsymScheme(scheme, &tpm2.TPMSSigSchemeRSASSA{HashAlg: hash})}
		}
		pub.Type = tpm2.TPMAlgRSA
		pub.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme:    s,
			KeyBits:   tpm2.TPMKeyBits(k.rsaBits),
			// Exponent 0 is 65537 (TPM 2.0 Part 2 §12.2.3.5).
		})
		pub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: u.modulus})
		return pub
	}
	s := tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgNull}
	if scheme != tpm2.TPMAlgNull {
		s = tpm2.TPMTECCScheme{Scheme: scheme, Details: tpm2.NewTPMUAsymScheme(scheme, &tpm2.TPMSSigSchemeECDSA{HashAlg: hash})}
	}
	pub.Type = tpm2.TPMAlgECC
	pub.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
		Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
		Scheme:    s,
		CurveID:   k.curve,
		KDF:       tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
	})
	pub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &u.point)
	return pub
}

// credentialKeyTemplate is the public area of a credential key: an
// unrestricted signing key whose scheme is TPM_ALG_NULL (Sign names the
// scheme each time, so one RSA key type serves RS256 and PS256), as the
// TPM attestation verifiers of python-fido2 require of the pubArea they
// check.
func credentialKeyTemplate(k *keyType, u unique) tpm2.TPMTPublic {
	return keyTemplate(k, false, tpm2.TPMAlgNull, tpm2.TPMAlgNull, u)
}

// attestationKeyTemplate is the public area of the attestation key: a
// restricted P-256 ECDSA-SHA256 signing key, so it signs only what the TPM
// itself produced (TPMS_ATTEST structures) and never a digest that merely
// looks like one.
func attestationKeyTemplate(_ *keyType, u unique) tpm2.TPMTPublic {
	return keyTemplate(keyP256, true, tpm2.TPMAlgECDSA, tpm2.TPMAlgSHA256, u)
}

// uniqueOf reads the unique field of a public area of type k.
func uniqueOf(k *keyType, pub *tpm2.TPMTPublic) (unique, error) {
	if k.isRSA() {
		n, err := pub.Unique.RSA()
		if err != nil {
			return unique{}, err
		}
		return unique{modulus: n.Buffer}, nil
	}
	p, err := pub.Unique.ECC()
	if err != nil {
		return unique{}, err
	}
	return unique{point: *p}, nil
}

// marshal encodes u as a blob keeps it: a TPMS_ECC_POINT or a
// TPM2B_PUBLIC_KEY_RSA.
func (u unique) marshal(k *keyType) []byte {
	if k.isRSA() {
		return tpm2.Marshal(tpm2.TPM2BPublicKeyRSA{Buffer: u.modulus})
	}
	return tpm2.Marshal(u.point)
}

// parseUnique reads the unique field at the end of a blob of key type k.
func parseUnique(k *keyType, s cryptobyte.String) (unique, bool) {
	if k.isRSA() {
		var n []byte
		ok := s.ReadUint16LengthPrefixed((*cryptobyte.String)(&n)) && s.Empty()
		return unique{modulus: n}, ok
	}
	var x, y []byte
	ok := s.ReadUint16LengthPrefixed((*cryptobyte.String)(&x)) && s.ReadUint16LengthPrefixed((*cryptobyte.String)(&y)) && s.Empty()
	return unique{point: tpm2.TPMSECCPoint{X: tpm2.TPM2BECCParameter{Buffer: x}, Y: tpm2.TPM2BECCParameter{Buffer: y}}}, ok
}

// publicKey converts the unique field of a key of type k to a Go public
// key: an RSA modulus of the key's size, or an ECC point on the key's
// curve (whose coordinates may lack leading zero bytes).
func publicKey(k *keyType, u unique) (crypto.PublicKey, error) {
	if k.isRSA() {
		if len(u.modulus) != k.size || u.modulus[0] == 0 {
			return nil, fmt.Errorf("tpm: credential public key: a modulus of %d bytes, want %d", len(u.modulus), k.size)
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(u.modulus), E: 65537}, nil
	}
	x, y := u.point.X.Buffer, u.point.Y.Buffer
	if len(x) > k.size || len(y) > k.size {
		return nil, errors.New("tpm: credential public key: coordinate too long")
	}
	raw := make([]byte, 1+2*k.size)
	raw[0] = 4 // uncompressed point
	copy(raw[1+k.size-len(x):], x)
	copy(raw[1+2*k.size-len(y):], y)
	pk, err := ecdsa.ParseUncompressedPublicKey(k.ec, raw)
	if err != nil {
		return nil, fmt.Errorf("tpm: credential public key: %w", err)
	}
	return pk, nil
}

// signScheme is the TPM2_Sign scheme of s.
func (s signAlgorithm) signScheme() tpm2.TPMTSigScheme {
	return tpm2.TPMTSigScheme{Scheme: s.scheme, Details: tpm2.NewTPMUSigScheme(s.scheme, &tpm2.TPMSSchemeHash{HashAlg: s.hash})}
}

// encodeSignature converts a TPM signature to WebAuthn's form (§6.5.5):
// ASN.1 DER for ECDSA, the bare signature for RSA.
func encodeSignature(s *tpm2.TPMTSignature) ([]byte, error) {
	switch s.SigAlg {
	case tpm2.TPMAlgRSASSA:
		sig, err := s.Signature.RSASSA()
		if err != nil {
			return nil, err
		}
		return sig.Sig.Buffer, nil
	case tpm2.TPMAlgRSAPSS:
		sig, err := s.Signature.RSAPSS()
		if err != nil {
			return nil, err
		}
		return sig.Sig.Buffer, nil
	}
	return derSignature(s)
}

// blobRSACheck names the store blob that keeps what checkRSA found on the
// store's TPM, one of the rsaCheck results, so that it runs once per store:
// an RSA key generation takes a hardware TPM seconds.
const blobRSACheck = "tpm/rsa-check"

// Results of checkRSA.
const (
	rsaUsable  = 'y' // RS256 and PS256
	rsaNoPSS   = 'p' // RS256 only: PSS signatures have another salt length
	rsaTooLong = 'L' // neither: the key blob is longer than keyRSA2048.maxBlobLen
	// rsaOnePrimeOnly is what checkRSA found, before RSA credentials were
	// kept behind short IDs, on a TPM that keeps RSA keys in CRT form (too
	// long then for a credential ID); a store that kept it checks again.
	rsaOnePrimeOnly = 'n'
)

// checkRSA makes a throwaway RSA credential key and checks two things the
// TPM's capabilities do not tell:
//   - the key blob is no longer than keyRSA2048.maxBlobLen, which bounds
//     what the store reads. swtpm keeps one prime of an RSA key (a
//     483-byte blob), Microsoft's reference TPM (the simulator) its CRT
//     form too (995 bytes); either sits in the store behind a short ID;
//   - a PSS signature's salt is as long as the hash (RFC 8230 §2). TPM 2.0
//     Part 1 lets a TPM use the largest salt the key allows, which
//     verifiers that follow RFC 8230 reject; the simulator and swtpm use
//     the hash length.
func (e *Engine) checkRSA() (result byte, err error) {
	if err := e.lock(); err != nil {
		return 0, err
	}
	defer e.mu.Unlock()
	h, priv, pub, err := e.createLoaded(credentialKeyTemplate(keyRSA2048, unique{}))
	if err != nil {
		return 0, tpmError(e.tpm, "create an RSA key to check", err)
	}
	defer func() { err = errors.Join(err, e.flush(h.Handle, "flush the RSA key checked")) }()
	_, pk, err := keyBlob(keyRSA2048.version, keyRSA2048, credentialKeyTemplate, priv, pub, "RSA key")
	if errors.Is(err, errBlobTooLong) {
		return rsaTooLong, nil
	}
	if err != nil {
		return 0, err
	}
	digest := sha256.Sum256([]byte("vauth: PS256 salt check"))
	sig, err := e.signDigest(h, signAlgorithms[keystore.PS256], digest[:])
	if err != nil {
		return 0, err
	}
	if rsa.VerifyPSS(pk.(*rsa.PublicKey), crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) != nil {
		return rsaNoPSS, nil
	}
	return rsaUsable, nil
}

// applyRSACheck withdraws the RSA algorithms that a checkRSA result rules
// out. MaxBlobLen stays: the store has sized its credential IDs by it, and
// an upper bound is still right.
func (e *Engine) applyRSACheck(result byte) {
	e.algsMu.Lock()
	defer e.algsMu.Unlock()
	e.algs = slices.DeleteFunc(e.algs, func(alg int) bool {
		return alg == keystore.PS256 && result != rsaUsable || alg == keystore.RS256 && result == rsaTooLong
	})
}

// offersRSA reports whether the engine still offers an RSA algorithm.
func (e *Engine) offersRSA() bool {
	return slices.ContainsFunc(e.Algorithms(), func(alg int) bool { return signAlgorithms[alg].key.isRSA() })
}

// signDigest has the loaded key sign digest with s's scheme. e.mu is held.
func (e *Engine) signDigest(key tpm2.NamedHandle, s signAlgorithm, digest []byte) ([]byte, error) {
	rsp, err := tpm2.Sign{
		KeyHandle:  key,
		Digest:     tpm2.TPM2BDigest{Buffer: digest},
		InScheme:   s.signScheme(),
		Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
	}.Execute(e.tpm)
	if err != nil {
		return nil, tpmError(e.tpm, "sign", err)
	}
	sig, err := encodeSignature(&rsp.Signature)
	if err != nil {
		return nil, fmt.Errorf("tpm: sign: %w", err)
	}
	return sig, nil
}
