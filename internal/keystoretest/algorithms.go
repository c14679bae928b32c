package keystoretest

import (
	"crypto"
	"testing"

	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/keystore"
)

// testAlgorithmRoundTrip takes each algorithm the backend reports (and
// only those: a TPM offers fewer than software) through what a relying
// party sees of it: a credential of each kind whose public key survives
// COSE encoding with its algorithm, signatures that verify by that
// algorithm before and after the store is reopened, and a key distinct
// from every other credential's.
func testAlgorithmRoundTrip(t *testing.T, h *harness) {
	type made struct {
		cred *keystore.Credential
		pub  crypto.PublicKey
	}
	var all []made
	for _, alg := range h.ks.Algorithms() {
		for _, k := range kinds {
			c := h.create(request(alg, k.discoverable, "alg.example", keystore.AlgorithmName(alg)+"-"+k.name))
			if c.Algorithm != alg {
				t.Errorf("%s %s: credential algorithm %d", keystore.AlgorithmName(alg), k.name, c.Algorithm)
			}
			enc, err := cose.Marshal(c.PublicKey, alg)
			if err != nil {
				t.Fatalf("%s %s: COSE encoding: %v", keystore.AlgorithmName(alg), k.name, err)
			}
			parsed, err := cose.Parse(enc)
			if err != nil || parsed.Alg != alg {
				t.Fatalf("%s %s: COSE key %x parses as %+v, %v", keystore.AlgorithmName(alg), k.name, enc, parsed, err)
			}
			pub, err := parsed.PublicKey()
			if err != nil {
				t.Fatal(err)
			}
			h.signVerify(c, pub, []byte("authenticatorData || clientDataHash"))
			for _, other := range all {
				if cose.Equal(other.pub, pub) {
					t.Errorf("%s %s: same public key as credential %x", keystore.AlgorithmName(alg), k.name, other.cred.ID)
				}
			}
			all = append(all, made{c, pub})
		}
	}
	h.reopen()
	for _, m := range all {
		h.signVerify(h.lookup(m.cred.RPIDHash, m.cred.ID), m.pub, []byte("after reopening"))
	}
}
