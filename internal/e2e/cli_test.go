package e2e

// The CLI against vauth as the kernel presents it: `vauth creds --device
// /dev/hidrawN` speaks CTAP2 credential management to the uhid device as
// it would to any hardware key, and must see and change exactly what
// libfido2's fido2-token sees.

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// cliCredential is what `vauth creds list --json` says of a credential.
type cliCredential struct {
	RPID            string `json:"rpId"`
	RPIDHash        string `json:"rpIdHash"`
	UserID          string `json:"userId"`
	UserName        string `json:"userName"`
	UserDisplayName string `json:"userDisplayName"`
	ID              string `json:"credentialId"`
	AlgName         string `json:"algName"`
	CredProtect     int    `json:"credProtect"`
}

// tokenCredential is one line of fido2-token -L -k: index, credential ID,
// display name (which may hold spaces, or be "(null)"), user ID, type and
// protection.
type tokenCredential struct{ id, displayName, userID, alg, prot string }

func parseTokenCredentials(t *testing.T, out string) []tokenCredential {
	t.Helper()
	var creds []tokenCredential
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("fido2-token -L -k line %q", line)
		}
		n := len(f)
		display := strings.Join(f[2:n-3], " ")
		if display == "(null)" {
			display = ""
		}
		creds = append(creds, tokenCredential{id: f[1], displayName: display, userID: f[n-3], alg: f[n-2], prot: f[n-1]})
	}
	return creds
}

// protLevel reads fido2-token's protection names (uvopt, uvopt+id, uvreq;
// PROT_UV_OPTIONAL... in older versions) as credProtect levels.
func protLevel(s string) int {
	s = strings.ToLower(s)
	switch {
	case strings.Contains(s, "req"):
		return 3
	case strings.Contains(s, "id"):
		return 2
	case strings.Contains(s, "opt"):
		return 1
	}
	return 0
}

// stdToURL turns fido2-token's base64 into the CLI's base64url.
func stdToURL(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64 %q: %v", s, err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestCLICredsDevice lists vauth's credentials with `vauth creds list
// --device /dev/hidrawN` and with fido2-token -L -r / -L -k, which must
// agree; then `vauth creds delete --device` removes one, which
// fido2-assert then cannot use while the other still works.
func TestCLICredsDevice(t *testing.T) {
	tools := requireFido2Tools(t)
	v := startVauth(t, t.TempDir())
	made := []credential{
		makeCredential(t, tools, v.hidraw, "one.example.org", "es256", true),
		makeCredential(t, tools, v.hidraw, "one.example.org", "eddsa", true),
		makeCredential(t, tools, v.hidraw, "two.example.org", "es256", true),
		makeCredential(t, tools, v.hidraw, "two.example.org", "es256", false), // not listed by anyone
	}
	const pin = "246813"
	run(t, lines(pin, pin), nil, tools.token, "-S", v.hidraw)
	env := []string{"VAUTH_PIN=" + pin}

	var list struct{ Credentials []cliCredential }
	out := run(t, "", env, vauthBin, "creds", "list", "--json", "--device", v.hidraw)
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("vauth creds list --json: %v\n%s", err, out)
	}

	// The RPs, as fido2-token -L -r lists them: "NN: <rpIdHash> <rp id>".
	var tokenRPs, cliRPs []string
	hashes := map[string]string{}
	for line := range strings.Lines(run(t, lines(pin), nil, tools.token, "-L", "-r", v.hidraw)) {
		if f := strings.Fields(line); len(f) == 3 {
			tokenRPs = append(tokenRPs, f[2])
			hashes[f[2]] = stdToURL(t, f[1])
		}
	}
	for _, c := range list.Credentials {
		if !slices.Contains(cliRPs, c.RPID) {
			cliRPs = append(cliRPs, c.RPID)
		}
		if c.RPIDHash != hashes[c.RPID] {
			t.Errorf("%s: rpIdHash %s, fido2-token says %s", c.RPID, c.RPIDHash, hashes[c.RPID])
		}
	}
	slices.Sort(tokenRPs)
	slices.Sort(cliRPs)
	if !slices.Equal(tokenRPs, cliRPs) || len(cliRPs) != 2 {
		t.Errorf("fido2-token -L -r lists RPs %v, vauth creds list %v", tokenRPs, cliRPs)
	}

	// The credentials of each RP, as fido2-token -L -k lists them.
	for _, rp := range tokenRPs {
		token := parseTokenCredentials(t, run(t, lines(pin), nil, tools.token, "-L", "-k", rp, v.hidraw))
		var mine []cliCredential
		for _, c := range list.Credentials {
			if c.RPID == rp {
				mine = append(mine, c)
			}
		}
		if len(token) != len(mine) {
			t.Fatalf("%s: fido2-token lists %d credentials, vauth %d:\n%+v\n%+v", rp, len(token), len(mine), token, mine)
		}
		for _, tc := range token {
			i := slices.IndexFunc(mine, func(c cliCredential) bool { return c.ID == stdToURL(t, tc.id) })
			if i < 0 {
				t.Errorf("%s: fido2-token lists credential %s, vauth does not", rp, tc.id)
				continue
			}
			c := mine[i]
			if c.UserID != stdToURL(t, tc.userID) || c.UserDisplayName != tc.displayName || !strings.EqualFold(c.AlgName, tc.alg) ||
				protLevel(tc.prot) != c.CredProtect {
				t.Errorf("%s: fido2-token says %+v, vauth %+v", rp, tc, c)
			}
		}
	}
	for _, c := range made[:3] {
		if !slices.ContainsFunc(list.Credentials, func(l cliCredential) bool { return l.ID == stdToURL(t, c.id) }) {
			t.Errorf("vauth creds list --device lacks %s (%s)", c.id, c.rpID)
		}
	}

	// Delete two.example.org's discoverable credential: fido2-assert finds
	// no credential for it any more; one.example.org's still sign.
	gone := made[2]
	run(t, "", env, vauthBin, "creds", "delete", "--yes", "--device", v.hidraw, stdToURL(t, gone.id))
	if out, stderr, err := runResult(t, lines(b64(randomBytes(32)), gone.rpID), nil, tools.assert, "-G", "-r", v.hidraw); err == nil {
		t.Errorf("fido2-assert -G -r %s succeeded after vauth creds delete --device:\n%s%s", gone.rpID, out, stderr)
	}
	if out := run(t, lines(pin), nil, tools.token, "-L", "-r", v.hidraw); strings.Contains(out, gone.rpID) {
		t.Errorf("fido2-token -L -r still lists %s:\n%s", gone.rpID, out)
	}
	kept := made[0]
	in := lines(b64(randomBytes(32)), kept.rpID, kept.id)
	if _, stderr, err := runResult(t, in, nil, tools.assert, "-G", "-p", v.hidraw); err != nil {
		t.Errorf("fido2-assert with %s's remaining credential: %v\n%s", kept.rpID, err, stderr)
	}
}
