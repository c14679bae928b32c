package demo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"strings"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/webauthn"
)

// The demo's relying party. example.com is reserved for examples, so the
// demo can never be mistaken for a real site.
const (
	RPID   = "example.com"
	Origin = "https://example.com"
)

// Connect serves d's device on an in-memory CTAPHID pipe until ctx ends and
// returns a WebAuthn client for origin that talks through it.
func Connect(ctx context.Context, d *daemon.Daemon, origin string) (*webauthn.Client, error) {
	hc, err := d.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return webauthn.NewClient(hc, origin), nil
}

// Run registers a passkey for a demo user at a go-webauthn relying party and
// signs in with it twice (as a passkey, then by username), printing what the
// relying party received and verified at each step.
func Run(ctx context.Context, out io.Writer, d *daemon.Daemon) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	client, err := Connect(ctx, d, Origin)
	if err != nil {
		return err
	}
	rp, err := NewRP(RPID, Origin)
	if err != nil {
		return err
	}
	user := &User{ID: make([]byte, 16), Name: "alice@example.com", DisplayName: "Alice Example"}
	if _, err := rand.Read(user.ID); err != nil {
		return err
	}
	fmt.Fprintf(out, "vauth demo: relying party %q (go-webauthn), origin %s, keystore %s\n\n", RPID, Origin, d.Keystore.Backend())

	fmt.Fprintln(out, "1. Registration of a passkey (discoverable credential)")
	cred, err := rp.Register(ctx, client, user,
		gowebauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		gowebauthn.WithConveyancePreference(protocol.PreferDirectAttestation))
	if err != nil {
		return fmt.Errorf("registration: %w", err)
	}
	row(out, "user", fmt.Sprintf("%s (%s), user handle %s", user.Name, user.DisplayName, short(user.ID)))
	row(out, "credential ID", fmt.Sprintf("%s (%d bytes)", short(cred.ID), len(cred.ID)))
	row(out, "algorithm", algorithm(cred.PublicKey))
	row(out, "AAGUID", aaguid(cred.Authenticator.AAGUID))
	row(out, "attestation", fmt.Sprintf("%s (%s)", cred.AttestationFormat, cred.AttestationType))
	row(out, "flags", flags(cred.Flags))
	row(out, "sign counter", fmt.Sprint(cred.Authenticator.SignCount))
	row(out, "verified", "yes: go-webauthn accepted the attestation and the client data")

	fmt.Fprintln(out, "\n2. Sign-in with the passkey (no username: discoverable credential)")
	who, cred, err := rp.Login(ctx, client, nil)
	if err != nil {
		return fmt.Errorf("passkey sign-in: %w", err)
	}
	loginRows(out, who, cred)

	fmt.Fprintln(out, "\n3. Sign-in by username (allowCredentials)")
	who, cred, err = rp.Login(ctx, client, user)
	if err != nil {
		return fmt.Errorf("sign-in: %w", err)
	}
	loginRows(out, who, cred)
	fmt.Fprintln(out, "\nAll ceremonies verified.")
	return nil
}

func loginRows(out io.Writer, u *User, cred *gowebauthn.Credential) {
	row(out, "signed in as", u.Name)
	row(out, "credential ID", short(cred.ID))
	row(out, "flags", flags(cred.Flags))
	row(out, "sign counter", fmt.Sprintf("%d (increased; no clone warning: %v)", cred.Authenticator.SignCount, !cred.Authenticator.CloneWarning))
	row(out, "verified", "yes: go-webauthn checked the signature with the registered public key")
}

func row(out io.Writer, k, v string) { fmt.Fprintf(out, "   %-14s %s\n", k, v) }

func short(b []byte) string {
	s := base64.RawURLEncoding.EncodeToString(b)
	if len(s) > 22 {
		return s[:10] + "…" + s[len(s)-10:]
	}
	return s
}

func flags(f gowebauthn.CredentialFlags) string {
	var names []string
	for _, x := range []struct {
		on   bool
		name string
	}{
		{f.UserPresent, "UP (user present)"},
		{f.UserVerified, "UV (user verified)"},
		{f.BackupEligible, "BE (backup eligible)"},
		{f.BackupState, "BS (backed up)"},
	} {
		if x.on {
			names = append(names, x.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func aaguid(b []byte) string {
	var a [16]byte
	if copy(a[:], b) != 16 {
		return "(none)"
	}
	return attestation.FormatAAGUID(a)
}

func algorithm(coseKey []byte) string {
	k, err := cose.Parse(coseKey)
	if err != nil {
		return "unknown"
	}
	desc := map[int]string{
		cose.AlgES256:  "ECDSA P-256, SHA-256",
		cose.AlgES384:  "ECDSA P-384, SHA-384",
		cose.AlgES512:  "ECDSA P-521, SHA-512",
		cose.AlgES256K: "ECDSA secp256k1, SHA-256",
		cose.AlgEdDSA:  "Ed25519",
		cose.AlgRS256:  "RSASSA-PKCS1-v1_5, SHA-256",
		cose.AlgPS256:  "RSASSA-PSS, SHA-256",
	}[k.Alg]
	if desc == "" {
		return fmt.Sprint(k.Alg)
	}
	if k.Kty == cose.KtyRSA {
		desc = fmt.Sprintf("%s, %d bits", desc, 8*len(k.N))
	}
	return keystore.AlgorithmName(k.Alg) + " (" + desc + ")"
}
