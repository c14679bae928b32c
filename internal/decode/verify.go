package decode

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"slices"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/vauth/vauth/internal/cose"
)

// verifyAssertion checks an assertion signature over authenticatorData ||
// clientDataHash (WebAuthn §7.2 step 20) with the registered public key.
func verifyAssertion(key *Key, authData, clientDataHash, sig []byte) Result {
	if key == nil {
		return Result{Detail: "not checked: it needs the credential public key"}
	}
	msg := append(slices.Clone(authData), clientDataHash...)
	if err := verifySignature(key, msg, sig); err != nil {
		return Result{Checked: true, Detail: err.Error()}
	}
	return Result{Checked: true, OK: true}
}

// verifySignature checks sig over msg with key, by the key's COSE
// algorithm (or, when it has none, the usual one for the key type).
func verifySignature(key *Key, msg, sig []byte) error {
	switch pub := key.pub.(type) {
	case *secp256k1.PublicKey:
		if key.Algorithm != AlgES256K && key.Algorithm != 0 {
			return fmt.Errorf("secp256k1 key with %s", AlgorithmName(key.Algorithm))
		}
		if cose.Verify(AlgES256K, pub, msg, sig) != nil {
			return errors.New("ECDSA signature does not verify")
		}
	case *ecdsa.PublicKey:
		h, err := ecdsaHash(key.Algorithm, pub.Curve)
		if err != nil {
			return err
		}
		h.Write(msg)
		if !ecdsa.VerifyASN1(pub, h.Sum(nil), sig) {
			return errors.New("ECDSA signature does not verify")
		}
	case ed25519.PublicKey:
		if !ed25519.Verify(pub, msg, sig) {
			return errors.New("Ed25519 signature does not verify")
		}
	case *rsa.PublicKey:
		var h crypto.Hash
		switch key.Algorithm {
		case AlgRS256, AlgPS256, 0:
			h = crypto.SHA256
		case AlgRS384:
			h = crypto.SHA384
		case AlgRS512:
			h = crypto.SHA512
		case AlgRS1:
			h = crypto.SHA1
		default:
			return fmt.Errorf("RSA key with %s", AlgorithmName(key.Algorithm))
		}
		d := h.New()
		d.Write(msg)
		var err error
		if key.Algorithm == AlgPS256 {
			err = rsa.VerifyPSS(pub, h, d.Sum(nil), sig, nil)
		} else {
			err = rsa.VerifyPKCS1v15(pub, h, d.Sum(nil), sig)
		}
		if err != nil {
			return errors.New("RSA signature does not verify")
		}
	default:
		return fmt.Errorf("cannot verify with a key of type %T", key.pub)
	}
	return nil
}

// ecdsaHash is the hash of an ECDSA COSE algorithm, or of the curve when
// the key names no algorithm.
func ecdsaHash(alg int, curve elliptic.Curve) (hash.Hash, error) {
	switch {
	case alg == AlgES256 || (alg == 0 && curve == elliptic.P256()):
		return sha256.New(), nil
	case alg == AlgES384 || (alg == 0 && curve == elliptic.P384()):
		return sha512.New384(), nil
	case alg == AlgES512 || (alg == 0 && curve == elliptic.P521()):
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("ECDSA key with %s", AlgorithmName(alg))
}

// parsePKIX reads a DER SubjectPublicKeyInfo.
func parsePKIX(der []byte) (*Key, error) {
	pub, err := cose.ParsePKIX(der) // crypto/x509's, and secp256k1
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	return KeyFromPublic(pub, 0)
}

// parseJWK reads a JSON Web Key of the types credentials use.
func parseJWK(data []byte) (*Key, error) {
	var members map[string]any
	if err := json.Unmarshal(data, &members); err != nil {
		return nil, fmt.Errorf("JWK: %w", err)
	}
	j := map[string]string{}
	for k, v := range members {
		if s, ok := v.(string); ok {
			j[k] = s
		}
	}
	field := func(name string) ([]byte, error) {
		b, err := base64.RawURLEncoding.DecodeString(j[name])
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("JWK: bad or missing %q", name)
		}
		return b, nil
	}
	alg := 0
	for _, a := range []int{AlgES256, AlgES384, AlgES512, AlgES256K, AlgEdDSA, AlgRS256, AlgRS384, AlgRS512, AlgPS256} {
		if j["alg"] != "" && j["alg"] == AlgorithmName(a) {
			alg = a
		}
	}
	var pub crypto.PublicKey
	switch j["kty"] {
	case "EC":
		curve := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}[j["crv"]]
		if curve == nil && j["crv"] != "secp256k1" {
			return nil, fmt.Errorf("JWK: curve %q is not supported", j["crv"])
		}
		x, err := field("x")
		if err != nil {
			return nil, err
		}
		y, err := field("y")
		if err != nil {
			return nil, err
		}
		if curve == nil { // secp256k1, which crypto/ecdsa does not have
			if pub, err = (&cose.Key{Kty: cose.KtyEC2, Crv: cose.CrvSecp256k1, X: x, Y: y}).PublicKey(); err != nil {
				return nil, fmt.Errorf("JWK: %w", err)
			}
			break
		}
		size := (curve.Params().BitSize + 7) / 8
		if len(x) != size || len(y) != size {
			return nil, fmt.Errorf("JWK: %s coordinates must be %d bytes", j["crv"], size)
		}
		if pub, err = ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...)); err != nil {
			return nil, fmt.Errorf("JWK: %w", err)
		}
	case "OKP":
		x, err := field("x")
		if err != nil {
			return nil, err
		}
		if j["crv"] != "Ed25519" || len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("JWK: OKP key on %q of %d bytes; want Ed25519", j["crv"], len(x))
		}
		pub = ed25519.PublicKey(x)
	case "RSA":
		n, err := field("n")
		if err != nil {
			return nil, err
		}
		e, err := field("e")
		if err != nil {
			return nil, err
		}
		if len(e) > 4 || len(n) > 1024 {
			return nil, errors.New("JWK: RSA key too large")
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	default:
		return nil, fmt.Errorf("JWK: key type %q is not supported", j["kty"])
	}
	return KeyFromPublic(pub, alg)
}
