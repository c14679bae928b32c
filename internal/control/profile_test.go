package control

import (
	"testing"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/internal/daemon"
)

// TestInfoProfile: Info reports the profile the authenticator behaves as.
func TestInfoProfile(t *testing.T) {
	for _, p := range []ctap2.Profile{ctap2.ProfileCTAP21, ctap2.ProfileCTAP20} {
		f := start(t, daemon.Options{Profile: p})
		info, err := f.ctl.Info(f.ctx)
		if err != nil || info.Profile != p.String() {
			t.Errorf("Info with %v = %+v, %v", p, info, err)
		}
	}
}
