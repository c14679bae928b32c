package soft

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/vauth/vauth/keystore"
)

// TestUpgradeFromFormatV3: a store of format version 3 (recordV2 records,
// idNonDiscoverableV2 IDs) opens as the current version without rewriting its
// records; its credentials read with no flags and still sign, and a record
// that changes is written as recordV3.
func TestUpgradeFromFormatV3(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	rk := createCred(t, s, true, "a")
	pub, blob, err := s.engine.Generate(keystore.ES256)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Now().UnixNano()
	v2Payload := slices.Concat(appendAlg(nil, keystore.ES256), []byte{1},
		binary.BigEndian.AppendUint64(nil, uint64(created)), []byte{2, 0xc0, 0xde}, blob) // credBlob c0de
	ndID, err := seal(s.keys.credentialID, s.rand, v2Payload, sealAD(idNonDiscoverableV2, testRP[:]))
	if err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	var v2Record []byte
	editDB(t, dir, func(tx *bolt.Tx) error {
		v3 := tx.Bucket(bucketCreds).Get(rk.ID)
		if len(v3) == 0 || v3[0] != recordV3 || v3[len(v3)-1] != 0 {
			t.Fatalf("new record %x is not a recordV3 without flags", v3)
		}
		v2Record = append([]byte{recordV2}, v3[1:len(v3)-1]...)
		if err := tx.Bucket(bucketCreds).Put(rk.ID, v2Record); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyVersion, []byte{3})
	})

	s = mustOpen(t, dir, Options{})
	s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyVersion); !bytes.Equal(v, []byte{formatVersion}) {
			t.Errorf("format version %v after opening, want %d", v, formatVersion)
		}
		if v := tx.Bucket(bucketCreds).Get(rk.ID); !bytes.Equal(v, v2Record) {
			t.Errorf("the recordV2 was rewritten: %x", v)
		}
		return nil
	})
	got, err := s.Lookup(testRP, rk.ID)
	if err != nil || got.ThirdPartyPayment || got.User.Name != "a" {
		t.Fatalf("recordV2 credential: %+v, %v", got, err)
	}
	if _, err := s.Sign(got, []byte("m")); err != nil {
		t.Errorf("Sign with the recordV2 credential: %v", err)
	}
	nd, err := s.Lookup(testRP, ndID)
	if err != nil || nd.ThirdPartyPayment || !bytes.Equal(nd.CredBlob, []byte{0xc0, 0xde}) || nd.CredProtect != 1 || nd.Created.UnixNano() != created {
		t.Fatalf("idNonDiscoverableV2 credential: %+v, %v", nd, err)
	}
	sig, err := s.Sign(nd, []byte("m"))
	digest := sha256.Sum256([]byte("m"))
	if err != nil || !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest[:], sig) {
		t.Errorf("Sign with the idNonDiscoverableV2 ID: %v", err)
	}
	if err := s.UpdateUser(rk.ID, keystore.User{ID: rk.User.ID, Name: "b"}); err != nil {
		t.Fatal(err)
	}
	s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketCreds).Get(rk.ID); len(v) == 0 || v[0] != recordV3 {
			t.Errorf("updated record %x is not a recordV3", v)
		}
		return nil
	})
}

// TestFlagsRoundTrip: the thirdPartyPayment flag of both kinds of
// credential survives a reopening, in the recordV3 flags byte and the
// idNonDiscoverableV3 payload.
func TestFlagsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	var ids [][]byte
	for _, rk := range []bool{true, false} {
		c, err := s.Create(keystore.CreateRequest{RPID: "example.com", RPIDHash: testRP, User: keystore.User{ID: []byte("u")},
			Algorithm: keystore.ES256, Discoverable: rk, ThirdPartyPayment: true})
		if err != nil || !c.ThirdPartyPayment {
			t.Fatalf("Create: %+v, %v", c, err)
		}
		ids = append(ids, c.ID)
	}
	if ids[1][0] != idNonDiscoverableV3 {
		t.Fatalf("new non-discoverable ID of kind %#x", ids[1][0])
	}
	mustClose(t, s)
	editDB(t, dir, func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketCreds).Get(ids[0]); len(v) == 0 || v[len(v)-1] != flagThirdPartyPayment {
			t.Errorf("record %x does not end with the flag", v)
		}
		return nil
	})
	s = mustOpen(t, dir, Options{})
	for _, id := range ids {
		if c, err := s.Lookup(testRP, id); err != nil || !c.ThirdPartyPayment {
			t.Errorf("Lookup after reopening: %+v, %v", c, err)
		}
	}
}

// TestParseFlags: the flags byte is checked in both formats; a bit this
// vauth does not know makes the record or ID malformed.
func TestParseFlags(t *testing.T) {
	fixed := make([]byte, ndPayloadFixed)
	for _, tc := range []struct {
		name    string
		payload []byte
		ok      bool
		flags   byte
	}{
		{"no flags", slices.Concat(fixed, []byte{0, 0, 7}), true, 0},
		{"thirdPartyPayment", slices.Concat(fixed, []byte{flagThirdPartyPayment, 1, 5, 7}), true, flagThirdPartyPayment},
		{"unknown flag", slices.Concat(fixed, []byte{0x02, 0, 7}), false, 0},
		{"no flags byte", fixed, false, 0},
		{"flags but no credBlob length", slices.Concat(fixed, []byte{0}), false, 0},
	} {
		p, ok := parseNDPayload(idNonDiscoverableV3, tc.payload)
		if ok != tc.ok || p.flags != tc.flags {
			t.Errorf("%s: parseNDPayload = %+v, %v", tc.name, p, ok)
		}
	}

	rec := &record{rpID: "example.com", rpIDHash: testRP, user: keystore.User{ID: []byte("u")}, alg: keystore.ES256, publicKey: []byte{1}, keyHandle: []byte{2}, flags: flagThirdPartyPayment}
	val, err := rec.encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		val   []byte
		ok    bool
		flags byte
	}{
		{"recordV3", val, true, flagThirdPartyPayment},
		{"unknown flag", append(slices.Clone(val[:len(val)-1]), 0x80), false, 0},
		{"no flags byte", val[:len(val)-1], false, 0},
		{"version byte only", []byte{recordV3}, false, 0},
	} {
		got, err := parseRecord(tc.val)
		if (err == nil) != tc.ok || (err == nil && got.flags != tc.flags) {
			t.Errorf("%s: parseRecord = %+v, %v", tc.name, got, err)
		}
	}
}
