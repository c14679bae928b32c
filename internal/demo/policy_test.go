package demo

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/vauth/vauth/attestation"
)

// The policy run shows each outcome with its log line: accepted, refused
// for the AAGUID, refused for untrusted attestation, and without
// enforcement the untrusted attestation is accepted.
func TestRunPolicy(t *testing.T) {
	const (
		own = "b8128e44-67f9-4fa1-824e-527d65b2e874"
		ios = "90a3ccdf-635c-4729-a248-9b709135078f"
	)
	line := func(aaguid, result, reason string) string {
		l := "registration aaguid=" + aaguid + ` user="[a-z]+@example.com" result=` + result
		if reason != "" {
			l += ` reason="` + reason
		}
		return l
	}
	tests := []struct {
		name   string
		kind   string
		policy Policy
		want   []string // log lines, in order (regexps)
	}{
		{"enforced, allow list", attestation.KindPacked, Policy{EnforceAttestation: true},
			[]string{line(own, "accepted", ""), line(ios, "refused", "aaguid not on the allow list"), line(own, "refused", "untrusted attestation: ")}},
		{"enforced, block list", attestation.KindPacked, Policy{EnforceAttestation: true, Block: []string{"microsoft-authenticator-ios"}},
			[]string{line(own, "accepted", ""), line(ios, "refused", "aaguid on the block list"), line(own, "refused", "untrusted attestation: ")}},
		{"not enforced", attestation.KindPacked, Policy{Allow: []string{own}},
			[]string{line(own, "accepted", ""), line(ios, "refused", "aaguid not on the allow list"), line(own, "accepted", "")}},
		{"own AAGUID blocked", attestation.KindPacked, Policy{EnforceAttestation: true, Block: []string{"vauth"}},
			[]string{line(own, "refused", "aaguid on the block list"), line(own, "refused", "aaguid on the block list"), line(own, "refused", "aaguid on the block list")}},
		{"enforced, none attestation", attestation.KindNone, Policy{EnforceAttestation: true},
			[]string{line(own, "refused", `untrusted attestation: none \(none\) proves no authenticator model`), line(ios, "refused", "aaguid not on the allow list"), line(own, "refused", "untrusted attestation: ")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := openDaemon(t, tc.kind, attestation.DefaultAAGUID)
			var out bytes.Buffer
			if err := RunPolicy(context.Background(), &out, d, tc.policy); err != nil {
				t.Fatalf("RunPolicy: %v\n%s", err, out.String())
			}
			var got []string
			for _, l := range strings.Split(out.String(), "\n") {
				if strings.HasPrefix(l, "registration ") {
					got = append(got, l)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d log lines; want %d:\n%s", len(got), len(tc.want), out.String())
			}
			for i, w := range tc.want {
				if !regexp.MustCompile("^" + w).MatchString(got[i]) {
					t.Errorf("line %d: %s\nwant %s", i+1, got[i], w)
				}
			}
		})
	}
}
