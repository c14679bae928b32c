package client

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"crypto/rand"
	"io"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// TestLargeBlobEntries: an entry sealLargeBlob makes is raw DEFLATE
// (RFC 1951) under AES-256-GCM with "blob" || uint64LE(origSize) as
// associated data; findLargeBlob finds it with its key only, and also
// reads the zlib (RFC 1950) entries that python-fido2 0.9 writes; entries
// of other shapes are skipped.
func TestLargeBlobEntries(t *testing.T) {
	key, other := make([]byte, 32), make([]byte, 32)
	rand.Read(key)
	rand.Read(other)
	aead, err := largeBlobAEAD(key)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("per-credential blob "), 20)
	raw, err := sealLargeBlob(aead, data)
	if err != nil {
		t.Fatal(err)
	}
	var e largeBlobEntry
	if err := decMode.Unmarshal(raw, &e); err != nil || len(e.Nonce) != largeBlobNonceLength || e.OrigSize != uint64(len(data)) {
		t.Fatalf("entry %+v, %v", e, err)
	}
	compressed, err := aead.Open(nil, e.Nonce, e.Ciphertext, largeBlobAD(e.OrigSize))
	if err != nil {
		t.Fatalf("the entry does not open with AD blob||origSize: %v", err)
	}
	if inflated, err := io.ReadAll(flate.NewReader(bytes.NewReader(compressed))); err != nil || !bytes.Equal(inflated, data) {
		t.Fatalf("the entry is not raw DEFLATE of the data: %v", err)
	}

	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write([]byte("written by python-fido2"))
	w.Close()
	zlibEntry := largeBlobEntry{Nonce: make([]byte, 12), OrigSize: uint64(len("written by python-fido2"))}
	zlibEntry.Ciphertext = aead.Seal(nil, zlibEntry.Nonce, z.Bytes(), largeBlobAD(zlibEntry.OrigSize))
	zlibRaw, err := encMode.Marshal(&zlibEntry)
	if err != nil {
		t.Fatal(err)
	}
	wrongSize := zlibEntry
	wrongSize.OrigSize++
	wrongSize.Ciphertext = aead.Seal(nil, wrongSize.Nonce, z.Bytes(), largeBlobAD(wrongSize.OrigSize))
	wrongSizeRaw, _ := encMode.Marshal(&wrongSize)
	foreign := cbor.RawMessage{0x63, 'a', 'b', 'c'} // not an entry map

	for _, tc := range []struct {
		name    string
		key     []byte
		entries []cbor.RawMessage
		index   int
		want    []byte
	}{
		{"own entry", key, []cbor.RawMessage{foreign, raw}, 1, data},
		{"another key", other, []cbor.RawMessage{raw, zlibRaw}, -1, nil},
		{"zlib entry", key, []cbor.RawMessage{zlibRaw}, 0, []byte("written by python-fido2")},
		{"origSize that does not match", key, []cbor.RawMessage{wrongSizeRaw}, -1, nil},
		{"none", key, nil, -1, nil},
	} {
		a, err := largeBlobAEAD(tc.key)
		if err != nil {
			t.Fatal(err)
		}
		i, got := findLargeBlob(a, tc.entries)
		if i != tc.index || !bytes.Equal(got, tc.want) {
			t.Errorf("%s: findLargeBlob = %d, %q; want %d, %q", tc.name, i, got, tc.index, tc.want)
		}
	}
	if _, err := largeBlobAEAD(key[:16]); err == nil {
		t.Error("a 16-byte largeBlobKey was accepted")
	}
}

// TestParseAuthData: attested credential data and extension outputs are
// found, and truncated or trailing data is an error.
func TestParseAuthData(t *testing.T) {
	head := append(bytes.Repeat([]byte{0x11}, 32), FlagUP|FlagAT|FlagED, 0, 0, 0, 9)
	attested := append(bytes.Repeat([]byte{0xaa}, 16), 0, 2, 0xc1, 0xc2)
	key, _ := encMode.Marshal(map[int]any{1: 2, 3: -7})
	ext, _ := encMode.Marshal(map[string]any{"credProtect": 2})
	full := append(append(append(bytes.Clone(head), attested...), key...), ext...)
	d, err := ParseAuthData(full)
	if err != nil {
		t.Fatal(err)
	}
	var level int
	if ok, err := d.Extension("credProtect", &level); !ok || err != nil || level != 2 {
		t.Errorf("credProtect %d, %v, %v", level, ok, err)
	}
	if d.SignCount != 9 || !bytes.Equal(d.CredentialID, []byte{0xc1, 0xc2}) || !bytes.Equal(d.PublicKey, key) || d.AAGUID[0] != 0xaa {
		t.Errorf("parsed %+v", d)
	}
	if ok, _ := d.Extension("hmac-secret", &level); ok {
		t.Error("an absent extension was found")
	}
	for name, raw := range map[string][]byte{
		"short":            full[:36],
		"truncated AAGUID": full[:40],
		"truncated ID":     full[:37+16+3],
		"no extension map": full[:len(full)-len(ext)],
		"trailing byte":    append(bytes.Clone(full), 0),
	} {
		if _, err := ParseAuthData(raw); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}
