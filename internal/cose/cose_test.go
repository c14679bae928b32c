package cose

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
)

// The CTAP2 canonical order of the labels 1, 3, -1, -2, -3 is exactly that
// order, and clients (libfido2) reject keys in any other.
func TestCanonicalEncoding(t *testing.T) {
	x := bytes.Repeat([]byte{0x11}, 32)
	y := bytes.Repeat([]byte{0x22}, 32)
	b, err := (&Key{Kty: KtyEC2, Alg: AlgES256, Crv: CrvP256, X: x, Y: y}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := "a5" + "0102" + "0326" + "2001" + "215820" + hex.EncodeToString(x) + "225820" + hex.EncodeToString(y)
	if got := hex.EncodeToString(b); got != want {
		t.Errorf("encoding\n got %s\nwant %s", got, want)
	}
}

func TestParseRejects(t *testing.T) {
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good, err := FromPublicKey(priv.PublicKey(), AlgECDHESHKDF256)
	if err != nil {
		t.Fatal(err)
	}
	offCurve := *good
	offCurve.Y = append([]byte(nil), good.Y...)
	offCurve.Y[31] ^= 1
	for _, tc := range []struct {
		name string
		key  *Key
		raw  []byte
	}{
		{name: "not CBOR", raw: []byte{0xff}},
		{name: "not a map", raw: []byte{0x01}},
		{name: "point off the curve", key: &offCurve},
		{name: "short X", key: &Key{Kty: KtyEC2, Crv: CrvP256, X: good.X[:31], Y: good.Y}},
		{name: "missing Y", key: &Key{Kty: KtyEC2, Crv: CrvP256, X: good.X}},
		{name: "unknown curve", key: &Key{Kty: KtyEC2, Crv: 2, X: good.X, Y: good.Y}},
		{name: "short Ed25519", key: &Key{Kty: KtyOKP, Crv: CrvEd25519, X: good.X[:16]}},
		{name: "OKP on P-256", key: &Key{Kty: KtyOKP, Crv: CrvP256, X: good.X}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.raw
			if tc.key != nil {
				var err error
				if raw, err = tc.key.Marshal(); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := Parse(raw); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("Parse = %v, want ErrInvalidKey", err)
			}
		})
	}
}

func TestECDH(t *testing.T) {
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := FromPublicKey(priv.PublicKey(), AlgECDHESHKDF256)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := k.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(priv.PublicKey()) {
		t.Error("ECDH key differs")
	}
	if _, err := (&Key{Kty: KtyOKP, Crv: CrvEd25519, X: make([]byte, 32)}).ECDH(); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("ECDH of an OKP key = %v, want ErrInvalidKey", err)
	}
}
