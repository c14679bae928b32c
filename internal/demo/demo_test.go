package demo

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/internal/presence"
	"github.com/vauth/vauth/keystore"
)

func openDaemon(t *testing.T, att string, aaguid [16]byte) *daemon.Daemon {
	t.Helper()
	d, err := daemon.Open(daemon.Options{Store: t.TempDir(), Keystore: "soft", Attestation: att, AAGUID: aaguid, Presence: presence.Always()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestRelyingPartyVerifies runs every registration and assertion vauth
// produces through go-webauthn: each attestation kind, every algorithm,
// discoverable and not; flags, AAGUID and counters as a relying party sees
// them.
func TestRelyingPartyVerifies(t *testing.T) {
	aaguid, err := attestation.ParseAAGUID("0b5e4c1d-9e2a-4f6b-8a3d-2c7e1f9a6b45")
	if err != nil {
		t.Fatal(err)
	}
	for _, att := range []struct {
		kind, format, typ string
		conveyance        protocol.ConveyancePreference
	}{
		{"none", "none", "none", protocol.PreferDirectAttestation},
		{"self", "packed", "basic_surrogate", protocol.PreferDirectAttestation}, // FIDO metadata's name for self attestation
		{"packed", "packed", "basic_full", protocol.PreferDirectAttestation},
		{"packed", "none", "none", protocol.PreferNoAttestation}, // the client strips it
	} {
		for _, a := range keystore.Preferred() {
			alg := struct {
				name string
				alg  webauthncose.COSEAlgorithmIdentifier
			}{keystore.AlgorithmName(a), webauthncose.COSEAlgorithmIdentifier(a)}
			for _, rk := range []protocol.ResidentKeyRequirement{protocol.ResidentKeyRequirementRequired, protocol.ResidentKeyRequirementDiscouraged} {
				name := fmt.Sprintf("%s-%s-%s-%s", att.kind, att.conveyance, alg.name, rk)
				t.Run(name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					d := openDaemon(t, att.kind, aaguid)
					c, err := Connect(ctx, d, Origin)
					if err != nil {
						t.Fatal(err)
					}
					rp, err := NewRP(RPID, Origin)
					if err != nil {
						t.Fatal(err)
					}
					u := &User{ID: []byte("user-" + name), Name: "u@example.com", DisplayName: "U"}
					cred, err := rp.Register(ctx, c, u,
						gowebauthn.WithResidentKeyRequirement(rk),
						gowebauthn.WithConveyancePreference(att.conveyance),
						gowebauthn.WithCredentialParameters([]protocol.CredentialParameter{{Type: protocol.PublicKeyCredentialType, Algorithm: alg.alg}}))
					if err != nil {
						t.Fatal(err)
					}
					if cred.AttestationFormat != att.format || cred.AttestationType != att.typ {
						t.Errorf("attestation = %s/%s, want %s/%s", cred.AttestationFormat, cred.AttestationType, att.format, att.typ)
					}
					if !bytes.Equal(cred.Authenticator.AAGUID, aaguid[:]) {
						t.Errorf("AAGUID = %x, want %x", cred.Authenticator.AAGUID, aaguid)
					}
					if !cred.Flags.UserPresent || cred.Flags.UserVerified || cred.Flags.BackupEligible || cred.Flags.BackupState {
						t.Errorf("registration flags = %+v, want UP only", cred.Flags)
					}
					last := cred.Authenticator.SignCount
					for i := range 3 {
						var who *User
						if rk == protocol.ResidentKeyRequirementRequired && i%2 == 0 {
							who, cred, err = rp.Login(ctx, c, nil) // passkey: no username
						} else {
							who, cred, err = rp.Login(ctx, c, u)
						}
						if err != nil {
							t.Fatalf("login %d: %v", i, err)
						}
						if who != u {
							t.Fatalf("login %d signed in %v", i, who.Name)
						}
						if cred.Authenticator.SignCount <= last || cred.Authenticator.CloneWarning {
							t.Errorf("login %d: counter %d after %d", i, cred.Authenticator.SignCount, last)
						}
						if !cred.Flags.UserPresent || cred.Flags.UserVerified {
							t.Errorf("login %d flags = %+v, want UP only", i, cred.Flags)
						}
						last = cred.Authenticator.SignCount
					}
				})
			}
		}
	}
}

// A discoverable-only login must fail cleanly for a non-discoverable
// credential: the browser's NotAllowedError.
func TestPasskeyLoginWithoutPasskey(t *testing.T) {
	ctx := context.Background()
	d := openDaemon(t, "none", attestation.DefaultAAGUID)
	c, err := Connect(ctx, d, Origin)
	if err != nil {
		t.Fatal(err)
	}
	rp, err := NewRP(RPID, Origin)
	if err != nil {
		t.Fatal(err)
	}
	u := &User{ID: []byte("u"), Name: "u", DisplayName: "U"}
	if _, err := rp.Register(ctx, c, u, gowebauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementDiscouraged)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := rp.Login(ctx, c, nil); err == nil || !strings.Contains(err.Error(), "NotAllowedError") {
		t.Fatalf("passkey login without a passkey: %v, want NotAllowedError", err)
	}
}

func TestRunPrintsTheCeremony(t *testing.T) {
	d := openDaemon(t, "packed", attestation.DefaultAAGUID)
	var out bytes.Buffer
	if err := Run(context.Background(), &out, d); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"attestation    packed (basic_full)",
		"AAGUID         " + attestation.FormatAAGUID(attestation.DefaultAAGUID),
		"sign counter   1",
		"sign counter   2",
		"All ceremonies verified.",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}
