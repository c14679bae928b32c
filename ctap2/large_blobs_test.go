package ctap2_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/ctap2/pinuv"
)

const cmdLargeBlobs = 0x0C

// emptyArray is the serialized large-blob array of a new authenticator.
var emptyArray = []byte{0x80, 0x76, 0xbe, 0x8b, 0x52, 0x8d, 0x00, 0x75, 0xf7, 0xaa, 0xe9, 0x8d, 0x6f, 0xa5, 0x7a, 0x6d, 0x3c}

// serialize makes a serialized large-blob array of data (CBOR) and its
// truncated hash.
func serialize(data []byte) []byte {
	h := sha256.Sum256(data)
	return append(bytes.Clone(data), h[:16]...)
}

// readArray reads the whole serialized array with raw requests.
func (d *device) readArray() []byte {
	d.t.Helper()
	var out []byte
	for {
		status, resp := d.raw(cmdLargeBlobs, map[int]any{1: 512, 3: len(out)})
		if status != ctap2.CTAP2OK {
			d.t.Fatalf("read at %d: %v", len(out), status)
		}
		var fragment []byte
		if err := cbor.Unmarshal(resp[1], &fragment); err != nil {
			d.t.Fatal(err)
		}
		out = append(out, fragment...)
		if len(fragment) < 512 {
			return out
		}
	}
}

// lbwParam is a write's pinUvAuthParam with tok.
func lbwParam(tok *client.Token, offset int, fragment []byte) []byte {
	digest := sha256.Sum256(fragment)
	message := append(bytes.Repeat([]byte{0xff}, 32), 0x0c, 0x00)
	message = binary.LittleEndian.AppendUint32(message, uint32(offset))
	return tok.Param(append(message, digest[:]...))
}

// TestLargeBlobs: the array starts empty; per-credential blobs written,
// read and deleted through the client (in several fragments when the
// array is larger than one) come back, also after a restart; getInfo
// reports the limits; authenticatorReset empties the array.
func TestLargeBlobs(t *testing.T) {
	const maxMsg = 1024 // fragments of 960 bytes
	d := newDevice(t, withConfig(func(c *ctap2.Config) { c.MaxMsgSize = maxMsg }))
	ctx := t.Context()
	inf := d.info()
	if !inf.Options["largeBlobs"] || inf.MaxSerializedLargeBlobArray != ctap2.DefaultMaxSerializedLargeBlobArray {
		t.Fatalf("getInfo: largeBlobs %v, maxSerializedLargeBlobArray %d", inf.Options["largeBlobs"], inf.MaxSerializedLargeBlobArray)
	}
	if got := d.readArray(); !bytes.Equal(got, emptyArray) {
		t.Fatalf("a new authenticator's array is %x, want %x", got, emptyArray)
	}
	keyA, keyB := bytes.Repeat([]byte{0xa}, 32), bytes.Repeat([]byte{0xb}, 32)
	// Random data does not compress: the array needs 3 fragments.
	big := make([]byte, 2500)
	rand.Read(big)
	if err := d.c.PutLargeBlob(ctx, keyA, big, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.c.PutLargeBlob(ctx, keyB, []byte("bob's blob"), nil); err != nil {
		t.Fatal(err)
	}
	if n := len(d.readArray()); n <= 2*(maxMsg-64) {
		t.Fatalf("the array is %d bytes, want it to take 3 fragments", n)
	}
	d.restart()
	if got, err := d.c.GetLargeBlob(ctx, keyA); err != nil || !bytes.Equal(got, big) {
		t.Errorf("blob A after a restart: %d bytes, %v", len(got), err)
	}
	if err := d.c.PutLargeBlob(ctx, keyB, []byte("bob's new blob"), nil); err != nil {
		t.Fatal(err)
	}
	if got, err := d.c.GetLargeBlob(ctx, keyB); err != nil || string(got) != "bob's new blob" {
		t.Errorf("blob B replaced: %q, %v", got, err)
	}
	if err := d.c.DeleteLargeBlob(ctx, keyA, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := d.c.GetLargeBlob(ctx, keyA); err != nil || got != nil {
		t.Errorf("deleted blob A: %q, %v", got, err)
	}
	entries, err := d.c.ReadLargeBlobArray(ctx)
	if err != nil || len(entries) != 1 {
		t.Errorf("array after the delete: %d entries, %v; want 1", len(entries), err)
	}

	d.restart() // power-up, for the reset window
	if err := d.c.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if got := d.readArray(); !bytes.Equal(got, emptyArray) {
		t.Errorf("after authenticatorReset the array is %x", got)
	}
}

// TestLargeBlobsErrors: every malformed request and every write that
// breaks the sequence, the size limits or the hash gets its status and
// leaves the stored array as it was.
func TestLargeBlobsErrors(t *testing.T) {
	d := newDevice(t, withConfig(func(c *ctap2.Config) {
		c.MaxMsgSize = 1024
		c.MaxSerializedLargeBlobArray = ctap2.MinSerializedLargeBlobArray
	}))
	stored := serialize([]byte{0x81, 0x41, 0x07}) // [h'07']
	if status, _ := d.raw(cmdLargeBlobs, map[int]any{2: stored, 3: 0, 4: len(stored)}); status != ctap2.CTAP2OK {
		t.Fatalf("writing the array: %v", status)
	}
	twoParts := serialize(bytes.Repeat([]byte{0x40}, 100))
	for _, tc := range []struct {
		name     string
		requests []map[int]any // the last one gets want; those before succeed
		want     ctap2.Status
	}{
		{"no offset", []map[int]any{{1: 10}}, ctap2.CTAP1ErrInvalidParameter},
		{"neither get nor set", []map[int]any{{3: 0}}, ctap2.CTAP1ErrInvalidParameter},
		{"get and set", []map[int]any{{1: 10, 2: []byte{1}, 3: 0}}, ctap2.CTAP1ErrInvalidParameter},
		{"get with length", []map[int]any{{1: 10, 3: 0, 4: 10}}, ctap2.CTAP1ErrInvalidParameter},
		{"get more than maxFragmentLength", []map[int]any{{1: 961, 3: 0}}, ctap2.CTAP1ErrInvalidLength},
		{"get past the end", []map[int]any{{1: 10, 3: len(stored) + 1}}, ctap2.CTAP1ErrInvalidParameter},
		{"get as text", []map[int]any{{1: "10", 3: 0}}, ctap2.CTAP2ErrCBORUnexpectedType},
		{"set more than maxFragmentLength", []map[int]any{{2: make([]byte, 961), 3: 0, 4: 961}}, ctap2.CTAP1ErrInvalidLength},
		{"offset 0 without length", []map[int]any{{2: stored, 3: 0}}, ctap2.CTAP1ErrInvalidParameter},
		{"oversize array", []map[int]any{{2: stored, 3: 0, 4: ctap2.MinSerializedLargeBlobArray + 1}}, ctap2.CTAP2ErrLargeBlobStorageFull},
		{"array shorter than an empty one", []map[int]any{{2: stored[:16], 3: 0, 4: 16}}, ctap2.CTAP1ErrInvalidParameter},
		{"length after offset 0", []map[int]any{{2: twoParts[:50], 3: 0, 4: len(twoParts)}, {2: twoParts[50:], 3: 50, 4: len(twoParts)}}, ctap2.CTAP1ErrInvalidParameter},
		{"fragment out of sequence", []map[int]any{{2: twoParts[:50], 3: 0, 4: len(twoParts)}, {2: twoParts[60:], 3: 60}}, ctap2.CTAP1ErrInvalidSeq},
		{"continuation without a start", []map[int]any{{2: twoParts[50:], 3: 50}}, ctap2.CTAP1ErrInvalidSeq},
		{"fragment past the length", []map[int]any{{2: twoParts[:50], 3: 0, 4: len(twoParts)}, {2: append(bytes.Clone(twoParts[50:]), 0), 3: 50}}, ctap2.CTAP1ErrInvalidParameter},
		{"bad hash", []map[int]any{{2: append(bytes.Clone(stored[:len(stored)-1]), stored[len(stored)-1]^1), 3: 0, 4: len(stored)}}, ctap2.CTAP2ErrIntegrityFailure},
		{"bad hash, two fragments", []map[int]any{{2: twoParts[:50], 3: 0, 4: len(twoParts)}, {2: append(bytes.Clone(twoParts[50:len(twoParts)-1]), 0), 3: 50}}, ctap2.CTAP2ErrIntegrityFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i, req := range tc.requests {
				status, _ := d.raw(cmdLargeBlobs, req)
				if i < len(tc.requests)-1 && status != ctap2.CTAP2OK {
					t.Fatalf("request %d: %v", i, status)
				}
				if i == len(tc.requests)-1 && status != tc.want {
					t.Errorf("%v, want %v", status, tc.want)
				}
			}
			if got := d.readArray(); !bytes.Equal(got, stored) {
				t.Errorf("the stored array changed to %x", got)
			}
		})
	}
	// An array that does not fit: the client's write of a blob fails and
	// the array stays.
	incompressible := make([]byte, ctap2.MinSerializedLargeBlobArray)
	rand.Read(incompressible)
	err := d.c.PutLargeBlob(t.Context(), bytes.Repeat([]byte{1}, 32), incompressible, nil)
	want(t, "a blob larger than maxSerializedLargeBlobArray", err, ctap2.CTAP2ErrLargeBlobStorageFull)
	if got := d.readArray(); !bytes.Equal(got, stored) {
		t.Errorf("the stored array changed to %x", got)
	}
}

// TestLargeBlobsLBW: once a PIN is set, writes need a pinUvAuthParam from a
// pinUvAuthToken with the lbw permission; reads need nothing.
func TestLargeBlobsLBW(t *testing.T) {
	d := newDevice(t)
	ctx := t.Context()
	if err := d.c.SetPIN(ctx, 0, testPIN); err != nil {
		t.Fatal(err)
	}
	array := serialize([]byte{0x80})
	write := func(tok *client.Token, edit func(m map[int]any)) ctap2.Status {
		m := map[int]any{2: array, 3: 0, 4: len(array)}
		if tok != nil {
			m[5], m[6] = lbwParam(tok, 0, array), tok.ProtocolVersion()
		}
		if edit != nil {
			edit(m)
		}
		status, _ := d.raw(cmdLargeBlobs, m)
		return status
	}
	lbw := d.token(pinuv.ProtocolOneVersion, testPIN, pinuv.PermissionLBW, "")
	for _, tc := range []struct {
		name string
		tok  *client.Token
		edit func(m map[int]any)
		want ctap2.Status
	}{
		{"no pinUvAuthParam", nil, nil, ctap2.CTAP2ErrPUATRequired},
		{"no pinUvAuthProtocol", lbw, func(m map[int]any) { delete(m, 6) }, ctap2.CTAP2ErrMissingParameter},
		{"protocol 3", lbw, func(m map[int]any) { m[6] = 3 }, ctap2.CTAP1ErrInvalidParameter},
		{"over another offset", lbw, func(m map[int]any) { m[5] = lbwParam(lbw, 1, array) }, ctap2.CTAP2ErrPinAuthInvalid},
		{"over another fragment", lbw, func(m map[int]any) { m[5] = lbwParam(lbw, 0, append(bytes.Clone(array), 0)) }, ctap2.CTAP2ErrPinAuthInvalid},
		{"token with lbw", lbw, nil, ctap2.CTAP2OK},
	} {
		if got := write(tc.tok, tc.edit); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := write(d.token(pinuv.ProtocolTwoVersion, testPIN, pinuv.PermissionCM, ""), nil); got != ctap2.CTAP2ErrPinAuthInvalid {
		t.Errorf("token without lbw: %v, want CTAP2_ERR_PIN_AUTH_INVALID", got)
	}
	// A token for getAssertion and lbw still writes after the assertion,
	// which spends every permission but lbw.
	tok := d.token(pinuv.ProtocolTwoVersion, testPIN, pinuv.PermissionMC|pinuv.PermissionLBW, "example.com")
	req := mcRequest("example.com", "alice", true, tok)
	req.Extensions = map[string]any{"largeBlobKey": true}
	_, resp := d.register(req)
	if err := d.c.PutLargeBlob(ctx, resp.LargeBlobKey, []byte("alice's blob"), tok); err != nil {
		t.Fatalf("PutLargeBlob with the token after makeCredential: %v", err)
	}
	if got, err := d.c.GetLargeBlob(ctx, resp.LargeBlobKey); err != nil || string(got) != "alice's blob" {
		t.Errorf("GetLargeBlob = %q, %v", got, err)
	}
}
