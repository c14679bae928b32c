package ctap2

import (
	"context"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// FuzzHandleCBOR sends a command byte and CBOR parameters. The seeds in
// testdata/fuzz/FuzzHandleCBOR are valid requests of every command, so the
// fuzzer mutates real requests rather than noise; more seeds made here use
// the credentials of this very device. Whatever arrives, the answer is a
// status (never CTAP1_ERR_OTHER, which is what a panic or an unexpected
// error becomes), and getInfo still works afterwards.
func FuzzHandleCBOR(f *testing.F) {
	d := newTestDevice(f, func(c *Config) {
		c.Logger = nil
		c.MaxDiscoverable = 20 // keep the store, and each getInfo, small
	})
	var plain []byte
	for i, name := range []string{"alice", "bob"} {
		d.register(makeCredentialParams("example.com", []byte(name), name, true))
		plain = d.register(makeCredentialParams("example.com", []byte(name), name, i == 0)).authData.credentialID
	}
	d.clock.Advance(time.Minute) // past the reset window: keep the credentials

	f.Add(byte(CmdGetAssertion), encode(f, getAssertionParams("example.com", plain)))
	silent := getAssertionParams("example.com", []byte("unknown"), plain)
	silent[int(getAssertionOptions)] = map[string]any{"up": false}
	f.Add(byte(CmdGetAssertion), encode(f, silent))
	excluded := makeCredentialParams("example.com", []byte("carol"), "carol", true)
	excluded[int(makeCredentialExcludeList)] = []any{map[string]any{"type": "public-key", "id": plain}}
	f.Add(byte(CmdMakeCredential), encode(f, excluded))
	// PIN/UV, credential management and config requests.
	f.Add(byte(CmdClientPIN), encode(f, map[int]any{int(clientPINPinUvAuthProtocol): 2, int(clientPINSubCommand): SubCmdGetKeyAgreement}))
	f.Add(byte(CmdClientPIN), encode(f, map[int]any{int(clientPINSubCommand): SubCmdGetPINRetries}))
	key := d.a.protocols[0].GetPublicKey()
	f.Add(byte(CmdClientPIN), encode(f, map[int]any{
		int(clientPINPinUvAuthProtocol): 1, int(clientPINSubCommand): SubCmdGetPinUvAuthTokenUsingPinWithPermissions,
		int(clientPINKeyAgreement): key, int(clientPINPinHashEnc): make([]byte, 16), int(clientPINPermissions): 3, int(clientPINRPID): "example.com",
	}))
	f.Add(byte(CmdCredentialManagement), encode(f, map[int]any{
		int(credMgmtSubCommand): SubCmdEnumerateCredentialsBegin, int(credMgmtSubCommandParams): map[int]any{int(credMgmtParamRPIDHash): make([]byte, 32)},
		int(credMgmtPinUvAuthProtocol): 2, int(credMgmtPinUvAuthParam): make([]byte, 32),
	}))
	f.Add(byte(CmdConfig), encode(f, map[int]any{
		int(configSubCommand): SubCmdSetMinPINLength, int(configSubCommandParams): map[int]any{int(setMinPINLengthNewMinPINLength): 6, int(setMinPINLengthMinPinLengthRPIDs): []string{"example.com"}},
	}))

	getAssertion := append([]byte{CmdGetAssertion}, encode(f, getAssertionParams("example.com"))...)
	f.Fuzz(func(t *testing.T, cmd byte, params []byte) {
		ctx := context.Background()
		if cmd == CmdGetNextAssertion {
			// Something to continue: the RP has two discoverable credentials.
			d.a.HandleCBOR(ctx, getAssertion, nil)
		}
		resp := d.a.HandleCBOR(ctx, append([]byte{cmd}, params...), nil)
		if len(resp) == 0 {
			t.Fatal("empty response")
		}
		switch status := Status(resp[0]); {
		case status == CTAP1ErrOther:
			t.Fatalf("CTAP1_ERR_OTHER for command 0x%02x %x", cmd, params)
		case status != CTAP2OK && len(resp) != 1:
			t.Fatalf("%v with %d bytes of data", status, len(resp)-1)
		case status == CTAP2OK && len(resp) > 1:
			if err := cbor.Wellformed(resp[1:]); err != nil {
				t.Fatalf("response is not CBOR: %v", err)
			}
		}
		if info := d.a.HandleCBOR(ctx, []byte{CmdGetInfo}, nil); Status(info[0]) != CTAP2OK {
			t.Fatalf("getInfo after command 0x%02x: %v", cmd, Status(info[0]))
		}
	})
}
