package keystoretest

import (
	"fmt"
	"testing"

	"github.com/vauth/vauth/keystore"
)

// testThirdPartyPayment: the thirdPartyPayment mark of both kinds of
// credential comes back from Create, Lookup, Discoverable and All, before
// and after reopening and after UpdateUser; a credential made without it
// has none.
func testThirdPartyPayment(t *testing.T, h *harness) {
	const rpID = "pay.example"
	type made struct {
		c    *keystore.Credential
		mark bool
	}
	var all []made
	for _, alg := range h.ks.Algorithms() {
		for _, k := range kinds {
			for _, mark := range []bool{false, true} {
				req := request(alg, k.discoverable, rpID, fmt.Sprintf("u%d-%s-%v", alg, k.name, mark))
				req.ThirdPartyPayment = mark
				all = append(all, made{h.create(req), mark})
			}
		}
	}
	verify := func(when string) {
		t.Helper()
		listed := h.listings(rpID, when)
		for _, m := range all {
			got := []*keystore.Credential{m.c, h.lookup(m.c.RPIDHash, m.c.ID)}
			if m.c.Discoverable {
				got = append(got, listed(m.c)...)
			}
			for i, c := range got {
				if c.ThirdPartyPayment != m.mark {
					t.Errorf("%s: copy %d of credential %x has thirdPartyPayment %v, want %v", when, i, m.c.ID, c.ThirdPartyPayment, m.mark)
				}
			}
		}
	}
	verify("before reopening")
	h.reopen()
	verify("after reopening")
	for _, m := range all {
		if m.c.Discoverable {
			if err := h.ks.UpdateUser(m.c.ID, keystore.User{ID: m.c.User.ID, Name: "renamed"}); err != nil {
				t.Fatalf("UpdateUser: %v", err)
			}
		}
	}
	verify("after UpdateUser")
}
