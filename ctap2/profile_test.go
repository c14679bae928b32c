package ctap2_test

import (
	"bytes"
	"slices"
	"sort"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/ctap2/pinuv"
)

// The profiles tests compare, in the order of profileCase.want.
var comparedProfiles = [2]ctap2.Profile{ctap2.ProfileCTAP21, ctap2.ProfileCTAP20}

// withProfile makes the device behave as profile p.
func withProfile(p ctap2.Profile) option {
	return withConfig(func(c *ctap2.Config) { c.Profile = p })
}

// withTestPIN sets testPIN once the device is open, through protocol 1
// (the one both profiles have).
func (d *device) withTestPIN() *device {
	d.t.Helper()
	if err := d.c.SetPIN(d.t.Context(), pinuv.ProtocolOneVersion, testPIN); err != nil {
		d.t.Fatalf("setPIN: %v", err)
	}
	return d
}

// pinToken gets a token with getPinToken (0x05), the subcommand both
// profiles have.
func (d *device) pinToken() *client.Token {
	d.t.Helper()
	tok, err := d.c.GetPinToken(d.t.Context(), pinuv.ProtocolOneVersion, testPIN)
	if err != nil {
		d.t.Fatalf("getPinToken: %v", err)
	}
	return tok
}

// profileCase is one behaviour run under both profiles.
type profileCase struct {
	name string
	opts []option
	// run makes the request on a fresh device and returns its status.
	run  func(d *device) ctap2.Status
	want [2]ctap2.Status // under ctap2.1, ctap2.0
}

// mcStatus sends makeCredential req and returns its status.
func (d *device) mcStatus(req *client.MakeCredentialRequest) ctap2.Status {
	_, err := d.c.MakeCredential(d.t.Context(), req)
	return statusOf(err)
}

// gaStatus sends getAssertion req and returns its status.
func (d *device) gaStatus(req *client.GetAssertionRequest) ctap2.Status {
	_, err := d.c.GetAssertion(d.t.Context(), req)
	return statusOf(err)
}

// TestProfileDifferences runs each behaviour that CTAP 2.0 and CTAP 2.1
// specify differently (and a few they specify alike, to show that the 2.0
// profile kept them) under both profiles; docs/conformance.md cites the
// subtests by name.
func TestProfileDifferences(t *testing.T) {
	const rp = "example.com"
	cases := []profileCase{
		// CTAP 2.1's commands: CTAP1_ERR_INVALID_COMMAND from a 2.0 key.
		{name: "credentialManagement", run: func(d *device) ctap2.Status {
			s, _ := d.raw(ctap2.CmdCredentialManagement, map[int]any{1: 1})
			return s
		}, want: [2]ctap2.Status{ctap2.CTAP2ErrPUATRequired, ctap2.CTAP1ErrInvalidCommand}},
		{name: "credentialManagement preview", run: func(d *device) ctap2.Status {
			s, _ := d.raw(ctap2.CmdCredentialManagementPreview, map[int]any{1: 1})
			return s
		}, want: [2]ctap2.Status{ctap2.CTAP2ErrPUATRequired, ctap2.CTAP1ErrInvalidCommand}},
		{name: "selection", run: func(d *device) ctap2.Status {
			s, _ := d.raw(ctap2.CmdSelection, nil)
			return s
		}, want: [2]ctap2.Status{ctap2.CTAP2OK, ctap2.CTAP1ErrInvalidCommand}},
		{name: "largeBlobs", run: func(d *device) ctap2.Status {
			s, _ := d.raw(ctap2.CmdLargeBlobs, map[int]any{1: 16, 3: 0})
			return s
		}, want: [2]ctap2.Status{ctap2.CTAP2OK, ctap2.CTAP1ErrInvalidCommand}},
		{name: "config", run: func(d *device) ctap2.Status {
			s, _ := d.raw(ctap2.CmdConfig, map[int]any{1: ctap2.SubCmdToggleAlwaysUv})
			return s
		}, want: [2]ctap2.Status{ctap2.CTAP2OK, ctap2.CTAP1ErrInvalidCommand}},
		// CTAP 2.1's clientPIN subcommands: CTAP 2.0 has no
		// CTAP2_ERR_INVALID_SUBCOMMAND.
		{name: "getPinUvAuthTokenUsingUvWithPermissions", opts: []option{withUV}, run: func(d *device) ctap2.Status {
			s, _ := d.raw(cmdClientPIN, map[int]any{1: 1, 2: ctap2.SubCmdGetPinUvAuthTokenUsingUvWithPermissions})
			return s
		}, want: [2]ctap2.Status{ctap2.CTAP2ErrMissingParameter, ctap2.CTAP1ErrInvalidParameter}},
		{name: "getUVRetries", opts: []option{withUV}, run: func(d *device) ctap2.Status {
			s, _ := d.raw(cmdClientPIN, map[int]any{1: 1, 2: ctap2.SubCmdGetUVRetries})
			return s
		}, want: [2]ctap2.Status{ctap2.CTAP2OK, ctap2.CTAP1ErrInvalidParameter}},
		{name: "getPinUvAuthTokenUsingPinWithPermissions", run: func(d *device) ctap2.Status {
			s, _ := d.raw(cmdClientPIN, map[int]any{1: 1, 2: ctap2.SubCmdGetPinUvAuthTokenUsingPinWithPermissions})
			return s
		}, want: [2]ctap2.Status{ctap2.CTAP2ErrMissingParameter, ctap2.CTAP1ErrInvalidParameter}},
		{name: "unknown clientPIN subcommand", run: func(d *device) ctap2.Status {
			s, _ := d.raw(cmdClientPIN, map[int]any{1: 1, 2: 0x08})
			return s
		}, want: [2]ctap2.Status{ctap2.CTAP2ErrInvalidSubcommand, ctap2.CTAP1ErrInvalidParameter}},
		// getPINRetries with no PIN: 2.0 reports the retries (§5.5.3); 2.1
		// answers CTAP2_ERR_PIN_NOT_SET as python-fido2 expects.
		{name: "getPINRetries without a PIN", run: func(d *device) ctap2.Status {
			s, _ := d.raw(cmdClientPIN, map[int]any{1: 1, 2: ctap2.SubCmdGetPINRetries})
			return s
		}, want: [2]ctap2.Status{ctap2.CTAP2ErrPinNotSet, ctap2.CTAP2OK}},
		// PIN protocol 1 alone.
		{name: "getKeyAgreement with protocol 2", run: func(d *device) ctap2.Status {
			s, _ := d.raw(cmdClientPIN, map[int]any{1: 2, 2: subCmdGetKeyAgreement})
			return s
		}, want: [2]ctap2.Status{ctap2.CTAP2OK, ctap2.CTAP1ErrInvalidParameter}},
		{name: "pinAuth with an unsupported pinProtocol", run: func(d *device) ctap2.Status {
			req := mcRequest(rp, "alice", false, nil)
			req.PinUvAuthParam, req.PinUvAuthProto = make([]byte, 16), 3
			return d.withTestPIN().mcStatus(req)
		}, want: [2]ctap2.Status{ctap2.CTAP1ErrInvalidParameter, ctap2.CTAP2ErrPinAuthInvalid}},
		{name: "pinAuth without pinProtocol", run: func(d *device) ctap2.Status {
			req := gaRequest(rp, nil)
			req.PinUvAuthParam = make([]byte, 16)
			return d.withTestPIN().gaStatus(req)
		}, want: [2]ctap2.Status{ctap2.CTAP2ErrMissingParameter, ctap2.CTAP2ErrPinAuthInvalid}},
		// The pinToken: 2.1's getPinToken gives a fresh pinUvAuthToken
		// that verifies the user once and binds to the first RP; 2.0's is
		// the power-up pinToken, good for every request until power-up.
		{name: "pinToken used twice", run: func(d *device) ctap2.Status {
			d.withTestPIN()
			tok := d.pinToken()
			d.register(mcRequest(rp, "alice", false, tok))
			return d.mcStatus(mcRequest("other.example", "bob", false, tok))
		}, want: [2]ctap2.Status{ctap2.CTAP2ErrPinAuthInvalid, ctap2.CTAP2OK}},
		{name: "pinToken after another getPinToken", run: func(d *device) ctap2.Status {
			d.withTestPIN()
			tok := d.pinToken()
			d.pinToken()
			return d.mcStatus(mcRequest(rp, "alice", false, tok))
		}, want: [2]ctap2.Status{ctap2.CTAP2ErrPinAuthInvalid, ctap2.CTAP2OK}},
		{name: "pinToken after 11 minutes", run: func(d *device) ctap2.Status {
			d.withTestPIN()
			tok := d.pinToken()
			d.clock.advance(11 * 60e9)
			return d.mcStatus(mcRequest(rp, "alice", false, tok))
		}, want: [2]ctap2.Status{ctap2.CTAP2ErrPinAuthInvalid, ctap2.CTAP2OK}},
		{name: "pinToken after a power cycle", run: func(d *device) ctap2.Status {
			d.withTestPIN()
			tok := d.pinToken()
			if err := d.a.PowerCycle(); err != nil {
				d.t.Fatal(err)
			}
			return d.mcStatus(mcRequest(rp, "alice", false, tok))
		}, want: [2]ctap2.Status{ctap2.CTAP2ErrPinAuthInvalid, ctap2.CTAP2ErrPinAuthInvalid}},
		// makeCredential without pinAuth on a key with a PIN: 2.1's
		// makeCredUvNotRqd makes a non-discoverable credential; 2.0 §5.1
		// step 6 wants the PIN.
		{name: "non-discoverable makeCredential without pinAuth", run: func(d *device) ctap2.Status {
			return d.withTestPIN().mcStatus(mcRequest(rp, "alice", false, nil))
		}, want: [2]ctap2.Status{ctap2.CTAP2OK, ctap2.CTAP2ErrPUATRequired}},
		{name: "discoverable makeCredential without pinAuth", run: func(d *device) ctap2.Status {
			return d.withTestPIN().mcStatus(mcRequest(rp, "alice", true, nil))
		}, want: [2]ctap2.Status{ctap2.CTAP2ErrPUATRequired, ctap2.CTAP2ErrPUATRequired}},
		{name: "makeCredential with built-in uv and a PIN", opts: []option{withUV}, run: func(d *device) ctap2.Status {
			req := mcRequest(rp, "alice", false, nil)
			req.Options = map[string]bool{"uv": true}
			return d.withTestPIN().mcStatus(req)
		}, want: [2]ctap2.Status{ctap2.CTAP2OK, ctap2.CTAP2OK}},
		// Options.
		{name: "up true in makeCredential", run: func(d *device) ctap2.Status {
			req := mcRequest(rp, "alice", false, nil)
			req.Options = map[string]bool{"up": true}
			return d.mcStatus(req)
		}, want: [2]ctap2.Status{ctap2.CTAP2OK, ctap2.CTAP2ErrInvalidOption}},
		{name: "up false in makeCredential", run: func(d *device) ctap2.Status {
			req := mcRequest(rp, "alice", false, nil)
			req.Options = map[string]bool{"up": false}
			return d.mcStatus(req)
		}, want: [2]ctap2.Status{ctap2.CTAP2ErrInvalidOption, ctap2.CTAP2ErrInvalidOption}},
		{name: "uv without built-in user verification", run: func(d *device) ctap2.Status {
			req := mcRequest(rp, "alice", false, nil)
			req.Options = map[string]bool{"uv": true}
			return d.mcStatus(req)
		}, want: [2]ctap2.Status{ctap2.CTAP2ErrInvalidOption, ctap2.CTAP2ErrInvalidOption}},
		{name: "rk in getAssertion", run: func(d *device) ctap2.Status {
			req := gaRequest(rp, nil)
			req.Options = map[string]bool{"rk": true}
			return d.gaStatus(req)
		}, want: [2]ctap2.Status{ctap2.CTAP2ErrUnsupportedOption, ctap2.CTAP2ErrInvalidOption}},
		// 2.0 §5.2 collects user consent (step 7) before it answers that
		// there is no credential (step 8): a refusal is what comes back.
		{name: "no credentials and the user refuses", run: func(d *device) ctap2.Status {
			d.presence.then(ctap2.ErrDenied)
			return d.gaStatus(gaRequest(rp, nil))
		}, want: [2]ctap2.Status{ctap2.CTAP2ErrNoCredentials, ctap2.CTAP2ErrOperationDenied}},
		// 2.0 §5.1 step 1 checks the excludeList first, before pinAuth.
		{name: "excluded credential and a wrong pinAuth", run: func(d *device) ctap2.Status {
			d.withTestPIN()
			id, _ := d.register(mcRequest(rp, "alice", false, d.pinToken()))
			req := mcRequest(rp, "alice", false, nil)
			req.ExcludeList = []client.CredentialDescriptor{{ID: id, Type: "public-key"}}
			req.PinUvAuthParam, req.PinUvAuthProto = make([]byte, 16), 1
			return d.mcStatus(req)
		}, want: [2]ctap2.Status{ctap2.CTAP2ErrPinAuthInvalid, ctap2.CTAP2ErrCredentialExcluded}},
		// No maxCredentialCountInList in 2.0's getInfo, so no limit but
		// maxMsgSize.
		{name: "allowList longer than maxCredentialCountInList", run: func(d *device) ctap2.Status {
			ids := make([][]byte, ctap2.DefaultMaxCredentialCountInList+1)
			for i := range ids {
				ids[i] = bytes.Repeat([]byte{byte(i)}, 32)
			}
			return d.gaStatus(gaRequest(rp, nil, ids...))
		}, want: [2]ctap2.Status{ctap2.CTAP2ErrLimitExceeded, ctap2.CTAP2ErrNoCredentials}},
		// Alike in both.
		{name: "zero-length pinAuth without a PIN", run: func(d *device) ctap2.Status {
			s, _ := d.raw(cmdMakeCredential, map[int]any{
				1: testClientDataHash[:], 2: map[string]any{"id": rp}, 3: map[string]any{"id": []byte("alice")},
				4: []map[string]any{{"type": "public-key", "alg": -7}}, 8: []byte{}, 9: 1,
			})
			return s
		}, want: [2]ctap2.Status{ctap2.CTAP2ErrPinNotSet, ctap2.CTAP2ErrPinNotSet}},
		{name: "zero-length pinAuth with a PIN", run: func(d *device) ctap2.Status {
			s, _ := d.withTestPIN().raw(cmdGetAssertion, map[int]any{1: rp, 2: testClientDataHash[:], 6: []byte{}, 7: 1})
			return s
		}, want: [2]ctap2.Status{ctap2.CTAP2ErrPinInvalid, ctap2.CTAP2ErrPinInvalid}},
		{name: "setPIN with a PIN set", run: func(d *device) ctap2.Status {
			return statusOf(d.withTestPIN().c.SetPIN(d.t.Context(), pinuv.ProtocolOneVersion, "5678"))
		}, want: [2]ctap2.Status{ctap2.CTAP2ErrPinAuthInvalid, ctap2.CTAP2ErrPinAuthInvalid}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for i, p := range comparedProfiles {
				d := newDevice(t, append(slices.Clone(c.opts), withProfile(p))...)
				if got := c.run(d); got != c.want[i] {
					t.Errorf("%v: %v, want %v", p, got, c.want[i])
				}
			}
		})
	}
}

// TestProfilePINTokenUV: under both profiles a pinAuth made with the
// token sets the UV flag; under 2.0 the same token keeps doing so
// (getAssertion after makeCredential), and getPinToken returns the same
// value until power-up.
func TestProfilePINTokenUV(t *testing.T) {
	d := newDevice(t, withProfile(ctap2.ProfileCTAP20)).withTestPIN()
	tok := d.pinToken()
	id, resp := d.register(mcRequest("example.com", "alice", false, tok))
	if f := flags(t, resp.AuthData); f&flagUV == 0 {
		t.Errorf("makeCredential flags 0x%02x lack UV", f)
	}
	as, err := d.c.GetAssertion(t.Context(), gaRequest("example.com", tok, id))
	if err != nil {
		t.Fatal(err)
	}
	if f := flags(t, as.AuthData); f&(flagUV|flagUP) != flagUV|flagUP {
		t.Errorf("getAssertion flags 0x%02x, want UP and UV", f)
	}
	if again := d.pinToken(); !bytes.Equal(again.Value, tok.Value) {
		t.Error("a second getPinToken changed the CTAP 2.0 pinToken")
	}
	// The 2.0 pinToken carries no presence: each request asked.
	if n := d.presence.count(); n != 2 {
		t.Errorf("user asked %d times, want 2", n)
	}
	if err := d.a.PowerCycle(); err != nil {
		t.Fatal(err)
	}
	if again := d.pinToken(); bytes.Equal(again.Value, tok.Value) {
		t.Error("the CTAP 2.0 pinToken survived a power cycle")
	}
}

// TestProfileGetInfo: getInfo of each profile, member by member; the 2.0
// one has CTAP 2.0 §5.4's members 0x01 to 0x06 alone.
func TestProfileGetInfo(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    []option
		pin     bool
		members []int
		info    client.Info
	}{
		{name: "ctap2.0", opts: []option{withProfile(ctap2.ProfileCTAP20)}, members: []int{1, 2, 3, 4, 5, 6},
			info: client.Info{
				Versions: []string{"U2F_V2", "FIDO_2_0"}, Extensions: []string{"hmac-secret"}, AAGUID: make([]byte, 16),
				Options:    map[string]bool{"plat": false, "rk": true, "clientPin": false, "up": true},
				MaxMsgSize: ctap2.DefaultMaxMsgSize, PinUvAuthProtocols: []int{1},
			}},
		{name: "ctap2.0 with a PIN and built-in UV", opts: []option{withProfile(ctap2.ProfileCTAP20), withUV}, pin: true, members: []int{1, 2, 3, 4, 5, 6},
			info: client.Info{
				Versions: []string{"U2F_V2", "FIDO_2_0"}, Extensions: []string{"hmac-secret"}, AAGUID: make([]byte, 16),
				Options:    map[string]bool{"plat": false, "rk": true, "clientPin": true, "up": true, "uv": true},
				MaxMsgSize: ctap2.DefaultMaxMsgSize, PinUvAuthProtocols: []int{1},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDevice(t, tc.opts...)
			if tc.pin {
				d.withTestPIN()
			}
			var raw map[int]cbor.RawMessage
			if err := d.c.Call(t.Context(), ctap2.CmdGetInfo, nil, &raw); err != nil {
				t.Fatal(err)
			}
			var members []int
			for k := range raw {
				members = append(members, k)
			}
			sort.Ints(members)
			if !slices.Equal(members, tc.members) {
				t.Errorf("getInfo members %v, want %v", members, tc.members)
			}
			got := d.info()
			want := tc.info
			if !slices.Equal(got.Versions, want.Versions) || !slices.Equal(got.Extensions, want.Extensions) ||
				!bytes.Equal(got.AAGUID, want.AAGUID) || got.MaxMsgSize != want.MaxMsgSize ||
				!slices.Equal(got.PinUvAuthProtocols, want.PinUvAuthProtocols) || len(got.Options) != len(want.Options) {
				t.Errorf("getInfo %+v, want %+v", got, want)
			}
			for k, v := range want.Options {
				if got.Options[k] != v {
					t.Errorf("option %s: %v, want %v", k, got.Options[k], v)
				}
			}
		})
	}
	// ctap2.1 stays as get_info_test.go has it: its versions and the 2.1
	// members.
	inf := newDevice(t).info()
	if !slices.Equal(inf.Versions, []string{"U2F_V2", "FIDO_2_0", "FIDO_2_1", "FIDO_2_1_PRE"}) ||
		!slices.Equal(inf.PinUvAuthProtocols, []int{2, 1}) || inf.MaxCredentialCountInList == 0 || !inf.Options["credMgmt"] {
		t.Errorf("ctap2.1 getInfo %+v", inf)
	}
}

// TestProfileExtensions: a 2.0 key knows hmac-secret alone; credProtect,
// credBlob and largeBlobKey are extensions it does not understand, whose
// inputs it ignores (2.0 §5.1 step 4), so no output and nothing stored.
func TestProfileExtensions(t *testing.T) {
	ext := map[string]any{"hmac-secret": true, "credProtect": 2, "credBlob": []byte("blob"), "largeBlobKey": true, "minPinLength": true, "thirdPartyPayment": true}
	for _, tc := range []struct {
		profile ctap2.Profile
		want    []string
	}{
		{ctap2.ProfileCTAP21, []string{"credBlob", "credProtect", "hmac-secret", "thirdPartyPayment"}},
		{ctap2.ProfileCTAP20, []string{"hmac-secret"}},
	} {
		t.Run(tc.profile.String(), func(t *testing.T) {
			d := newDevice(t, withProfile(tc.profile))
			req := mcRequest("example.com", "alice", true, nil)
			req.Extensions = ext
			_, resp := d.register(req)
			ad := parseAuthData(t, resp.AuthData)
			var got []string
			for _, id := range []string{"credBlob", "credProtect", "hmac-secret", "largeBlobKey", "minPinLength", "thirdPartyPayment"} {
				var v any
				if ok, err := ad.Extension(id, &v); err != nil {
					t.Fatal(err)
				} else if ok {
					got = append(got, id)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("extension outputs %v, want %v", got, tc.want)
			}
			if (resp.LargeBlobKey != nil) != (tc.profile == ctap2.ProfileCTAP21) {
				t.Errorf("largeBlobKey %x", resp.LargeBlobKey)
			}
		})
	}
}

// TestProfileHMACSecret: hmac-secret, the one extension of CTAP 2.0,
// works over PIN protocol 1 under the ctap2.0 profile: a salt gives the
// same output in two assertions, another salt another output.
func TestProfileHMACSecret(t *testing.T) {
	d := newDevice(t, withProfile(ctap2.ProfileCTAP20))
	req := mcRequest("example.com", "alice", true, nil)
	req.Extensions = map[string]any{"hmac-secret": true}
	id, _ := d.register(req)
	first, _, _ := d.hmacSecretAssertion(pinuv.ProtocolOneVersion, gaRequest("example.com", nil, id), salt("a"), nil)
	again, _, _ := d.hmacSecretAssertion(pinuv.ProtocolOneVersion, gaRequest("example.com", nil, id), salt("a"), nil)
	other, _, _ := d.hmacSecretAssertion(pinuv.ProtocolOneVersion, gaRequest("example.com", nil, id), salt("b"), nil)
	if len(first) != 32 || !bytes.Equal(first, again) || bytes.Equal(first, other) {
		t.Errorf("hmac-secret outputs %x, %x, %x", first, again, other)
	}
}
