package ctap2

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/vauth/vauth/ctap2/pinuv"
	"github.com/vauth/vauth/keystore"
)

// authenticatorLargeBlobs parameter keys (CTAP 2.1 §6.10).
const (
	largeBlobsGet               paramKey = 0x01
	largeBlobsSet               paramKey = 0x02
	largeBlobsOffset            paramKey = 0x03
	largeBlobsLength            paramKey = 0x04
	largeBlobsPinUvAuthParam    paramKey = 0x05
	largeBlobsPinUvAuthProtocol paramKey = 0x06
)

// largeBlobsRespConfig is the response key of the fragment read.
const largeBlobsRespConfig = 0x01

// Limits of the large-blob array.
const (
	// DefaultMaxSerializedLargeBlobArray is Config.MaxSerializedLargeBlobArray's
	// default.
	DefaultMaxSerializedLargeBlobArray = 8192
	// MinSerializedLargeBlobArray is the least maxSerializedLargeBlobArray
	// CTAP 2.1 allows.
	MinSerializedLargeBlobArray = 1024
	// largeBlobArrayHashLength is the length of the truncated SHA-256 that
	// ends the serialized large-blob array.
	largeBlobArrayHashLength = 16
	// largeBlobFragmentOverhead is what maxFragmentLength leaves of
	// maxMsgSize for the rest of a request or response.
	largeBlobFragmentOverhead = 64
)

// largeBlobArrayBlob names the keystore blob that keeps the serialized
// large-blob array; authenticatorReset deletes it with the other blobs.
const largeBlobArrayBlob = "ctap2/large-blob-array"

// largeBlobsMessagePrefix starts the message that a write's pinUvAuthParam
// authenticates: 32 bytes 0xff, then 0x0c 0x00; the offset (uint32, little
// endian) and SHA-256 of the fragment follow.
var largeBlobsMessagePrefix = append(bytes.Repeat([]byte{0xff}, 32), CmdLargeBlobs, 0x00)

// emptyLargeBlobArray is the serialized array of a new authenticator: an
// empty CBOR array and its truncated hash.
var emptyLargeBlobArray = withLargeBlobArrayHash([]byte{0x80})

// withLargeBlobArrayHash appends LEFT(SHA-256(data), 16) to data.
func withLargeBlobArrayHash(data []byte) []byte {
	sum := sha256.Sum256(data)
	return append(slices.Clone(data), sum[:largeBlobArrayHashLength]...)
}

// largeBlobWrite is a write of the serialized large-blob array in
// progress: the fragments received so far, of the length announced at
// offset 0.
type largeBlobWrite struct {
	buffer         []byte
	expectedLength uint64
}

// largeBlobsRequest is a decoded authenticatorLargeBlobs request.
type largeBlobsRequest struct {
	get       *uint64
	set       []byte // nil: absent
	offset    uint64
	length    *uint64
	pinUvAuth pinUvAuth
}

func decodeLargeBlobs(data []byte) (*largeBlobsRequest, error) {
	p, err := decodeRequest(data)
	if err != nil {
		return nil, err
	}
	var req largeBlobsRequest
	if req.get, err = optionalField[uint64](p, largeBlobsGet, "get"); err != nil {
		return nil, err
	}
	if req.set, _, err = field[[]byte](p, largeBlobsSet, "set"); err != nil {
		return nil, err
	}
	offset, err := optionalField[uint64](p, largeBlobsOffset, "offset")
	if err != nil {
		return nil, err
	}
	if offset == nil {
		return nil, statusErrorf(CTAP1ErrInvalidParameter, "offset is missing")
	}
	req.offset = *offset
	if req.length, err = optionalField[uint64](p, largeBlobsLength, "length"); err != nil {
		return nil, err
	}
	req.pinUvAuth, err = decodePinUvAuth(p, largeBlobsPinUvAuthParam, largeBlobsPinUvAuthProtocol)
	return &req, err
}

// maxFragmentLength is the longest fragment one request reads or writes:
// maxMsgSize less 64 bytes.
func (a *Authenticator) maxFragmentLength() uint64 {
	return uint64(a.maxMsgSize - largeBlobFragmentOverhead)
}

// largeBlobs is authenticatorLargeBlobs (CTAP 2.1 §6.10): the platform
// reads and writes the serialized large-blob array, in which it keeps
// per-credential blobs encrypted with their largeBlobKey, fragment by
// fragment. Writes need a pinUvAuthToken with the lbw permission once the
// authenticator is protected by user verification; the array is stored
// durably, and only whole, when its last fragment arrives and its hash is
// right.
func (a *Authenticator) largeBlobs(r *request) (any, error) {
	req, err := decodeLargeBlobs(r.params)
	if err != nil {
		return nil, err
	}
	switch {
	case (req.get == nil) == (req.set == nil):
		return nil, statusErrorf(CTAP1ErrInvalidParameter, "exactly one of get and set must be present")
	case req.get != nil:
		return a.readLargeBlobs(req)
	}
	// A fragment that fails ends the write in progress: the platform starts
	// again at offset 0.
	if err = a.writeLargeBlobs(req); err != nil {
		a.largeBlobWrite = nil
	}
	if err != nil || a.largeBlobWrite == nil { // a failure, or the last fragment
		a.logOutcome("large-blob array write", err, "offset", req.offset, "fragment", len(req.set))
	}
	return nil, err
}

// readLargeBlobs returns get bytes of the stored array from offset (fewer
// at its end).
func (a *Authenticator) readLargeBlobs(req *largeBlobsRequest) (any, error) {
	if req.length != nil {
		return nil, statusErrorf(CTAP1ErrInvalidParameter, "length with get")
	}
	if *req.get > a.maxFragmentLength() {
		return nil, statusErrorf(CTAP1ErrInvalidLength, "get %d, more than maxFragmentLength %d", *req.get, a.maxFragmentLength())
	}
	array, err := a.largeBlobArray()
	if err != nil {
		return nil, err
	}
	if req.offset > uint64(len(array)) {
		return nil, statusErrorf(CTAP1ErrInvalidParameter, "offset %d past the array's %d bytes", req.offset, len(array))
	}
	end := min(req.offset+*req.get, uint64(len(array)))
	return map[int]any{largeBlobsRespConfig: array[req.offset:end]}, nil
}

// largeBlobArray is the stored serialized array, or the empty one.
func (a *Authenticator) largeBlobArray() ([]byte, error) {
	array, err := a.keystore.GetBlob(largeBlobArrayBlob)
	if errors.Is(err, keystore.ErrNotFound) {
		return emptyLargeBlobArray, nil
	} else if err != nil {
		return nil, fmt.Errorf("reading the large-blob array: %w", err)
	}
	return array, nil
}

// writeLargeBlobs takes one fragment of a new array (§6.10.3): offset 0
// starts a write of length bytes, each fragment continues at the offset
// where the previous one ended, and the last commits the array.
func (a *Authenticator) writeLargeBlobs(req *largeBlobsRequest) error {
	if uint64(len(req.set)) > a.maxFragmentLength() {
		return statusErrorf(CTAP1ErrInvalidLength, "fragment of %d bytes, more than maxFragmentLength %d", len(req.set), a.maxFragmentLength())
	}
	if req.offset == 0 {
		switch {
		case req.length == nil:
			return statusErrorf(CTAP1ErrInvalidParameter, "length is missing at offset 0")
		case *req.length > uint64(a.maxSerializedLargeBlobArray):
			return statusErrorf(CTAP2ErrLargeBlobStorageFull, "an array of %d bytes, more than maxSerializedLargeBlobArray %d", *req.length, a.maxSerializedLargeBlobArray)
		case *req.length < uint64(len(emptyLargeBlobArray)):
			return statusErrorf(CTAP1ErrInvalidParameter, "an array of %d bytes, less than the %d of an empty one", *req.length, len(emptyLargeBlobArray))
		}
	} else if req.length != nil {
		return statusErrorf(CTAP1ErrInvalidParameter, "length at offset %d", req.offset)
	}
	w := a.largeBlobWrite
	if req.offset != 0 && (w == nil || req.offset != uint64(len(w.buffer))) {
		return statusErrorf(CTAP1ErrInvalidSeq, "fragment at offset %d, not where the write stands", req.offset)
	}
	if a.protectedByUV() || a.pin.AlwaysUV {
		if err := a.checkLargeBlobsToken(req); err != nil {
			return err
		}
	}
	if req.offset == 0 {
		w = &largeBlobWrite{expectedLength: *req.length}
	}
	if req.offset+uint64(len(req.set)) > w.expectedLength {
		return statusErrorf(CTAP1ErrInvalidParameter, "fragment ends at %d, past the announced length %d", req.offset+uint64(len(req.set)), w.expectedLength)
	}
	w.buffer = append(w.buffer, req.set...)
	if uint64(len(w.buffer)) < w.expectedLength {
		a.largeBlobWrite = w
		return nil
	}
	a.largeBlobWrite = nil
	data := w.buffer[:len(w.buffer)-largeBlobArrayHashLength]
	if sum := sha256.Sum256(data); !bytes.Equal(sum[:largeBlobArrayHashLength], w.buffer[len(data):]) {
		return statusErrorf(CTAP2ErrIntegrityFailure, "the array's hash does not match its contents")
	}
	if err := a.keystore.PutBlob(largeBlobArrayBlob, w.buffer); err != nil {
		return fmt.Errorf("storing the large-blob array: %w", err)
	}
	return nil
}

// checkLargeBlobsToken checks a write's pinUvAuthParam: made with the
// pinUvAuthToken over 32×0xff || 0x0c 0x00 || uint32LE(offset) ||
// SHA-256(fragment), by a token with the lbw permission.
func (a *Authenticator) checkLargeBlobsToken(req *largeBlobsRequest) error {
	if req.pinUvAuth.param == nil {
		return statusErrorf(CTAP2ErrPUATRequired, "writing the large-blob array needs a pinUvAuthParam")
	}
	if req.pinUvAuth.protocol == nil {
		return statusErrorf(CTAP2ErrMissingParameter, "pinUvAuthProtocol is missing")
	}
	p, err := a.pinUvAuthProtocol(*req.pinUvAuth.protocol)
	if err != nil {
		return err
	}
	// The offset is where the write stands, within
	// maxSerializedLargeBlobArray: it fits 32 bits.
	digest := sha256.Sum256(req.set)
	message := binary.LittleEndian.AppendUint32(slices.Clone(largeBlobsMessagePrefix), uint32(req.offset))
	message = append(message, digest[:]...)
	if !a.token.Verify(p, message, req.pinUvAuth.param) {
		return statusErrorf(CTAP2ErrPinAuthInvalid, "pinUvAuthParam does not verify with the pinUvAuthToken")
	}
	if !a.token.HasPermission(pinuv.PermissionLBW) {
		return statusErrorf(CTAP2ErrPinAuthInvalid, "the pinUvAuthToken lacks the lbw permission")
	}
	return nil
}
