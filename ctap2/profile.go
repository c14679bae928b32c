package ctap2

import (
	"crypto/rand"
	"fmt"

	"github.com/vauth/vauth/ctap2/pinuv"
)

// Profile is the generation of authenticator to behave as, so that a
// relying party or a client can test against older keys (as the
// `protocol` option of WebDriver's virtual authenticator does). Every
// profile keeps the same store: switching profile loses no credential.
// docs/conformance.md lists what each one serves.
type Profile uint8

// The profiles. The zero value is ProfileCTAP21.
const (
	// ProfileCTAP21 is a CTAP 2.1 authenticator (with the CTAP 2.1
	// preview's credential management and U2F): everything vauth serves.
	ProfileCTAP21 Profile = iota
	// ProfileCTAP20 is a CTAP 2.0 (2019-01-30) authenticator: FIDO_2_0 and
	// U2F_V2, PIN protocol 1 with a pinToken that lasts until power-up, the
	// hmac-secret extension, and none of CTAP 2.1's commands.
	ProfileCTAP20
	// ProfileU2F is a CTAP1/U2F-only key: CTAPHID_MSG alone, no CTAPHID_CBOR.
	ProfileU2F
)

// profileNames are the profiles' names, as `vauth run --profile` takes them.
var profileNames = [...]string{ProfileCTAP21: "ctap2.1", ProfileCTAP20: "ctap2.0", ProfileU2F: "u2f"}

// String returns the profile's name: "ctap2.1", "ctap2.0" or "u2f".
func (p Profile) String() string {
	if int(p) < len(profileNames) {
		return profileNames[p]
	}
	return fmt.Sprintf("Profile(%d)", uint8(p))
}

// ParseProfile returns the profile named name: "ctap2.1", "ctap2.0" or
// "u2f".
func ParseProfile(name string) (Profile, error) {
	for p, n := range profileNames {
		if n == name {
			return Profile(p), nil
		}
	}
	return 0, fmt.Errorf("profile %q: want ctap2.1, ctap2.0 or u2f", name)
}

// Profile returns the profile the authenticator behaves as.
func (a *Authenticator) Profile() Profile { return a.profile }

// ServesCBOR reports whether the authenticator answers CTAPHID_CBOR: not
// as a U2F-only key, whose CTAPHID_INIT capabilities then lack CBOR
// (hid.CBORServer).
func (a *Authenticator) ServesCBOR() bool { return a.profile != ProfileU2F }

// ctap20Commands are the commands of CTAP 2.0 §5; the others are CTAP
// 2.1's.
var ctap20Commands = map[byte]bool{
	CmdMakeCredential: true, CmdGetAssertion: true, CmdGetInfo: true,
	CmdClientPIN: true, CmdReset: true, CmdGetNextAssertion: true,
}

// offers reports whether the profile has command cmd. A CTAP 2.0 key has
// no credential management, not even the 2.1 preview's 0x41, which
// belongs to FIDO_2_1_PRE keys; a U2F-only key has no CTAP2 command.
func (a *Authenticator) offers(cmd byte) bool {
	switch a.profile {
	case ProfileCTAP20:
		return ctap20Commands[cmd]
	case ProfileU2F:
		return false
	}
	return true
}

// offersPINSubCommand reports whether the profile has clientPIN
// subcommand sub: CTAP 2.0 §5.5 defines getRetries to getPINToken (0x01 to
// 0x05) only.
func (a *Authenticator) offersPINSubCommand(sub uint64) bool {
	return a.profile != ProfileCTAP20 || (sub >= SubCmdGetPINRetries && sub <= SubCmdGetPinToken)
}

// pinUvAuthProtocolVersions are the PIN/UV auth protocols in getInfo's
// order of preference: CTAP 2.0 has only protocol 1.
func (p Profile) pinUvAuthProtocolVersions() []int {
	if p == ProfileCTAP20 {
		return []int{pinuv.ProtocolOneVersion}
	}
	return []int{pinuv.ProtocolTwoVersion, pinuv.ProtocolOneVersion}
}

// credentialListLimit is the longest allowList or excludeList accepted:
// CTAP 2.0's getInfo cannot report maxCredentialCountInList, so a 2.0
// platform sends its lists whole, and only maxMsgSize bounds them.
func (a *Authenticator) credentialListLimit() int {
	if a.profile == ProfileCTAP20 {
		return 0
	}
	return a.maxCredentialCountInList
}

// newPINToken20 makes the CTAP 2.0 pinToken: random at power-up, and the
// same for every getPINToken until the next (CTAP 2.0 §5.5.2).
func (a *Authenticator) newPINToken20() {
	if a.profile != ProfileCTAP20 {
		return
	}
	a.pinToken20 = make([]byte, pinuv.PinUvAuthTokenLength)
	rand.Read(a.pinToken20)
}

// issuePINToken20 is getPINToken's answer under CTAP 2.0 (§5.5.7): the
// power-up pinToken, encrypted for the platform. It carries no
// permissions, no RP ID and no usage timer.
func (a *Authenticator) issuePINToken20(p pinuv.Protocol, secret []byte) (any, error) {
	enc, err := p.Encrypt(secret, a.pinToken20)
	if err != nil {
		return nil, fmt.Errorf("encrypting the pinToken: %w", err)
	}
	return map[int]any{clientPINRespPinUvAuthToken: enc}, nil
}

// verifyPINToken20 is CTAP 2.0 §5.1 step 5 and §5.2 step 2: pinAuth is
// LEFT(HMAC-SHA-256(pinToken, clientDataHash), 16). A match verifies the
// user, for as many requests as the platform makes until power-up.
func (a *Authenticator) verifyPINToken20(v userVerification) error {
	if !v.protocol.Verify(a.pinToken20, v.clientDataHash, v.param) {
		return statusErrorf(CTAP2ErrPinAuthInvalid, "pinAuth does not verify with the pinToken")
	}
	return nil
}

// ctap20Extensions are the extensions CTAP 2.0 defines (§10): hmac-secret
// alone; credProtect and the rest came with CTAP 2.1.
var ctap20Extensions = []string{extHMACSecret}

// ctap20Options are the getInfo options CTAP 2.0 §5.4 defines.
var ctap20Options = []string{optionPlat, optionRK, optionClientPIN, optionUP, optionUV}

// ctap20Info turns getInfo into CTAP 2.0's (§5.4): only its members 0x01
// to 0x06 (maxCredentialCountInList and everything after came with 2.1),
// the versions FIDO_2_0 (and U2F_V2), hmac-secret, and the 2.0 options.
func (a *Authenticator) ctap20Info(info map[int]any) {
	for k := range info {
		if k > getInfoPinUvAuthProtocols {
			delete(info, k)
		}
	}
	info[getInfoVersions] = canonicalStrings(append([]string{versionFIDO20}, a.u2fVersions()...))
	info[getInfoExtensions] = ctap20Extensions
	all := a.options()
	options := make(map[string]bool, len(ctap20Options))
	for _, o := range ctap20Options {
		if v, ok := all[o]; ok {
			options[o] = v
		}
	}
	info[getInfoOptions] = options
}

// ctap20 keeps of the inputs what CTAP 2.0 defines, hmac-secret: to a 2.0
// key the others are extensions it does not understand, which §5.1 step
// 4 leaves unprocessed (and so without output).
func (x makeCredentialExtensionInputs) ctap20() makeCredentialExtensionInputs {
	return makeCredentialExtensionInputs{hmacSecret: x.hmacSecret}
}

// ctap20 keeps of the inputs what CTAP 2.0 defines (§5.2 step 6).
func (x getAssertionExtensionInputs) ctap20() getAssertionExtensionInputs {
	return getAssertionExtensionInputs{hmacSecret: x.hmacSecret}
}
