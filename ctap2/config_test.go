package ctap2_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/ctap2/pinuv"
)

// TestConfigAuthorization: without a PIN or built-in UV nobody can be
// verified, so authenticatorConfig needs no token (but for alwaysUv's
// sake); once protected, it needs one with the acfg permission.
func TestConfigAuthorization(t *testing.T) {
	for _, version := range protocols {
		d := newDevice(t)
		ctx := t.Context()
		if err := d.c.ToggleAlwaysUV(ctx, nil); err != nil {
			t.Fatalf("toggleAlwaysUv, unprotected: %v", err)
		}
		err := d.c.SetMinPINLength(ctx, nil, client.MinPINLength{NewMinPINLength: 5})
		want(t, "setMinPINLength with alwaysUv and no token", err, ctap2.CTAP2ErrPUATRequired)
		if err := d.c.ToggleAlwaysUV(ctx, nil); err != nil {
			t.Fatalf("toggleAlwaysUv off without a token: %v", err)
		}
		if err := d.c.SetMinPINLength(ctx, nil, client.MinPINLength{NewMinPINLength: 5}); err != nil {
			t.Fatalf("setMinPINLength, unprotected: %v", err)
		}
		if err := d.c.SetPIN(ctx, version, "12345"); err != nil {
			t.Fatal(err)
		}
		want(t, "toggleAlwaysUv without a token", d.c.ToggleAlwaysUV(ctx, nil), ctap2.CTAP2ErrPUATRequired)
		noACFG := d.token(version, "12345", pinuv.PermissionMC|pinuv.PermissionCM, "")
		want(t, "toggleAlwaysUv with an mc|cm token", d.c.ToggleAlwaysUV(ctx, noACFG), ctap2.CTAP2ErrPinAuthInvalid)
		acfg := d.token(version, "12345", pinuv.PermissionACFG, "")
		forged := *acfg
		forged.Value = slices.Clone(acfg.Value)
		forged.Value[0] ^= 1
		want(t, "toggleAlwaysUv with a forged param", d.c.ToggleAlwaysUV(ctx, &forged), ctap2.CTAP2ErrPinAuthInvalid)
		if err := d.c.ToggleAlwaysUV(ctx, acfg); err != nil {
			t.Fatalf("toggleAlwaysUv: %v", err)
		}
		if err := d.c.ToggleAlwaysUV(ctx, acfg); err != nil { // acfg is not spent
			t.Fatalf("toggleAlwaysUv again: %v", err)
		}
		if d.info().Options["alwaysUv"] {
			t.Fatal("alwaysUv on after two toggles")
		}
		for _, tc := range []struct {
			name   string
			params map[int]any
			want   ctap2.Status
		}{
			{"no subCommand", map[int]any{3: version}, ctap2.CTAP2ErrMissingParameter},
			{"unknown subCommand", map[int]any{1: 0x04}, ctap2.CTAP2ErrInvalidSubcommand},
			{"vendorPrototype", map[int]any{1: 0xff}, ctap2.CTAP2ErrInvalidSubcommand},
			{"enableEnterpriseAttestation, not capable", map[int]any{1: 0x01}, ctap2.CTAP1ErrInvalidParameter},
			{"no pinUvAuthProtocol", map[int]any{1: 0x02, 4: acfg.Param([]byte{2})}, ctap2.CTAP2ErrMissingParameter},
			{"pinUvAuthProtocol 3", map[int]any{1: 0x02, 3: 3, 4: acfg.Param([]byte{2})}, ctap2.CTAP1ErrInvalidParameter},
			{"pinUvAuthParam over another message", map[int]any{1: 0x02, 3: version, 4: acfg.Param([]byte{0x0d, 0x02})}, ctap2.CTAP2ErrPinAuthInvalid},
			{"newMinPINLength as text", map[int]any{1: 0x03, 2: map[int]any{1: "8"}}, ctap2.CTAP2ErrCBORUnexpectedType},
			{"minPinLengthRPIDs of numbers", map[int]any{1: 0x03, 2: map[int]any{2: []any{1}}}, ctap2.CTAP2ErrCBORUnexpectedType},
		} {
			if got, _ := d.raw(cmdConfig, tc.params); got != tc.want {
				t.Errorf("protocol %d, %s: %v, want %v", version, tc.name, got, tc.want)
			}
		}
	}
}

// TestSetMinPINLength: the minimum only grows; a shorter current PIN (or
// forceChangePin) forces a PIN change, and no token is issued with the PIN
// until then.
func TestSetMinPINLength(t *testing.T) {
	d := newDevice(t)
	ctx := t.Context()
	if err := d.c.SetPIN(ctx, 2, "1234"); err != nil {
		t.Fatal(err)
	}
	acfg := d.token(2, "1234", pinuv.PermissionACFG, "")
	set := func(p client.MinPINLength) error { return d.c.SetMinPINLength(ctx, acfg, p) }

	if err := set(client.MinPINLength{NewMinPINLength: 4}); err != nil {
		t.Fatalf("the same minimum: %v", err)
	}
	if d.info().ForcePINChange {
		t.Fatal("forcePINChange with a long enough PIN")
	}
	want(t, "64 code points", set(client.MinPINLength{NewMinPINLength: 64}), ctap2.CTAP2ErrPinPolicyViolation)
	rpIDs := make([]string, ctap2.MaxRPIDsForSetMinPINLength+1)
	for i := range rpIDs {
		rpIDs[i] = strings.Repeat("a", i+1) + ".example"
	}
	want(t, "too many RP IDs", set(client.MinPINLength{RPIDs: rpIDs}), ctap2.CTAP1ErrInvalidLength)
	if err := set(client.MinPINLength{NewMinPINLength: 6, RPIDs: rpIDs[:2]}); err != nil {
		t.Fatal(err)
	}
	inf := d.info()
	if inf.MinPINLength != 6 || !inf.ForcePINChange {
		t.Fatalf("minPINLength %d, forcePINChange %v", inf.MinPINLength, inf.ForcePINChange)
	}
	if got := storedRPIDs(t, d); !slices.Equal(got, rpIDs[:2]) {
		t.Fatalf("stored minPinLengthRPIDs %v", got)
	}
	want(t, "lowering the minimum", set(client.MinPINLength{NewMinPINLength: 5}), ctap2.CTAP2ErrPinPolicyViolation)

	_, err := d.c.GetPinUvAuthTokenUsingPIN(ctx, 2, "1234", pinuv.PermissionMC, "")
	want(t, "token while forcePINChange", err, ctap2.CTAP2ErrPinInvalid)
	_, err = d.c.GetPinToken(ctx, 1, "1234")
	want(t, "getPinToken while forcePINChange", err, ctap2.CTAP2ErrPinInvalid)
	if retries, _, _ := d.c.PINRetries(ctx); retries != 8 {
		t.Fatalf("pinRetries %d: the PIN was right", retries)
	}
	want(t, "a new PIN below the minimum", d.c.ChangePIN(ctx, 2, "1234", "12345"), ctap2.CTAP2ErrPinPolicyViolation)
	if err := d.c.ChangePIN(ctx, 1, "1234", "123456"); err != nil {
		t.Fatalf("changePIN: %v", err)
	}
	if d.info().ForcePINChange {
		t.Fatal("forcePINChange after changePIN")
	}

	// forceChangePin: the same PIN again is refused.
	acfg = d.token(2, "123456", pinuv.PermissionACFG, "")
	if err := set(client.MinPINLength{ForceChangePIN: true}); err != nil {
		t.Fatal(err)
	}
	if !d.info().ForcePINChange {
		t.Fatal("forceChangePin did not set forcePINChange")
	}
	want(t, "changing to the same PIN", d.c.ChangePIN(ctx, 2, "123456", "123456"), ctap2.CTAP2ErrPinPolicyViolation)
	if err := d.c.ChangePIN(ctx, 2, "123456", "654321"); err != nil {
		t.Fatal(err)
	}
	d.restart()
	if inf := d.info(); inf.MinPINLength != 6 || inf.ForcePINChange {
		t.Fatalf("after a restart: minPINLength %d, forcePINChange %v", inf.MinPINLength, inf.ForcePINChange)
	}

	fresh := newDevice(t)
	err = fresh.c.SetMinPINLength(ctx, nil, client.MinPINLength{ForceChangePIN: true})
	want(t, "forceChangePin without a PIN", err, ctap2.CTAP2ErrPinNotSet)
}

// storedRPIDs reads minPinLengthRPIDs (key 7) from the PIN state record.
func storedRPIDs(t *testing.T, d *device) []string {
	t.Helper()
	raw, err := d.store.GetBlob("ctap2/pin-state")
	if err != nil {
		t.Fatal(err)
	}
	var record struct {
		RPIDs []string `cbor:"7,keyasint"`
	}
	if err := cbor.Unmarshal(raw, &record); err != nil {
		t.Fatal(err)
	}
	return record.RPIDs
}

// TestEnterpriseAttestation: an enterprise attestation capable
// authenticator reports "ep" and turns it on with
// enableEnterpriseAttestation; makeCredential's enterpriseAttestation is
// refused until then.
func TestEnterpriseAttestation(t *testing.T) {
	d := newDevice(t, withEA)
	ctx := t.Context()
	if ep, ok := d.info().Options["ep"]; !ok || ep {
		t.Fatalf("ep %v (present %v), want false", ep, ok)
	}
	withEA := func(kind int) map[int]any {
		req := mcRequest("example.com", "alice", false, nil)
		return map[int]any{1: req.ClientDataHash, 2: req.RP, 3: req.User, 4: req.PubKeyCredParams, 10: kind}
	}
	if got, _ := d.raw(cmdMakeCredential, withEA(1)); got != ctap2.CTAP1ErrInvalidParameter {
		t.Fatalf("enterpriseAttestation before enabling: %v", got)
	}
	if err := d.c.EnableEnterpriseAttestation(ctx, nil); err != nil {
		t.Fatal(err)
	}
	d.restart()
	if !d.info().Options["ep"] {
		t.Fatal("ep false after enabling and a restart")
	}
	for _, tc := range []struct {
		kind int
		want ctap2.Status
	}{{1, ctap2.CTAP2OK}, {2, ctap2.CTAP2OK}, {3, ctap2.CTAP1ErrInvalidParameter}, {0, ctap2.CTAP1ErrInvalidParameter}} {
		if got, _ := d.raw(cmdMakeCredential, withEA(tc.kind)); got != tc.want {
			t.Errorf("enterpriseAttestation %d: %v, want %v", tc.kind, got, tc.want)
		}
	}
}
