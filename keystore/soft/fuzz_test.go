package soft

import (
	"bytes"
	"errors"
	"testing"

	"github.com/vauth/vauth/keystore"
)

// FuzzLookup feeds Lookup credential IDs as an RP would send them: it must
// find the credentials it made, under their own IDs, and nothing else.
func FuzzLookup(f *testing.F) {
	s, err := Open(f.TempDir(), Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	known := map[string]bool{}
	for _, alg := range s.Algorithms() {
		for _, discoverable := range []bool{false, true} {
			c, err := s.Create(keystore.CreateRequest{
				RPID: "example.com", RPIDHash: testRP, User: keystore.User{ID: []byte{byte(alg)}},
				Algorithm: alg, Discoverable: discoverable,
			})
			if err != nil {
				f.Fatal(err)
			}
			known[string(c.ID)] = true
			f.Add(c.ID)
		}
	}
	f.Add([]byte{})
	f.Add([]byte{idDiscoverableV1})
	f.Fuzz(func(t *testing.T, id []byte) {
		c, err := s.Lookup(testRP, id)
		switch {
		case known[string(id)]:
			if err != nil || !bytes.Equal(c.ID, id) {
				t.Fatalf("Lookup of a known ID = %v, %v", c, err)
			}
		case !errors.Is(err, keystore.ErrNotFound):
			t.Fatalf("Lookup(%x) = %v, %v; want ErrNotFound", id, c, err)
		}
	})
}
