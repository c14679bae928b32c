package control

import (
	"errors"
	"net/http"
	"testing"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/internal/daemon"
)

// TestInfoProfile: Info reports the profile the authenticator behaves as;
// under u2f, Change PIN (through authenticatorClientPIN) finds no CTAP2
// and says so (409 with the CTAP status), while Set PIN state works.
func TestInfoProfile(t *testing.T) {
	for _, p := range []ctap2.Profile{ctap2.ProfileCTAP21, ctap2.ProfileCTAP20, ctap2.ProfileU2F} {
		f := start(t, daemon.Options{Profile: p})
		info, err := f.ctl.Info(f.ctx)
		if err != nil || info.Profile != p.String() {
			t.Errorf("Info with %v = %+v, %v", p, info, err)
		}
		pin := "1234"
		if err := f.ctl.SetPIN(f.ctx, PINChange{PIN: &pin}); err != nil {
			t.Fatalf("%v: set PIN: %v", p, err)
		}
		err = f.ctl.ChangePIN(f.ctx, pin, "5678")
		var ae *APIError
		switch {
		case p == ctap2.ProfileU2F && (!errors.As(err, &ae) || ae.StatusCode != http.StatusConflict || ae.CTAPStatus != ctap2.CTAP1ErrInvalidCommand):
			t.Errorf("u2f: change PIN: %v, want 409 CTAP1_ERR_INVALID_COMMAND", err)
		case p != ctap2.ProfileU2F && err != nil:
			t.Errorf("%v: change PIN: %v", p, err)
		}
	}
}
