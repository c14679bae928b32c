package ctap2

import (
	"bytes"
	"testing"

	"github.com/vauth/vauth/keystore"
)

// TestRSAListsOnUhid: on uhid's 1200-byte messages getInfo allows four
// credentials in a list (CTAP 2.1 §6.4 maxCredentialCountInList), since
// non-discoverable RSA credentials have short IDs, and a relying party's
// excludeList (§6.1.2 step 12) and allowList (§6.2.2) of four
// non-discoverable credentials, three of them RSA, fit and work; for
// another RP none is found.
func TestRSAListsOnUhid(t *testing.T) {
	d := newTestDevice(t, func(c *Config) { c.MaxMsgSize = 1200 })
	var count int
	mustUnmarshal(t, d.mustGetInfo()[getInfoMaxCredentialCountInList], &count)
	if count != 4 {
		t.Fatalf("maxCredentialCountInList %d at 1200 bytes, want 4", count)
	}
	algs := []int{keystore.RS256, keystore.PS256, keystore.ES512, keystore.RS256}
	var regs []registration
	var ids [][]byte
	for i, alg := range algs {
		reg := d.register(withAlgorithms(makeCredentialParams("example.com", []byte{byte(i)}, "alice", false), alg))
		regs = append(regs, reg)
		ids = append(ids, reg.authData.credentialID)
	}

	exclude := withAlgorithms(makeCredentialParams("example.com", []byte("again"), "alice", false), keystore.RS256)
	// The same descriptors as the allowList.
	exclude[int(makeCredentialExcludeList)] = getAssertionParams("", ids...)[int(getAssertionAllowList)]
	allow := getAssertionParams("example.com", ids...)
	for _, tc := range []struct {
		name   string
		cmd    byte
		params map[int]any
		want   Status
	}{
		{"an excludeList of the four", CmdMakeCredential, exclude, CTAP2ErrCredentialExcluded},
		{"an allowList of the four", CmdGetAssertion, allow, CTAP2OK},
		{"the allowList for another RP", CmdGetAssertion, getAssertionParams("other.example", ids...), CTAP2ErrNoCredentials},
	} {
		if n := len(encode(t, tc.params)) + 1; n > 1200 {
			t.Errorf("%s: %d bytes, more than 1200", tc.name, n)
		}
		status, resp := d.call(tc.cmd, tc.params)
		if status != tc.want {
			t.Fatalf("%s: %v, want %v", tc.name, status, tc.want)
		}
		if tc.cmd != CmdGetAssertion || status != CTAP2OK {
			continue
		}
		as := decodeAssertion(t, resp)
		i := 0
		for i < len(ids) && !bytes.Equal(ids[i], as.credentialID) {
			i++
		}
		if i == len(ids) {
			t.Fatalf("%s: assertion with credential %x, not one listed", tc.name, as.credentialID)
		}
		verifyAlg(t, algs[i], regs[i].authData.publicKey, as)
	}
}
