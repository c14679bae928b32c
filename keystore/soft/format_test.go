package soft

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/vauth/vauth/keystore"
)

// TestRecordAtLimits: a record with every field at the keystore's limits
// encodes to exactly the length marshal reserves and decodes back whole; a
// field too long for its length prefix is an error, not a panic.
func TestRecordAtLimits(t *testing.T) {
	full := record{
		seq: 7, rpID: strings.Repeat("r", keystore.MaxRPIDLength),
		user: keystore.User{
			ID:          bytes.Repeat([]byte{0xab}, keystore.MaxUserIDLength),
			Name:        strings.Repeat("n", keystore.MaxUserNameLength),
			DisplayName: strings.Repeat("é", keystore.MaxUserNameLength/2),
		},
		alg: keystore.ES256, credProtect: 3, created: 1,
		publicKey: bytes.Repeat([]byte{1}, 91), keyHandle: bytes.Repeat([]byte{2}, 200),
		credBlob:     bytes.Repeat([]byte{3}, keystore.MaxCredBlobLength),
		largeBlobKey: bytes.Repeat([]byte{4}, keystore.LargeBlobKeyLength),
	}
	out, err := full.marshal()
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	want := recordFixedLen + len(full.rpID) + len(full.user.ID) + len(full.user.Name) + len(full.user.DisplayName) +
		len(full.publicKey) + len(full.keyHandle) + len(full.credBlob) + len(full.largeBlobKey)
	if len(out) != want {
		t.Errorf("record of %d bytes, want %d", len(out), want)
	}
	back, err := parseRecord(out)
	if err != nil || !reflect.DeepEqual(*back, full) {
		t.Errorf("parseRecord = %+v, %v; want %+v", back, err, full)
	}
	for _, tc := range []struct {
		name string
		edit func(r *record)
	}{
		{"a user ID of 256 bytes", func(r *record) { r.user.ID = make([]byte, 256) }},
		{"an RP ID of 64 KiB", func(r *record) { r.rpID = strings.Repeat("r", 64<<10) }},
		{"a name of 64 KiB", func(r *record) { r.user.Name = strings.Repeat("n", 64<<10) }},
	} {
		r := full
		tc.edit(&r)
		if _, err := r.marshal(); err == nil {
			t.Errorf("marshal of %s succeeded", tc.name)
		}
	}
}
