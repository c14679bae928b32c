package demo

import (
	"context"
	"crypto/x509"
	"testing"

	"github.com/fxamacker/cbor/v2"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/internal/presence"
)

// TestEnterpriseAttestation runs the daemon as `vauth run --enterprise-rp
// corp.example.com` does: once a platform enables ep, a registration asking
// for enterprise attestation at the listed RP gets the device-identifying
// certificate; any other RP gets the ordinary batch certificate. go-webauthn
// verifies both.
func TestEnterpriseAttestation(t *testing.T) {
	ctx := context.Background()
	d, err := daemon.Open(daemon.Options{Store: t.TempDir(), Keystore: "soft", Presence: presence.Always(), EnterpriseRPIDs: []string{"corp.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	platform := client.New(client.Direct(d.Authenticator))
	inf, err := platform.GetInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ep, ok := inf.Options["ep"]; !ok || ep {
		t.Fatalf("getInfo ep = %v (present %v), want present and off until enabled", ep, ok)
	}
	if err := platform.EnableEnterpriseAttestation(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rpID, commonName string
	}{
		{"corp.example.com", "vauth Enterprise Attestation"},
		{"shop.example.net", "vauth Authenticator Attestation"},
	} {
		t.Run(tc.rpID, func(t *testing.T) {
			origin := "https://" + tc.rpID
			c, err := Connect(ctx, d, origin)
			if err != nil {
				t.Fatal(err)
			}
			rp, err := NewRP(tc.rpID, origin)
			if err != nil {
				t.Fatal(err)
			}
			cred, err := rp.Register(ctx, c, &User{ID: []byte("employee"), Name: "e", DisplayName: "E"},
				gowebauthn.WithConveyancePreference(protocol.PreferEnterpriseAttestation))
			if err != nil {
				t.Fatal(err)
			}
			var obj struct {
				AttStmt struct {
					X5C [][]byte `cbor:"x5c"`
				} `cbor:"attStmt"`
			}
			if err := cbor.Unmarshal(cred.Attestation.Object, &obj); err != nil || len(obj.AttStmt.X5C) == 0 {
				t.Fatalf("attestation object without x5c: %v", err)
			}
			leaf, err := x509.ParseCertificate(obj.AttStmt.X5C[0])
			if err != nil {
				t.Fatal(err)
			}
			if leaf.Subject.CommonName != tc.commonName || cred.AttestationType != "basic_full" {
				t.Errorf("attestation %s by %q, want basic_full by %q", cred.AttestationType, leaf.Subject.CommonName, tc.commonName)
			}
			if aaguid := attestation.FormatAAGUID([16]byte(cred.Authenticator.AAGUID)); aaguid != attestation.FormatAAGUID(attestation.DefaultAAGUID) {
				t.Errorf("AAGUID %s", aaguid)
			}
		})
	}
}
