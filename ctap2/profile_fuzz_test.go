package ctap2

import (
	"context"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/vauth/vauth/ctap2/pinuv"
)

// FuzzHandleCBORProfiles sends a command byte and CBOR parameters to a
// ctap2.0 authenticator with a PIN and to a U2F-only one. Whatever
// arrives, the answer is a status (never CTAP1_ERR_OTHER); the ctap2.0 key
// answers CTAP 2.1's commands, and the U2F-only key every command, with
// CTAP1_ERR_INVALID_COMMAND; getInfo of the ctap2.0 key keeps working.
func FuzzHandleCBORProfiles(f *testing.F) {
	ctap20 := newTestDevice(f, func(c *Config) { c.Logger, c.Profile = nil, ProfileCTAP20 })
	u2f := newTestDevice(f, func(c *Config) { c.Logger, c.Profile = nil, ProfileU2F })
	hash := pinuv.PINHash([]byte("1234"))
	if err := ctap20.a.updatePINState(func(s *pinState) {
		s.PINHash, s.PINCodePointLength, s.PINRetries = hash[:], 4, pinuv.MaxPINRetries
	}); err != nil {
		f.Fatal(err)
	}
	withPinAuth := makeCredentialParams("example.com", []byte("alice"), "alice", true)
	withPinAuth[int(makeCredentialPinUvAuthParam)] = ctap20.a.protocols[0].Authenticate(ctap20.a.pinToken20, clientDataHash)
	withPinAuth[int(makeCredentialPinUvAuthProtocol)] = 1
	withPinAuth[int(makeCredentialExtensions)] = map[string]any{"hmac-secret": true, "credProtect": 3}
	f.Add(byte(CmdMakeCredential), encode(f, withPinAuth))
	rk := getAssertionParams("example.com")
	rk[int(getAssertionOptions)] = map[string]any{"rk": true, "up": false}
	f.Add(byte(CmdGetAssertion), encode(f, rk))
	f.Add(byte(CmdClientPIN), encode(f, map[int]any{int(clientPINPinUvAuthProtocol): 1, int(clientPINSubCommand): SubCmdGetKeyAgreement}))
	f.Add(byte(CmdClientPIN), encode(f, map[int]any{int(clientPINPinUvAuthProtocol): 1, int(clientPINSubCommand): SubCmdGetPinToken,
		int(clientPINKeyAgreement): ctap20.a.protocols[0].GetPublicKey(), int(clientPINPinHashEnc): make([]byte, 16)}))
	f.Add(byte(CmdCredentialManagement), encode(f, map[int]any{int(credMgmtSubCommand): SubCmdGetCredsMetadata}))
	f.Add(byte(CmdSelection), []byte{})

	f.Fuzz(func(t *testing.T, cmd byte, params []byte) {
		ctx := context.Background()
		req := append([]byte{cmd}, params...)
		if resp := u2f.a.HandleCBOR(ctx, req, nil); len(resp) != 1 || Status(resp[0]) != CTAP1ErrInvalidCommand {
			t.Fatalf("U2F-only key answered command 0x%02x with % x", cmd, resp)
		}
		resp := ctap20.a.HandleCBOR(ctx, req, nil)
		switch status := Status(resp[0]); {
		case status == CTAP1ErrOther:
			t.Fatalf("CTAP1_ERR_OTHER for command 0x%02x %x", cmd, params)
		case !ctap20Commands[cmd] && (status != CTAP1ErrInvalidCommand || len(resp) != 1):
			t.Fatalf("ctap2.0 key answered CTAP 2.1 command 0x%02x with %v", cmd, status)
		case status != CTAP2OK && len(resp) != 1:
			t.Fatalf("%v with %d bytes of data", status, len(resp)-1)
		case status == CTAP2OK && len(resp) > 1:
			if err := cbor.Wellformed(resp[1:]); err != nil {
				t.Fatalf("response is not CBOR: %v", err)
			}
		}
		if info := ctap20.a.HandleCBOR(ctx, []byte{CmdGetInfo}, nil); Status(info[0]) != CTAP2OK {
			t.Fatalf("getInfo after command 0x%02x: %v", cmd, Status(info[0]))
		}
	})
}
