// Package hybrid implements the hybrid transport (caBLE v2, CTAP 2.2
// §11.5 "Hybrid transports") on both sides: the client platform, which
// shows a QR code, waits for the BLE advert and joins the tunnel, and the
// authenticator, which scans the QR code, advertises and serves CTAP2 over
// the tunnel. Wire facts follow the spec and Chromium's device/fido/cable,
// the reference implementation the phones in the field interoperate with.
package hybrid

import (
	"crypto/ecdh"
	"crypto/elliptic"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/fxamacker/cbor/v2"
)

// Request type hints carried in the QR code.
const (
	RequestGetAssertion   = "ga"
	RequestMakeCredential = "mc"
)

// QRPrefix starts every hybrid QR code's text (case-insensitive on parse).
const QRPrefix = "FIDO:/"

// SecretSize is the size of the QR secret.
const SecretSize = 16

const compressedKeySize = 33

// QR is the content of a hybrid QR code.
type QR struct {
	// Identity is the client platform's P-256 identity public key.
	Identity *ecdh.PublicKey
	// Secret is the QR secret every derived key comes from.
	Secret [SecretSize]byte
	// KnownDomains is how many assigned tunnel server domains the client
	// can resolve.
	KnownDomains int64
	// Timestamp is when the code was made (seconds since the epoch); 0
	// when absent.
	Timestamp int64
	// SupportsLinking is the client's linking capability; nil when absent.
	SupportsLinking *bool
	// RequestType is RequestGetAssertion or RequestMakeCredential; unknown
	// or absent hints read as RequestGetAssertion, as Chromium does.
	RequestType string
}

// qrWire is the CBOR map of a QR payload (CTAP 2.2 §11.5); optional
// members are pointers so that absent values stay absent.
type qrWire struct {
	PublicKey       []byte `cbor:"0,keyasint"`           // compressed P-256 identity key of the client
	Secret          []byte `cbor:"1,keyasint"`           // the 16-byte QR secret
	KnownDomains    *int64 `cbor:"2,keyasint,omitempty"` // assigned tunnel server domains the client knows
	Timestamp       *int64 `cbor:"3,keyasint,omitempty"` // seconds since the epoch
	SupportsLinking *bool  `cbor:"4,keyasint,omitempty"` // the client can store linking data
	RequestType     string `cbor:"5,keyasint,omitempty"` // "ga" or "mc": a hint for the UI
}

var (
	encMode, _ = cbor.CTAP2EncOptions().EncMode()
	// decMode rejects duplicate keys and deep nesting: everything it reads
	// comes from a QR code or the network.
	decMode, _ = cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  8,
		MaxArrayElements: 1024,
		MaxMapPairs:      64,
	}.DecMode()
)

// ErrQR reports a QR code that is not a well-formed hybrid QR code.
var ErrQR = errors.New("hybrid: not a valid FIDO:/ QR code")

// String encodes q as the text of the QR code: the prefix and the digit
// encoding of the CBOR payload.
func (q *QR) String() string {
	w := qrWire{
		PublicKey:       compressKey(q.Identity),
		Secret:          q.Secret[:],
		KnownDomains:    &q.KnownDomains,
		SupportsLinking: q.SupportsLinking,
		RequestType:     q.RequestType,
	}
	if q.Timestamp != 0 {
		w.Timestamp = &q.Timestamp
	}
	b, err := encMode.Marshal(w)
	if err != nil {
		panic(err) // a fixed struct of byte strings and integers always encodes
	}
	return QRPrefix + BytesToDigits(b)
}

// ParseQR reads the text of a hybrid QR code.
func ParseQR(s string) (*QR, error) {
	if len(s) < len(QRPrefix) || !strings.EqualFold(s[:len(QRPrefix)], QRPrefix) {
		return nil, fmt.Errorf("%w: no %s prefix", ErrQR, QRPrefix)
	}
	b, err := DigitsToBytes(s[len(QRPrefix):])
	if err != nil {
		return nil, err
	}
	var w qrWire
	if err := decMode.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrQR, err)
	}
	if len(w.Secret) != SecretSize {
		return nil, fmt.Errorf("%w: secret is %d bytes, not %d", ErrQR, len(w.Secret), SecretSize)
	}
	pub, err := decompressKey(w.PublicKey)
	if err != nil {
		return nil, err
	}
	q := &QR{Identity: pub, SupportsLinking: w.SupportsLinking, RequestType: RequestGetAssertion}
	copy(q.Secret[:], w.Secret)
	if w.KnownDomains != nil {
		q.KnownDomains = *w.KnownDomains
	}
	if w.Timestamp != nil {
		q.Timestamp = *w.Timestamp
	}
	if w.RequestType == RequestMakeCredential {
		q.RequestType = RequestMakeCredential
	}
	return q, nil
}

// compressKey writes an X9.62 compressed point: the parity of y, then x.
func compressKey(pub *ecdh.PublicKey) []byte {
	u := pub.Bytes() // 0x04 || x || y
	out := make([]byte, compressedKeySize)
	out[0] = 2 | u[64]&1
	copy(out[1:], u[1:33])
	return out
}

// decompressKey reads an X9.62 compressed P-256 point.
func decompressKey(b []byte) (*ecdh.PublicKey, error) {
	if len(b) != compressedKeySize {
		return nil, fmt.Errorf("%w: identity key is %d bytes, not %d", ErrQR, len(b), compressedKeySize)
	}
	x, y := elliptic.UnmarshalCompressed(elliptic.P256(), b)
	if x == nil {
		return nil, fmt.Errorf("%w: identity key is not a P-256 point", ErrQR)
	}
	pub, err := ecdh.P256().NewPublicKey(uncompressed(x, y))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrQR, err)
	}
	return pub, nil
}

func uncompressed(x, y *big.Int) []byte {
	out := make([]byte, 65)
	out[0] = 4
	x.FillBytes(out[1:33])
	y.FillBytes(out[33:])
	return out
}

// Digit encoding (CTAP 2.2 §11.5): each 7-byte chunk, read as a
// little-endian integer, is written as 17 decimal digits; a final partial
// chunk of n bytes takes partialDigits[n] digits.
const (
	chunkBytes  = 7
	chunkDigits = 17
)

var partialDigits = [chunkBytes]int{0, 3, 5, 8, 10, 13, 15}

// BytesToDigits encodes b in the QR code's digit form.
func BytesToDigits(b []byte) string {
	var sb strings.Builder
	for len(b) > 0 {
		n := min(len(b), chunkBytes)
		var v uint64
		for i := n - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		width := chunkDigits
		if n < chunkBytes {
			width = partialDigits[n]
		}
		s := strconv.FormatUint(v, 10)
		sb.WriteString(strings.Repeat("0", width-len(s)))
		sb.WriteString(s)
		b = b[n:]
	}
	return sb.String()
}

// DigitsToBytes decodes the QR code's digit form.
func DigitsToBytes(s string) ([]byte, error) {
	out := make([]byte, 0, (len(s)+chunkDigits-1)/chunkDigits*chunkBytes)
	for len(s) > 0 {
		width := min(len(s), chunkDigits)
		n := chunkBytes
		if width < chunkDigits {
			n = -1
			for i, d := range partialDigits {
				if d == width && i > 0 {
					n = i
				}
			}
			if n < 0 {
				return nil, fmt.Errorf("%w: %d trailing digits encode no whole number of bytes", ErrQR, width)
			}
		}
		chunk := s[:width]
		for i := 0; i < len(chunk); i++ {
			if chunk[i] < '0' || chunk[i] > '9' {
				return nil, fmt.Errorf("%w: non-digit %q", ErrQR, chunk[i])
			}
		}
		v, err := strconv.ParseUint(chunk, 10, 64)
		if err != nil || v>>(8*n) != 0 {
			return nil, fmt.Errorf("%w: digits %s exceed %d bytes", ErrQR, chunk, n)
		}
		for i := 0; i < n; i++ {
			out = append(out, byte(v>>(8*i)))
		}
		s = s[width:]
	}
	return out, nil
}
