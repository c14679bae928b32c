package client

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/fxamacker/cbor/v2"

	"github.com/vauth/vauth/ctap2"
)

// largeBlobsRequest holds authenticatorLargeBlobs's parameters (CTAP 2.1
// §6.10).
type largeBlobsRequest struct {
	Get               *int   `cbor:"1,keyasint,omitempty"`
	Set               []byte `cbor:"2,keyasint,omitempty"`
	Offset            int    `cbor:"3,keyasint"`
	Length            *int   `cbor:"4,keyasint,omitempty"`
	PinUvAuthParam    []byte `cbor:"5,keyasint,omitempty"`
	PinUvAuthProtocol int    `cbor:"6,keyasint,omitempty"`
}

// largeBlobsResponse is the answer to a read.
type largeBlobsResponse struct {
	Config []byte `cbor:"1,keyasint"`
}

// Sizes of the large-blob array and its entries.
const (
	largeBlobArrayHashLength  = 16
	largeBlobFragmentOverhead = 64
	largeBlobNonceLength      = 12
	// LargeBlobKeyLength is the length of a largeBlobKey.
	LargeBlobKeyLength = 32
)

// ErrLargeBlobArrayCorrupt: the stored large-blob array does not end with
// the hash of its contents. Platforms treat it as empty.
var ErrLargeBlobArrayCorrupt = errors.New("ctap2 client: the large-blob array fails its hash check")

// maxFragmentLength is how much one request reads or writes: maxMsgSize
// less 64 bytes.
func (c *Client) maxFragmentLength(ctx context.Context) (int, error) {
	inf, err := c.GetInfo(ctx)
	if err != nil {
		return 0, err
	}
	if !inf.Options["largeBlobs"] {
		return 0, errors.New("ctap2 client: the authenticator has no large-blob storage (getInfo option largeBlobs)")
	}
	if inf.MaxMsgSize <= largeBlobFragmentOverhead {
		return 0, fmt.Errorf("ctap2 client: maxMsgSize %d leaves no room for a fragment", inf.MaxMsgSize)
	}
	return inf.MaxMsgSize - largeBlobFragmentOverhead, nil
}

// ReadLargeBlobArray reads the serialized large-blob array fragment by
// fragment and returns its entries, each still encoded. An array whose hash
// does not match is ErrLargeBlobArrayCorrupt.
func (c *Client) ReadLargeBlobArray(ctx context.Context) ([]cbor.RawMessage, error) {
	n, err := c.maxFragmentLength(ctx)
	if err != nil {
		return nil, err
	}
	var serialized []byte
	for {
		var resp largeBlobsResponse
		if err := c.Call(ctx, ctap2.CmdLargeBlobs, &largeBlobsRequest{Get: &n, Offset: len(serialized)}, &resp); err != nil {
			return nil, err
		}
		serialized = append(serialized, resp.Config...)
		if len(resp.Config) < n {
			break
		}
	}
	if len(serialized) < largeBlobArrayHashLength {
		return nil, ErrLargeBlobArrayCorrupt
	}
	data := serialized[:len(serialized)-largeBlobArrayHashLength]
	if sum := sha256.Sum256(data); !bytes.Equal(sum[:largeBlobArrayHashLength], serialized[len(data):]) {
		return nil, ErrLargeBlobArrayCorrupt
	}
	var entries []cbor.RawMessage
	if err := decMode.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("ctap2 client: the large-blob array is not a CBOR array: %w", err)
	}
	return entries, nil
}

// WriteLargeBlobArray replaces the large-blob array with entries, in
// fragments. token, with the lbw permission, authenticates each fragment;
// it may be nil for an authenticator without PIN or built-in user
// verification.
func (c *Client) WriteLargeBlobArray(ctx context.Context, entries []cbor.RawMessage, token *Token) error {
	n, err := c.maxFragmentLength(ctx)
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []cbor.RawMessage{}
	}
	data, err := encMode.Marshal(entries)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	serialized := append(data, sum[:largeBlobArrayHashLength]...)
	for offset := 0; offset < len(serialized); offset += n {
		fragment := serialized[offset:min(offset+n, len(serialized))]
		req := largeBlobsRequest{Set: fragment, Offset: offset}
		if offset == 0 {
			total := len(serialized)
			req.Length = &total
		}
		if token != nil {
			digest := sha256.Sum256(fragment)
			message := append(bytes.Repeat([]byte{0xff}, 32), ctap2.CmdLargeBlobs, 0x00)
			message = binary.LittleEndian.AppendUint32(message, uint32(offset))
			req.PinUvAuthParam = token.Param(append(message, digest[:]...))
			req.PinUvAuthProtocol = token.ProtocolVersion()
		}
		if err := c.Call(ctx, ctap2.CmdLargeBlobs, &req, nil); err != nil {
			return err
		}
	}
	return nil
}

// largeBlobEntry is an entry of the large-blob array that holds one
// credential's blob (CTAP 2.1 §6.10.3): the DEFLATE-compressed data
// encrypted with AES-256-GCM under the credential's largeBlobKey, with
// "blob" || uint64LE(origSize) as associated data.
type largeBlobEntry struct {
	Ciphertext []byte `cbor:"1,keyasint"` // with the 16-byte tag
	Nonce      []byte `cbor:"2,keyasint"`
	OrigSize   uint64 `cbor:"3,keyasint"`
}

// largeBlobAD is an entry's associated data.
func largeBlobAD(origSize uint64) []byte {
	return binary.LittleEndian.AppendUint64([]byte("blob"), origSize)
}

func largeBlobAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != LargeBlobKeyLength {
		return nil, fmt.Errorf("ctap2 client: largeBlobKey of %d bytes", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// open decrypts and decompresses an entry with key; ok is false when the
// entry is not one of key's.
func (e *largeBlobEntry) open(aead cipher.AEAD) (data []byte, ok bool) {
	if len(e.Nonce) != aead.NonceSize() {
		return nil, false
	}
	compressed, err := aead.Open(nil, e.Nonce, e.Ciphertext, largeBlobAD(e.OrigSize))
	if err != nil {
		return nil, false
	}
	// CTAP 2.1 says DEFLATE (RFC 1951); some platforms wrote zlib (RFC
	// 1950), so both are read.
	for _, r := range []io.Reader{flate.NewReader(bytes.NewReader(compressed)), zlibReader(compressed)} {
		if r == nil {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(r, int64(e.OrigSize)+1))
		if err == nil && uint64(len(data)) == e.OrigSize {
			return data, true
		}
	}
	return nil, false
}

// zlibReader reads zlib data, or is nil when the header is not zlib's.
func zlibReader(b []byte) io.Reader {
	r, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	return r
}

// sealLargeBlob makes the entry of data for key.
func sealLargeBlob(aead cipher.AEAD, data []byte) (cbor.RawMessage, error) {
	var compressed bytes.Buffer
	w, err := flate.NewWriter(&compressed, flate.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	e := largeBlobEntry{Nonce: make([]byte, largeBlobNonceLength), OrigSize: uint64(len(data))}
	if _, err := rand.Read(e.Nonce); err != nil {
		return nil, err
	}
	e.Ciphertext = aead.Seal(nil, e.Nonce, compressed.Bytes(), largeBlobAD(e.OrigSize))
	return encMode.Marshal(&e)
}

// findLargeBlob returns the index and data of key's entry in entries, or
// -1.
func findLargeBlob(aead cipher.AEAD, entries []cbor.RawMessage) (int, []byte) {
	for i, raw := range entries {
		var e largeBlobEntry
		if decMode.Unmarshal(raw, &e) != nil {
			continue // not a per-credential entry: someone else's
		}
		if data, ok := e.open(aead); ok {
			return i, data
		}
	}
	return -1, nil
}

// GetLargeBlob returns the blob that largeBlobKey key encrypts in the
// large-blob array; nil when there is none.
func (c *Client) GetLargeBlob(ctx context.Context, key []byte) ([]byte, error) {
	aead, err := largeBlobAEAD(key)
	if err != nil {
		return nil, err
	}
	entries, err := c.ReadLargeBlobArray(ctx)
	if errors.Is(err, ErrLargeBlobArrayCorrupt) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	_, data := findLargeBlob(aead, entries)
	return data, nil
}

// PutLargeBlob stores data as the blob of largeBlobKey key, replacing the
// one it had; DeleteLargeBlob removes it. token is as for
// WriteLargeBlobArray.
func (c *Client) PutLargeBlob(ctx context.Context, key, data []byte, token *Token) error {
	return c.updateLargeBlob(ctx, key, data, token)
}

// DeleteLargeBlob removes the blob of largeBlobKey key, if there is one.
func (c *Client) DeleteLargeBlob(ctx context.Context, key []byte, token *Token) error {
	return c.updateLargeBlob(ctx, key, nil, token)
}

// updateLargeBlob replaces (data not nil) or removes key's entry, and
// writes the array back when it changed.
func (c *Client) updateLargeBlob(ctx context.Context, key, data []byte, token *Token) error {
	aead, err := largeBlobAEAD(key)
	if err != nil {
		return err
	}
	entries, err := c.ReadLargeBlobArray(ctx)
	if errors.Is(err, ErrLargeBlobArrayCorrupt) {
		entries = nil // as the specification says: start over
	} else if err != nil {
		return err
	}
	i, _ := findLargeBlob(aead, entries)
	if i >= 0 {
		entries = slices.Delete(entries, i, i+1)
	} else if data == nil {
		return nil
	}
	if data != nil {
		entry, err := sealLargeBlob(aead, data)
		if err != nil {
			return err
		}
		entries = append(entries, entry)
	}
	return c.WriteLargeBlobArray(ctx, entries, token)
}
