package ctap2_test

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/pinuv"
)

// extensionOutput returns the authenticator data's output of extension id
// and whether there is one.
func extensionOutput(t *testing.T, authData []byte, id string) (any, bool) {
	t.Helper()
	var v any
	ok, err := parseAuthData(t, authData).Extension(id, &v)
	if err != nil {
		t.Fatal(err)
	}
	return v, ok
}

// TestThirdPartyPayment: a makeCredential input of true marks the
// credential of either kind and outputs true; false or no input leave it
// unmarked with no output. A getAssertion input of true outputs the mark,
// also after a restart; without it there is no output. Credential
// management reports the mark of every discoverable credential.
func TestThirdPartyPayment(t *testing.T) {
	const ext = "thirdPartyPayment"
	for _, rk := range []bool{false, true} {
		for _, tc := range []struct {
			name     string
			input    any // nil: no input
			marked   bool
			mcOutput any // nil: none
		}{
			{"input true", true, true, true},
			{"input false", false, false, nil},
			{"no input", nil, false, nil},
		} {
			t.Run(fmt.Sprintf("%s rk %v", tc.name, rk), func(t *testing.T) {
				d := newDevice(t)
				mc := mcRequest("pay.example", "u", rk, nil)
				if tc.input != nil {
					mc.Extensions = map[string]any{ext: tc.input}
				}
				id, resp := d.register(mc)
				if got, ok := extensionOutput(t, resp.AuthData, ext); ok != (tc.mcOutput != nil) || (ok && got != tc.mcOutput) {
					t.Fatalf("makeCredential output %v (present %v), want %v", got, ok, tc.mcOutput)
				}
				d.restart()
				for _, input := range []any{nil, true, false} {
					ga := gaRequest("pay.example", nil, id)
					if input != nil {
						ga.Extensions = map[string]any{ext: input}
					}
					as, err := d.c.GetAssertion(t.Context(), ga)
					if err != nil {
						t.Fatal(err)
					}
					got, ok := extensionOutput(t, as.AuthData, ext)
					if want := input == true; ok != want || (ok && got != tc.marked) {
						t.Errorf("getAssertion input %v: output %v (present %v), want %v", input, got, ok, tc.marked)
					}
				}
				if !rk {
					return
				}
				if err := d.c.SetPIN(t.Context(), pinuv.ProtocolTwoVersion, "1234"); err != nil {
					t.Fatal(err)
				}
				h := sha256.Sum256([]byte("pay.example"))
				creds, err := d.cm(d.token(pinuv.ProtocolTwoVersion, "1234", pinuv.PermissionCM, "")).Credentials(t.Context(), h[:])
				if err != nil || len(creds) != 1 || creds[0].ThirdPartyPayment != tc.marked {
					t.Fatalf("enumerateCredentials: %+v, %v; want thirdPartyPayment %v", creds, err, tc.marked)
				}
				status, raw := enumerateCredentialsRaw(t, d, h[:])
				var mark bool
				if status != ctap2.CTAP2OK || cbor.Unmarshal(raw[0x0C], &mark) != nil || mark != tc.marked {
					t.Errorf("enumerateCredentials: %v, thirdPartyPayment (0x0C) %x, want %v", status, raw[0x0C], tc.marked)
				}
			})
		}
	}
}

// enumerateCredentialsRaw sends enumerateCredentialsBegin with a fresh cm
// token and returns the status and the raw response map.
func enumerateCredentialsRaw(t *testing.T, d *device, rpIDHash []byte) (ctap2.Status, map[int]cbor.RawMessage) {
	t.Helper()
	tok := d.token(pinuv.ProtocolTwoVersion, "1234", pinuv.PermissionCM, "")
	sub, err := canonical(map[int]any{1: rpIDHash})
	if err != nil {
		t.Fatal(err)
	}
	status, resp := d.raw(cmdCredMgmt, map[int]any{
		1: ctap2.SubCmdEnumerateCredentialsBegin,
		2: cbor.RawMessage(sub),
		3: tok.ProtocolVersion(),
		4: tok.Param(append([]byte{ctap2.SubCmdEnumerateCredentialsBegin}, sub...)),
	})
	return status, resp
}

// TestThirdPartyPaymentInputType: an input that is not a boolean is
// CTAP2_ERR_CBOR_UNEXPECTED_TYPE in both commands.
func TestThirdPartyPaymentInputType(t *testing.T) {
	d := newDevice(t)
	mc := mcRequest("pay.example", "u", false, nil)
	mc.Extensions = map[string]any{"thirdPartyPayment": "yes"}
	_, err := d.c.MakeCredential(t.Context(), mc)
	want(t, "makeCredential", err, ctap2.CTAP2ErrCBORUnexpectedType)
	id, _ := d.register(mcRequest("pay.example", "u", false, nil))
	ga := gaRequest("pay.example", nil, id)
	ga.Extensions = map[string]any{"thirdPartyPayment": 1}
	_, err = d.c.GetAssertion(t.Context(), ga)
	want(t, "getAssertion", err, ctap2.CTAP2ErrCBORUnexpectedType)
}
