package control

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/internal/demo"
	"github.com/vauth/vauth/internal/mds"
	"github.com/vauth/vauth/internal/presence"
)

// The BLOB and its root are served without the token, as an MDS is; the
// settings need it; a BLOB reflects the settings set, and a query
// overrides them for one BLOB.
func TestMetadataRoutes(t *testing.T) {
	store := t.TempDir()
	srv, err := Open(daemon.Options{Store: store, Keystore: "soft", Presence: presence.Always()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	l, ep, err := ListenTCP(store, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	go srv.Serve(ctx, l, ep.Token, nil)
	anon, owner := DialTCP(ep.URL, ""), DialTCP(ep.URL, ep.Token)

	rootPEM, err := anon.MetadataRoot(ctx)
	if err != nil {
		t.Fatalf("root without token: %v", err)
	}
	block, _ := pem.Decode(rootPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("root is not a PEM certificate: %q", rootPEM)
	}
	// statuses decodes the BLOB as go-webauthn does and lists the status of
	// each entry.
	statuses := func(blob []byte) map[string]string {
		t.Helper()
		md, err := demo.DecodeMetadata(blob, rootPEM)
		if err != nil {
			t.Fatalf("BLOB: %v", err)
		}
		out := map[string]string{}
		for _, e := range md.Parsed.Entries {
			out[e.AaGUID.String()] = string(e.StatusReports[0].Status)
		}
		return out
	}
	own, ios := attestation.FormatAAGUID(attestation.DefaultAAGUID), "90a3ccdf-635c-4729-a248-9b709135078f"

	blob, err := anon.MetadataBLOB(ctx, nil)
	if err != nil {
		t.Fatalf("BLOB without token: %v", err)
	}
	if got := statuses(blob); len(got) != 1 || got[own] != mds.DefaultStatus {
		t.Fatalf("default BLOB entries %v; want %s: %s", got, own, mds.DefaultStatus)
	}
	set := mds.Settings{AAGUIDs: []string{"vauth", "microsoft-authenticator-ios"}, Status: map[string]string{own: "REVOKED"}}
	var ae *APIError
	if err := anon.SetMetadata(ctx, set); !errors.As(err, &ae) || ae.StatusCode != http.StatusUnauthorized {
		t.Fatalf("settings without token: %v; want 401", err)
	}
	if err := owner.SetMetadata(ctx, set); err != nil {
		t.Fatal(err)
	}
	blob, err = anon.MetadataBLOB(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(blob); len(got) != 2 || got[own] != "REVOKED" || got[ios] != mds.DefaultStatus {
		t.Fatalf("BLOB entries %v; want %s REVOKED and %s %s", got, own, ios, mds.DefaultStatus)
	}
	blob, err = anon.MetadataBLOB(ctx, &mds.Settings{AAGUIDs: []string{ios}, Status: map[string]string{ios: "FIDO_CERTIFIED_L1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(blob); len(got) != 1 || got[ios] != "FIDO_CERTIFIED_L1" {
		t.Fatalf("overridden BLOB entries %v; want only %s FIDO_CERTIFIED_L1", got, ios)
	}
	for name, bad := range map[string]mds.Settings{
		"unknown status":  {Status: map[string]string{own: "GREAT"}},
		"unlisted status": {AAGUIDs: []string{ios}, Status: map[string]string{own: "REVOKED"}},
		"bad AAGUID":      {AAGUIDs: []string{"not-a-key"}},
	} {
		if err := owner.SetMetadata(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v; want ErrInvalid", name, err)
		}
		if _, err := owner.MetadataBLOB(ctx, &bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s BLOB: %v; want ErrInvalid", name, err)
		}
	}
	st, err := owner.MetadataStatement(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.AAGUID != own || st.AttestationTypes[0] != "basic_full" || st.KeyProtection[0] != "software" {
		t.Fatalf("statement %+v", st)
	}
}
