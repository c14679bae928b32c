package ctap2

import (
	"bytes"
	"slices"

	"github.com/vauth/vauth/ctap2/pinuv"
)

// authenticatorConfig parameter keys (CTAP 2.1 §6.11).
const (
	configSubCommand        paramKey = 0x01
	configSubCommandParams  paramKey = 0x02
	configPinUvAuthProtocol paramKey = 0x03
	configPinUvAuthParam    paramKey = 0x04
)

// Keys of setMinPINLength's subCommandParams.
const (
	setMinPINLengthNewMinPINLength   paramKey = 0x01
	setMinPINLengthMinPinLengthRPIDs paramKey = 0x02
	setMinPINLengthForceChangePin    paramKey = 0x03
)

// authenticatorConfig subcommands (CTAP 2.1 §6.11), shared with the host
// side (ctap2/client).
const (
	SubCmdEnableEnterpriseAttestation = 0x01
	SubCmdToggleAlwaysUv              = 0x02
	SubCmdSetMinPINLength             = 0x03
)

// configMessagePrefix starts the message that authenticatorConfig's
// pinUvAuthParam authenticates: 32 bytes 0xff, then the command byte; the
// subcommand and subCommandParams follow.
var configMessagePrefix = append(bytes.Repeat([]byte{0xff}, 32), CmdConfig)

// setMinPINLengthParams are setMinPINLength's subCommandParams; absent
// ones are nil.
type setMinPINLengthParams struct {
	newMinPINLength   *uint64
	minPinLengthRPIDs []string
	rpIDsPresent      bool
	forceChangePin    bool
}

func decodeSetMinPINLength(p params) (setMinPINLengthParams, error) {
	var s setMinPINLengthParams
	var err error
	if s.newMinPINLength, err = optionalField[uint64](p, setMinPINLengthNewMinPINLength, "newMinPINLength"); err != nil {
		return s, err
	}
	if s.minPinLengthRPIDs, s.rpIDsPresent, err = decodeArray(p, setMinPINLengthMinPinLengthRPIDs, "minPinLengthRPIDs", 0, decodeValue[string]); err != nil {
		return s, err
	}
	s.forceChangePin, _, err = field[bool](p, setMinPINLengthForceChangePin, "forceChangePin")
	return s, err
}

// config is authenticatorConfig (CTAP 2.1 §6.11): enterprise attestation,
// alwaysUv and the minimum PIN length. Once the authenticator is protected
// by user verification (or alwaysUv is on), it needs a pinUvAuthToken with
// the acfg permission.
func (a *Authenticator) config(r *request) (any, error) {
	p, err := decodeRequest(r.params)
	if err != nil {
		return nil, err
	}
	subCommand, err := requiredField[uint64](p, configSubCommand, "subCommand")
	if err != nil {
		return nil, err
	}
	sub, _, err := field[params](p, configSubCommandParams, "subCommandParams")
	if err != nil {
		return nil, err
	}
	rawParams, _ := p.lookup(configSubCommandParams)
	auth, err := decodePinUvAuth(p, configPinUvAuthParam, configPinUvAuthProtocol)
	if err != nil {
		return nil, err
	}
	var minPIN setMinPINLengthParams
	switch subCommand {
	case SubCmdEnableEnterpriseAttestation:
		if !a.enterpriseAttestation {
			return nil, statusErrorf(CTAP1ErrInvalidParameter, "this authenticator is not enterprise attestation capable")
		}
	case SubCmdToggleAlwaysUv:
	case SubCmdSetMinPINLength:
		if minPIN, err = decodeSetMinPINLength(sub); err != nil {
			return nil, err
		}
	default:
		return nil, statusErrorf(CTAP2ErrInvalidSubcommand, "config subcommand 0x%02x", subCommand)
	}
	// toggleAlwaysUv can always turn alwaysUv off again on an authenticator
	// nobody can verify the user on.
	if a.protectedByUV() || (a.pin.AlwaysUV && subCommand != SubCmdToggleAlwaysUv) {
		if err := a.checkConfigToken(auth, subCommand, rawParams); err != nil {
			return nil, err
		}
	}
	switch subCommand {
	case SubCmdEnableEnterpriseAttestation:
		err = a.updatePINState(func(s *pinState) { s.EnterpriseAttestation = true })
		a.logOutcome("enterprise attestation enabled", err)
	case SubCmdToggleAlwaysUv:
		err = a.updatePINState(func(s *pinState) { s.AlwaysUV = !s.AlwaysUV })
		a.logOutcome("alwaysUv toggled", err, "alwaysUv", a.pin.AlwaysUV)
	default:
		err = a.setMinPINLength(minPIN)
		a.logOutcome("minimum PIN length set", err, "minPINLength", a.pin.MinPINLength, "forcePINChange", a.pin.ForcePINChange)
	}
	return nil, err
}

// checkConfigToken checks authenticatorConfig's pinUvAuthParam: made with
// the pinUvAuthToken over 32×0xff || 0x0d || subCommand ||
// subCommandParams, and the token holds the acfg permission.
func (a *Authenticator) checkConfigToken(auth pinUvAuth, subCommand uint64, rawParams []byte) error {
	if auth.param == nil {
		return statusErrorf(CTAP2ErrPUATRequired, "authenticatorConfig needs a pinUvAuthParam")
	}
	if auth.protocol == nil {
		return statusErrorf(CTAP2ErrMissingParameter, "pinUvAuthProtocol is missing")
	}
	p, err := a.pinUvAuthProtocol(*auth.protocol)
	if err != nil {
		return err
	}
	message := append(append(slices.Clone(configMessagePrefix), byte(subCommand)), rawParams...)
	if !a.token.Verify(p, message, auth.param) {
		return statusErrorf(CTAP2ErrPinAuthInvalid, "pinUvAuthParam does not verify with the pinUvAuthToken")
	}
	if !a.token.HasPermission(pinuv.PermissionACFG) {
		return statusErrorf(CTAP2ErrPinAuthInvalid, "the pinUvAuthToken lacks the acfg permission")
	}
	return nil
}

// setMinPINLength is §6.11.4: the minimum PIN length only grows; a current
// PIN shorter than the new minimum, or forceChangePin, makes the user
// change the PIN before it is used again (forcePINChange).
func (a *Authenticator) setMinPINLength(s setMinPINLengthParams) error {
	newMin := a.pin.MinPINLength
	if s.newMinPINLength != nil {
		if *s.newMinPINLength < uint64(a.pin.MinPINLength) || *s.newMinPINLength > pinuv.MaxPINLength {
			return statusErrorf(CTAP2ErrPinPolicyViolation, "newMinPINLength %d: it must be %d to %d", *s.newMinPINLength, a.pin.MinPINLength, pinuv.MaxPINLength)
		}
		newMin = int(*s.newMinPINLength)
	}
	if s.forceChangePin && !a.pin.hasPIN() {
		return statusErrorf(CTAP2ErrPinNotSet, "forceChangePin without a PIN")
	}
	if len(s.minPinLengthRPIDs) > MaxRPIDsForSetMinPINLength {
		return statusErrorf(CTAP1ErrInvalidLength, "%d minPinLengthRPIDs, at most %d", len(s.minPinLengthRPIDs), MaxRPIDsForSetMinPINLength)
	}
	return a.updatePINState(func(st *pinState) {
		st.MinPINLength = newMin
		if s.forceChangePin || (st.hasPIN() && st.PINCodePointLength < newMin) {
			st.ForcePINChange = true
		}
		if s.rpIDsPresent {
			st.MinPINLengthRPIDs = s.minPinLengthRPIDs
		}
	})
}

// Kinds of enterprise attestation (CTAP 2.1 §7.1), makeCredential's
// enterpriseAttestation parameter.
const (
	enterpriseAttestationVendorFacilitated = 1
	enterpriseAttestationPlatformManaged   = 2
)

// checkEnterpriseAttestation is §6.1.2 step 9: enterprise attestation (1
// vendor-facilitated, 2 platform-managed) only when the authenticator is
// capable and it is enabled.
func (a *Authenticator) checkEnterpriseAttestation(ea *uint64) error {
	switch {
	case ea == nil:
		return nil
	case !a.enterpriseAttestation || !a.pin.EnterpriseAttestation:
		return statusErrorf(CTAP1ErrInvalidParameter, "enterprise attestation is not enabled")
	case *ea != enterpriseAttestationVendorFacilitated && *ea != enterpriseAttestationPlatformManaged:
		return statusErrorf(CTAP1ErrInvalidParameter, "enterpriseAttestation %d", *ea)
	}
	return nil
}

// enterpriseAttestationFor is §6.1.2 step 19's choice, for a request that
// step 9 let through: an enterprise attestation (epAtt) when the platform
// manages it (the platform decided the RP may have one) or when the RP is
// on the vendor's list for vendor-facilitated enterprise attestation;
// otherwise the ordinary statement, as for an RP the enterprise did not
// approve. Without Config.EnterpriseAttester there is none to make.
func (a *Authenticator) enterpriseAttestationFor(ea *uint64, rpID string) bool {
	switch {
	case ea == nil || a.enterpriseAttester == nil:
		return false
	case *ea == enterpriseAttestationPlatformManaged:
		return true
	}
	return slices.Contains(a.enterpriseRPIDs, rpID)
}
