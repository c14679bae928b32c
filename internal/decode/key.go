package decode

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/vauth/vauth/internal/cose"
)

// COSE key parameters (RFC 9052 §7.1, RFC 9053 §7, RFC 8230 §4) and key
// types.
const (
	coseKty = 1
	coseAlg = 3
	coseCrv = -1 // EC2, OKP; n for RSA
	coseX   = -2 // EC2, OKP; e for RSA
	coseY   = -3
	coseN   = -1
	coseE   = -2

	ktyOKP = 1
	ktyEC2 = 2
	ktyRSA = 3

	crvP256      = 1
	crvP384      = 2
	crvP521      = 3
	crvEd25519   = 6
	crvSecp256k1 = 8 // RFC 8812 §3.1
)

// COSE algorithm identifiers (IANA COSE Algorithms registry) that WebAuthn
// credentials and attestation statements use.
const (
	AlgES256  = -7
	AlgEdDSA  = -8
	AlgES384  = -35
	AlgES512  = -36
	AlgPS256  = -37
	AlgES256K = -47 // RFC 8812 §3.2
	AlgRS256  = -257
	AlgRS384  = -258
	AlgRS512  = -259
	AlgRS1    = -65535
)

// AlgorithmName names a COSE algorithm as people know it ("ES256"), or
// gives its number.
func AlgorithmName(alg int) string {
	switch alg {
	case AlgES256:
		return "ES256"
	case AlgEdDSA:
		return "EdDSA"
	case AlgES384:
		return "ES384"
	case AlgES512:
		return "ES512"
	case AlgPS256:
		return "PS256"
	case AlgES256K:
		return "ES256K"
	case AlgRS256:
		return "RS256"
	case AlgRS384:
		return "RS384"
	case AlgRS512:
		return "RS512"
	case AlgRS1:
		return "RS1"
	}
	return fmt.Sprintf("COSE algorithm %d", alg)
}

// Key is a credential public key in the forms people and tools use.
type Key struct {
	Algorithm     int    `json:"alg"`
	AlgorithmName string `json:"algName"`
	// Description says what the key is, e.g. "ECDSA P-256".
	Description string `json:"description"`
	// COSE is the COSE_Key, as the authenticator data carries it.
	COSE Bytes `json:"cose"`
	// JWK is the key as a JSON Web Key (RFC 7517).
	JWK map[string]string `json:"jwk"`
	// PEM is the SubjectPublicKeyInfo, PEM-encoded (what
	// getPublicKey() gives, base64-decoded, and what OpenSSL reads).
	PEM string `json:"pem"`
	// SSH is the OpenSSH public key line of a security-key key (an RP ID
	// starting with "ssh:"); empty otherwise.
	SSH string `json:"ssh,omitempty"`

	pub crypto.PublicKey
}

// PublicKey returns the key for crypto/... functions.
func (k *Key) PublicKey() crypto.PublicKey { return k.pub }

// ParseCOSEKey reads a COSE_Key: EC2 (P-256, P-384, P-521, secp256k1), OKP (Ed25519)
// or RSA.
func ParseCOSEKey(data []byte) (*Key, error) {
	var m map[int]any
	if err := decMode.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("COSE key: %w", err)
	}
	k, err := keyFromMap(m)
	if err != nil {
		return nil, err
	}
	k.COSE = append(Bytes(nil), data...)
	return k, k.fill()
}

// keyFromMap makes a key from the COSE_Key's parameters.
func keyFromMap(m map[int]any) (*Key, error) {
	kty, ok1 := m[coseKty].(uint64)
	alg, ok2 := intValue(m[coseAlg])
	if !ok1 {
		return nil, errors.New("COSE key: kty missing or not an integer")
	}
	if !ok2 && m[coseAlg] != nil {
		return nil, errors.New("COSE key: alg is not an integer")
	}
	bytesOf := func(label int) []byte { b, _ := m[label].([]byte); return b }
	k := &Key{Algorithm: alg}
	switch kty {
	case ktyEC2:
		crv, _ := m[coseCrv].(uint64)
		var curve elliptic.Curve
		switch crv {
		case crvP256:
			curve = elliptic.P256()
		case crvP384:
			curve = elliptic.P384()
		case crvP521:
			curve = elliptic.P521()
		case crvSecp256k1:
			pub, err := (&cose.Key{Kty: cose.KtyEC2, Crv: cose.CrvSecp256k1, X: bytesOf(coseX), Y: bytesOf(coseY)}).PublicKey()
			if err != nil {
				return nil, fmt.Errorf("COSE key: %w", err)
			}
			k.pub = pub
			return k, nil
		default:
			return nil, fmt.Errorf("COSE key: EC2 curve %v is not supported", m[coseCrv])
		}
		size := (curve.Params().BitSize + 7) / 8
		x, y := bytesOf(coseX), bytesOf(coseY)
		if len(x) != size || len(y) != size {
			return nil, fmt.Errorf("COSE key: %s coordinates must be %d bytes", curve.Params().Name, size)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, fmt.Errorf("COSE key: %w", err)
		}
		k.pub = pub
	case ktyOKP:
		crv, _ := m[coseCrv].(uint64)
		x := bytesOf(coseX)
		if crv != crvEd25519 {
			return nil, fmt.Errorf("COSE key: OKP curve %v is not supported", m[coseCrv])
		}
		if len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("COSE key: Ed25519 key of %d bytes", len(x))
		}
		k.pub = ed25519.PublicKey(x)
	case ktyRSA:
		n, e := bytesOf(coseN), bytesOf(coseE)
		if len(n) == 0 || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("COSE key: RSA key needs n and e (at most 4 bytes)")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < 1024 || pub.N.BitLen() > 8192 {
			return nil, fmt.Errorf("COSE key: RSA modulus of %d bits", pub.N.BitLen())
		}
		k.pub = pub
	default:
		return nil, fmt.Errorf("COSE key: key type %d is not supported", kty)
	}
	return k, nil
}

// KeyFromPublic describes pub (*ecdsa.PublicKey, *secp256k1.PublicKey, ed25519.PublicKey or
// *rsa.PublicKey) with COSE algorithm alg (0: the usual one for the key).
func KeyFromPublic(pub crypto.PublicKey, alg int) (*Key, error) {
	k := &Key{Algorithm: alg, pub: pub}
	m := map[int]any{}
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		crv, usual := map[string]int{"P-256": crvP256, "P-384": crvP384, "P-521": crvP521}[p.Curve.Params().Name],
			map[string]int{"P-256": AlgES256, "P-384": AlgES384, "P-521": AlgES512}[p.Curve.Params().Name]
		if crv == 0 {
			return nil, fmt.Errorf("public key on curve %s is not supported", p.Curve.Params().Name)
		}
		raw, err := p.Bytes()
		if err != nil {
			return nil, err
		}
		size := (len(raw) - 1) / 2
		m[coseKty], m[coseCrv], m[coseX], m[coseY] = ktyEC2, crv, raw[1:1+size], raw[1+size:]
		k.Algorithm = cmpOr(alg, usual)
	case *secp256k1.PublicKey:
		raw := p.SerializeUncompressed()
		m[coseKty], m[coseCrv], m[coseX], m[coseY] = ktyEC2, crvSecp256k1, raw[1:33], raw[33:]
		k.Algorithm = cmpOr(alg, AlgES256K)
	case ed25519.PublicKey:
		m[coseKty], m[coseCrv], m[coseX] = ktyOKP, crvEd25519, []byte(p)
		k.Algorithm = cmpOr(alg, AlgEdDSA)
	case *rsa.PublicKey:
		m[coseKty], m[coseN], m[coseE] = ktyRSA, p.N.Bytes(), big.NewInt(int64(p.E)).Bytes()
		k.Algorithm = cmpOr(alg, AlgRS256)
	default:
		return nil, fmt.Errorf("public key of type %T is not supported", pub)
	}
	m[coseAlg] = k.Algorithm
	cose, err := encMode.Marshal(m)
	if err != nil {
		return nil, err
	}
	k.COSE = cose
	return k, k.fill()
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// fill derives the description, JWK and PEM from k.pub.
func (k *Key) fill() error {
	k.AlgorithmName = AlgorithmName(k.Algorithm)
	b64 := base64.RawURLEncoding.EncodeToString
	switch p := k.pub.(type) {
	case *ecdsa.PublicKey:
		name := p.Curve.Params().Name
		raw, err := p.Bytes()
		if err != nil {
			return err
		}
		size := (len(raw) - 1) / 2
		k.Description = "ECDSA " + name
		k.JWK = map[string]string{"kty": "EC", "crv": name, "x": b64(raw[1 : 1+size]), "y": b64(raw[1+size:])}
	case *secp256k1.PublicKey:
		raw := p.SerializeUncompressed()
		k.Description = "ECDSA secp256k1"
		k.JWK = map[string]string{"kty": "EC", "crv": "secp256k1", "x": b64(raw[1:33]), "y": b64(raw[33:])} // RFC 8812 §3.1
	case ed25519.PublicKey:
		k.Description = "Ed25519"
		k.JWK = map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64(p)}
	case *rsa.PublicKey:
		k.Description = fmt.Sprintf("RSA %d bits", p.N.BitLen())
		k.JWK = map[string]string{"kty": "RSA", "n": b64(p.N.Bytes()), "e": b64(big.NewInt(int64(p.E)).Bytes())}
	}
	if k.Algorithm != 0 {
		if name := jwkAlg(k.Algorithm); name != "" {
			k.JWK["alg"] = name
		}
	}
	der, err := cose.MarshalPKIX(k.pub) // crypto/x509's, and secp256k1
	if err != nil {
		return err
	}
	k.PEM = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	return nil
}

// jwkAlg is the JOSE name of a COSE algorithm (RFC 7518, RFC 8037).
func jwkAlg(alg int) string {
	switch alg {
	case AlgES256, AlgES384, AlgES512, AlgES256K, AlgPS256, AlgRS256, AlgRS384, AlgRS512, AlgEdDSA:
		return AlgorithmName(alg)
	}
	return ""
}

// JWKJSON is k.JWK as one line of JSON with sorted members.
func (k *Key) JWKJSON() string {
	b, _ := json.Marshal(k.JWK) // map[string]string always marshals
	return string(b)
}

// OpenSSH security-key public key types (PROTOCOL.u2f in OpenSSH).
const (
	sshSKECDSA   = "sk-ecdsa-sha2-nistp256@openssh.com"
	sshSKEd25519 = "sk-ssh-ed25519@openssh.com"
)

// SetSSH fills k.SSH with the OpenSSH public key line of a security-key
// key, when application (the RP ID) starts with "ssh:" and the key is
// ECDSA P-256 or Ed25519, as `ssh-keygen -t ecdsa-sk|ed25519-sk` makes
// them; comment ends the line.
func (k *Key) SetSSH(application, comment string) {
	if !strings.HasPrefix(application, "ssh:") {
		return
	}
	var kind string
	var blob []byte
	switch p := k.pub.(type) {
	case *ecdsa.PublicKey:
		raw, err := p.Bytes()
		if p.Curve != elliptic.P256() || err != nil {
			return
		}
		kind = sshSKECDSA
		blob = sshString(sshString(sshString(sshString(nil, kind), "nistp256"), string(raw)), application)
	case ed25519.PublicKey:
		kind = sshSKEd25519
		blob = sshString(sshString(sshString(nil, kind), string(p)), application)
	default:
		return
	}
	k.SSH = kind + " " + base64.StdEncoding.EncodeToString(blob)
	if comment != "" {
		k.SSH += " " + comment
	}
}

// sshString appends s as an SSH wire-format string (RFC 4251 §5).
func sshString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}
