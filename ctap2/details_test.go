package ctap2_test

import (
	"fmt"
	"testing"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/pinuv"
)

// TestForcePINChangeTokenIsPinInvalid: under forcePINChange a right PIN
// gets CTAP2_ERR_PIN_INVALID (CTAP 2.1 §6.5.5.7.1, §6.5.5.7.2) from both
// PIN subcommands and both protocols, costs no retry, and a token comes
// again once the PIN is changed. Built-in user verification is not the
// PIN and still gives a token.
func TestForcePINChangeTokenIsPinInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		get  func(d *device, version int) error
	}{
		{"getPinToken", func(d *device, version int) error {
			_, err := d.c.GetPinToken(d.t.Context(), version, "1234")
			return err
		}},
		{"getPinUvAuthTokenUsingPinWithPermissions", func(d *device, version int) error {
			_, err := d.c.GetPinUvAuthTokenUsingPIN(d.t.Context(), version, "1234", pinuv.PermissionGA, "example.com")
			return err
		}},
	} {
		for _, version := range protocols {
			t.Run(fmt.Sprintf("%s protocol %d", tc.name, version), func(t *testing.T) {
				d := newDevice(t, withUV)
				if err := d.c.SetPIN(t.Context(), version, "1234"); err != nil {
					t.Fatal(err)
				}
				force := true
				if err := d.a.SetPINState(ctap2.PINChange{ForcePINChange: &force}); err != nil {
					t.Fatal(err)
				}
				want(t, "right PIN under forcePINChange", tc.get(d, version), ctap2.CTAP2ErrPinInvalid)
				if st := d.a.PINStatus(); st.PINRetries != pinuv.MaxPINRetries || !st.ForcePINChange {
					t.Fatalf("after the refusal: %+v", st)
				}
				if _, err := d.c.GetPinUvAuthTokenUsingUV(t.Context(), version, pinuv.PermissionGA, "example.com"); err != nil {
					t.Fatalf("built-in UV under forcePINChange: %v", err)
				}
				if err := d.c.ChangePIN(t.Context(), version, "1234", "5678"); err != nil {
					t.Fatal(err)
				}
				_, err := d.c.GetPinToken(t.Context(), version, "5678")
				want(t, "token after the change", err, ctap2.CTAP2OK)
			})
		}
	}
}

// TestGetPINRetriesWithoutPIN: getPINRetries is CTAP2_ERR_PIN_NOT_SET
// until a PIN is set, then reports the retries; getUVRetries does not
// depend on a PIN.
func TestGetPINRetriesWithoutPIN(t *testing.T) {
	d := newDevice(t, withUV)
	ctx := t.Context()
	_, _, err := d.c.PINRetries(ctx)
	want(t, "getPINRetries without a PIN", err, ctap2.CTAP2ErrPinNotSet)
	if n, err := d.c.UVRetries(ctx); err != nil || n != ctap2.MaxUVRetries {
		t.Fatalf("getUVRetries without a PIN: %d, %v", n, err)
	}
	if err := d.c.SetPIN(ctx, pinuv.ProtocolTwoVersion, "1234"); err != nil {
		t.Fatal(err)
	}
	if n, powerCycle, err := d.c.PINRetries(ctx); err != nil || n != pinuv.MaxPINRetries || powerCycle {
		t.Fatalf("getPINRetries with a PIN: %d, %v, %v", n, powerCycle, err)
	}
	if err := d.c.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	_, _, err = d.c.PINRetries(ctx)
	want(t, "getPINRetries after reset", err, ctap2.CTAP2ErrPinNotSet)
}
