package ctap2

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/vauth/vauth/ctap2/pinuv"
	"github.com/vauth/vauth/internal/cose"
)

// authenticatorClientPIN parameter keys (CTAP 2.1 §6.5.5.1).
const (
	clientPINPinUvAuthProtocol paramKey = 0x01
	clientPINSubCommand        paramKey = 0x02
	clientPINKeyAgreement      paramKey = 0x03
	clientPINPinUvAuthParam    paramKey = 0x04
	clientPINNewPinEnc         paramKey = 0x05
	clientPINPinHashEnc        paramKey = 0x06
	clientPINPermissions       paramKey = 0x09
	clientPINRPID              paramKey = 0x0A
)

// authenticatorClientPIN response keys.
const (
	clientPINRespKeyAgreement    = 0x01
	clientPINRespPinUvAuthToken  = 0x02
	clientPINRespPinRetries      = 0x03
	clientPINRespPowerCycleState = 0x04
	clientPINRespUVRetries       = 0x05
)

// authenticatorClientPIN subcommands (CTAP 2.1 §6.5.5), shared with the
// host side (ctap2/client).
const (
	SubCmdGetPINRetries                            = 0x01
	SubCmdGetKeyAgreement                          = 0x02
	SubCmdSetPIN                                   = 0x03
	SubCmdChangePIN                                = 0x04
	SubCmdGetPinToken                              = 0x05
	SubCmdGetPinUvAuthTokenUsingUvWithPermissions  = 0x06
	SubCmdGetUVRetries                             = 0x07
	SubCmdGetPinUvAuthTokenUsingPinWithPermissions = 0x09
)

// permissionsKnown are the pinUvAuthToken permissions CTAP 2.1 defines,
// and CTAP 2.2's pcmr; other bits of the permissions parameter are
// ignored.
const permissionsKnown = pinuv.PermissionMC | pinuv.PermissionGA | pinuv.PermissionCM |
	pinuv.PermissionBE | pinuv.PermissionLBW | pinuv.PermissionACFG | pinuv.PermissionPCMR

// permissionsUnsupported are the permissions of features this
// authenticator does not have (bioEnroll): asking for them is
// CTAP2_ERR_UNAUTHORIZED_PERMISSION.
const permissionsUnsupported = pinuv.PermissionBE

// clientPINRequest is a decoded authenticatorClientPIN request; absent
// parameters are nil.
type clientPINRequest struct {
	subCommand     uint64
	protocol       *uint64
	keyAgreement   []byte // the encoded COSE_Key
	pinUvAuthParam []byte
	newPinEnc      []byte
	pinHashEnc     []byte
	permissions    *uint64
	rpID           *string
}

func decodeClientPIN(data []byte) (*clientPINRequest, error) {
	p, err := decodeRequest(data)
	if err != nil {
		return nil, err
	}
	var req clientPINRequest
	if req.subCommand, err = requiredField[uint64](p, clientPINSubCommand, "subCommand"); err != nil {
		return nil, err
	}
	if req.protocol, err = optionalField[uint64](p, clientPINPinUvAuthProtocol, "pinUvAuthProtocol"); err != nil {
		return nil, err
	}
	if err = checkMapType(p, clientPINKeyAgreement, "keyAgreement"); err != nil {
		return nil, err
	}
	req.keyAgreement, _ = p.lookup(clientPINKeyAgreement)
	for _, f := range []struct {
		key  paramKey
		name string
		v    *[]byte
	}{
		{clientPINPinUvAuthParam, "pinUvAuthParam", &req.pinUvAuthParam},
		{clientPINNewPinEnc, "newPinEnc", &req.newPinEnc},
		{clientPINPinHashEnc, "pinHashEnc", &req.pinHashEnc},
	} {
		if *f.v, _, err = field[[]byte](p, f.key, f.name); err != nil {
			return nil, err
		}
	}
	if req.permissions, err = optionalField[uint64](p, clientPINPermissions, "permissions"); err != nil {
		return nil, err
	}
	if req.rpID, err = optionalField[string](p, clientPINRPID, "rpId"); err != nil {
		return nil, err
	}
	return &req, nil
}

// optionalField decodes the parameter under key; nil when it is absent.
func optionalField[T value](p params, key any, name string) (*T, error) {
	v, present, err := field[T](p, key, name)
	if err != nil || !present {
		return nil, err
	}
	return &v, nil
}

// required names a parameter a subcommand needs and says whether it came.
type required struct {
	name    string
	present bool
}

// requireParams reports CTAP2_ERR_MISSING_PARAMETER for the first of ps
// that is absent.
func requireParams(ps ...required) error {
	for _, p := range ps {
		if !p.present {
			return statusErrorf(CTAP2ErrMissingParameter, "%s is missing", p.name)
		}
	}
	return nil
}

// clientPIN is authenticatorClientPIN (CTAP 2.1 §6.5.5): PIN management
// and the pinUvAuthToken.
func (a *Authenticator) clientPIN(r *request) (any, error) {
	req, err := decodeClientPIN(r.params)
	if err != nil {
		return nil, err
	}
	if !a.offersPINSubCommand(req.subCommand) {
		// CTAP 2.0 has no CTAP2_ERR_INVALID_SUBCOMMAND (§6.3): the
		// subCommand parameter is invalid.
		return nil, statusErrorf(CTAP1ErrInvalidParameter, "clientPIN subcommand 0x%02x is not CTAP 2.0's", req.subCommand)
	}
	switch req.subCommand {
	case SubCmdGetPINRetries:
		if a.profile == ProfileCTAP20 {
			// CTAP 2.0 §5.5.3: the retries alone, PIN or not (powerCycleState
			// came with 2.1).
			return map[int]any{clientPINRespPinRetries: a.pin.PINRetries}, nil
		}
		// With no PIN there are no retries to report: CTAP2_ERR_PIN_NOT_SET,
		// which python-fido2's device tests expect (CTAP 2.1 §6.5.5.2 names
		// no status for it; docs/conformance.md).
		if !a.pin.hasPIN() {
			return nil, statusErrorf(CTAP2ErrPinNotSet, "no PIN is set")
		}
		return map[int]any{
			clientPINRespPinRetries:      a.pin.PINRetries,
			clientPINRespPowerCycleState: a.pinMismatches >= pinuv.MaxConsecutivePINMismatches,
		}, nil
	case SubCmdGetKeyAgreement:
		return a.getKeyAgreement(req)
	case SubCmdSetPIN:
		err := a.setPIN(req)
		a.logOutcome("set PIN", err)
		return nil, err
	case SubCmdChangePIN:
		err := a.changePIN(req)
		a.logOutcome("change PIN", err, "pinRetries", a.pin.PINRetries)
		return nil, err
	case SubCmdGetPinToken, SubCmdGetPinUvAuthTokenUsingPinWithPermissions:
		resp, err := a.getPinUvAuthTokenUsingPIN(req)
		a.logOutcome("PIN verification", err, "pinRetries", a.pin.PINRetries)
		return resp, err
	case SubCmdGetPinUvAuthTokenUsingUvWithPermissions, SubCmdGetUVRetries:
		if a.uv == nil {
			return nil, statusErrorf(CTAP2ErrInvalidSubcommand, "no built-in user verification method")
		}
		if req.subCommand == SubCmdGetUVRetries {
			return map[int]any{clientPINRespUVRetries: a.pin.UVRetries}, nil
		}
		resp, err := a.getPinUvAuthTokenUsingUV(r, req)
		a.logOutcome("built-in user verification", err, "uvRetries", a.pin.UVRetries)
		return resp, err
	}
	return nil, statusErrorf(CTAP2ErrInvalidSubcommand, "clientPIN subcommand 0x%02x", req.subCommand)
}

// getKeyAgreement is §6.5.5.4: the authenticator's key-agreement key of
// the chosen protocol.
func (a *Authenticator) getKeyAgreement(req *clientPINRequest) (any, error) {
	if err := requireParams(required{"pinUvAuthProtocol", req.protocol != nil}); err != nil {
		return nil, err
	}
	p, err := a.pinUvAuthProtocol(*req.protocol)
	if err != nil {
		return nil, err
	}
	return map[int]any{clientPINRespKeyAgreement: p.GetPublicKey()}, nil
}

// sharedSecret is decapsulate(keyAgreement): a key the platform did not
// make right is CTAP1_ERR_INVALID_PARAMETER. The caller clears the secret.
func sharedSecret(p pinuv.Protocol, keyAgreement []byte) ([]byte, error) {
	key, err := cose.Parse(keyAgreement)
	if err != nil {
		return nil, &StatusError{Status: CTAP1ErrInvalidParameter, Err: fmt.Errorf("keyAgreement: %w", err)}
	}
	secret, err := p.Decapsulate(key)
	if err != nil {
		return nil, &StatusError{Status: CTAP1ErrInvalidParameter, Err: fmt.Errorf("keyAgreement: %w", err)}
	}
	return secret, nil
}

// decryptNewPIN decrypts newPinEnc and checks the new PIN against the PIN
// rules and the current minimum length: the PIN, and its length in code
// points.
func (a *Authenticator) decryptNewPIN(p pinuv.Protocol, secret, newPinEnc []byte) ([]byte, int, error) {
	padded, err := p.Decrypt(secret, newPinEnc)
	if err != nil {
		return nil, 0, &StatusError{Status: CTAP2ErrPinAuthInvalid, Err: fmt.Errorf("newPinEnc: %w", err)}
	}
	defer clear(padded) // DecodeNewPIN returns a copy
	pin, err := pinuv.DecodeNewPIN(padded, a.pin.MinPINLength)
	if pe := (*pinuv.Error)(nil); errors.As(err, &pe) {
		return nil, 0, &StatusError{Status: Status(pe.Status), Err: err}
	} else if err != nil {
		return nil, 0, err
	}
	return pin, utf8.RuneCount(pin), nil
}

// setPIN is §6.5.5.5: the first PIN of the authenticator.
func (a *Authenticator) setPIN(req *clientPINRequest) error {
	if err := requireParams(
		required{"pinUvAuthProtocol", req.protocol != nil}, required{"keyAgreement", req.keyAgreement != nil},
		required{"newPinEnc", req.newPinEnc != nil}, required{"pinUvAuthParam", req.pinUvAuthParam != nil},
	); err != nil {
		return err
	}
	p, err := a.pinUvAuthProtocol(*req.protocol)
	if err != nil {
		return err
	}
	if a.pin.hasPIN() {
		return statusErrorf(CTAP2ErrPinAuthInvalid, "a PIN is already set: use changePIN")
	}
	secret, err := sharedSecret(p, req.keyAgreement)
	if err != nil {
		return err
	}
	defer clear(secret)
	if !p.Verify(secret, req.newPinEnc, req.pinUvAuthParam) {
		return statusErrorf(CTAP2ErrPinAuthInvalid, "pinUvAuthParam does not verify newPinEnc")
	}
	pin, codePoints, err := a.decryptNewPIN(p, secret, req.newPinEnc)
	if err != nil {
		return err
	}
	hash := pinuv.PINHash(pin)
	clear(pin)
	return a.updatePINState(func(s *pinState) {
		s.PINHash = hash[:]
		s.PINCodePointLength = codePoints
		s.PINRetries = pinuv.MaxPINRetries
	})
}

// checkPINAttempt is what precedes every comparison with the stored PIN:
// a PIN to compare with, retries left, and no power cycle pending.
func (a *Authenticator) checkPINAttempt() error {
	switch {
	case !a.pin.hasPIN():
		return statusErrorf(CTAP2ErrPinNotSet, "no PIN is set")
	case a.pin.PINRetries == 0:
		return statusErrorf(CTAP2ErrPinBlocked, "no PIN retries left: only authenticatorReset helps")
	case a.pinMismatches >= pinuv.MaxConsecutivePINMismatches:
		return statusErrorf(CTAP2ErrPinAuthBlocked, "%d wrong PINs in a row: power cycle the authenticator", a.pinMismatches)
	}
	return nil
}

// verifyPINHash compares pinHashEnc with the stored PIN (§6.5.5.6 steps
// 6-8, §6.5.5.7 steps 8-10). The pinRetries counter is decremented on disk
// before the comparison, so that a crash never gives a free try. A match
// restores it (and uvRetries, which a correct PIN unblocks); a mismatch
// regenerates the protocol's key-agreement key and answers
// CTAP2_ERR_PIN_BLOCKED at 0 retries, CTAP2_ERR_PIN_AUTH_BLOCKED at the
// third mismatch in a row, CTAP2_ERR_PIN_INVALID otherwise.
func (a *Authenticator) verifyPINHash(p pinuv.Protocol, secret, pinHashEnc []byte) error {
	if err := a.updatePINState(func(s *pinState) { s.PINRetries-- }); err != nil {
		return err
	}
	got, err := p.Decrypt(secret, pinHashEnc)
	defer clear(got)
	if err == nil && pinuv.PINHashEqual([pinuv.PINHashLength]byte(a.pin.PINHash), got) {
		a.pinMismatches = 0
		return a.updatePINState(func(s *pinState) {
			s.PINRetries = pinuv.MaxPINRetries
			s.UVRetries = MaxUVRetries
		})
	}
	a.pinMismatches++
	if err := p.Regenerate(); err != nil {
		return err
	}
	switch {
	case a.pin.PINRetries == 0:
		return statusErrorf(CTAP2ErrPinBlocked, "wrong PIN, no retries left")
	case a.pinMismatches >= pinuv.MaxConsecutivePINMismatches:
		return statusErrorf(CTAP2ErrPinAuthBlocked, "wrong PIN %d times in a row (%d retries left): power cycle the authenticator", a.pinMismatches, a.pin.PINRetries)
	}
	return statusErrorf(CTAP2ErrPinInvalid, "wrong PIN (%d retries left)", a.pin.PINRetries)
}

// changePIN is §6.5.5.6: a new PIN in exchange for the current one. Every
// pinUvAuthToken issued before is void afterwards.
func (a *Authenticator) changePIN(req *clientPINRequest) error {
	if err := requireParams(
		required{"pinUvAuthProtocol", req.protocol != nil}, required{"keyAgreement", req.keyAgreement != nil},
		required{"pinHashEnc", req.pinHashEnc != nil}, required{"newPinEnc", req.newPinEnc != nil},
		required{"pinUvAuthParam", req.pinUvAuthParam != nil},
	); err != nil {
		return err
	}
	p, err := a.pinUvAuthProtocol(*req.protocol)
	if err != nil {
		return err
	}
	if err := a.checkPINAttempt(); err != nil {
		return err
	}
	secret, err := sharedSecret(p, req.keyAgreement)
	if err != nil {
		return err
	}
	defer clear(secret)
	message := append(bytes.Clone(req.newPinEnc), req.pinHashEnc...)
	if !p.Verify(secret, message, req.pinUvAuthParam) {
		return statusErrorf(CTAP2ErrPinAuthInvalid, "pinUvAuthParam does not verify newPinEnc || pinHashEnc")
	}
	if err := a.verifyPINHash(p, secret, req.pinHashEnc); err != nil {
		return err
	}
	pin, codePoints, err := a.decryptNewPIN(p, secret, req.newPinEnc)
	if err != nil {
		return err
	}
	hash := pinuv.PINHash(pin)
	clear(pin)
	if a.pin.ForcePINChange && pinuv.PINHashEqual([pinuv.PINHashLength]byte(a.pin.PINHash), hash[:]) {
		return statusErrorf(CTAP2ErrPinPolicyViolation, "forcePINChange: the new PIN must differ from the current one")
	}
	if err := a.updatePINState(func(s *pinState) {
		s.PINHash = hash[:]
		s.PINCodePointLength = codePoints
		s.ForcePINChange = false
		s.PINRetries = pinuv.MaxPINRetries
		s.PersistentToken = nil // resetPersistentPinUvAuthToken, with the PIN in one write
	}); err != nil {
		return err
	}
	a.resetPinUvAuthTokens()
	return nil
}

// getPinUvAuthTokenUsingPIN is getPinToken (§6.5.5.7.1, the CTAP 2.0 way:
// permissions mc and ga) and getPinUvAuthTokenUsingPinWithPermissions
// (§6.5.5.7.2): a fresh pinUvAuthToken, encrypted for the platform, in
// exchange for the PIN.
func (a *Authenticator) getPinUvAuthTokenUsingPIN(req *clientPINRequest) (any, error) {
	legacy := req.subCommand == SubCmdGetPinToken
	if err := requireParams(
		required{"pinUvAuthProtocol", req.protocol != nil}, required{"keyAgreement", req.keyAgreement != nil},
		required{"pinHashEnc", req.pinHashEnc != nil}, required{"permissions", legacy || req.permissions != nil},
	); err != nil {
		return nil, err
	}
	p, err := a.pinUvAuthProtocol(*req.protocol)
	if err != nil {
		return nil, err
	}
	permissions := pinuv.PermissionMC | pinuv.PermissionGA
	if legacy {
		if req.permissions != nil || req.rpID != nil {
			return nil, statusErrorf(CTAP1ErrInvalidParameter, "getPinToken takes neither permissions nor rpId")
		}
	} else if permissions, err = checkPermissions(*req.permissions); err != nil {
		return nil, err
	}
	if err := a.checkPINAttempt(); err != nil {
		return nil, err
	}
	secret, err := sharedSecret(p, req.keyAgreement)
	if err != nil {
		return nil, err
	}
	defer clear(secret)
	if err := a.verifyPINHash(p, secret, req.pinHashEnc); err != nil {
		return nil, err
	}
	// CTAP 2.1 §6.5.5.7.1 and §6.5.5.7.2: a right PIN under forcePINChange
	// is CTAP2_ERR_PIN_INVALID (the retries are already restored), so that
	// the platform asks for a PIN change.
	if a.pin.ForcePINChange {
		return nil, statusErrorf(CTAP2ErrPinInvalid, "forcePINChange: change the PIN first")
	}
	if permissions == pinuv.PermissionPCMR {
		return a.issuePersistentToken(p, secret)
	}
	if a.profile == ProfileCTAP20 {
		return a.issuePINToken20(p, secret)
	}
	return a.issueToken(p, secret, false, permissions, req.rpID, legacy)
}

// checkPermissions checks the permissions parameter of
// getPinUvAuthTokenUsing…WithPermissions: not 0, and only permissions of
// features this authenticator has (cm, lbw and acfg are, with the PIN and
// with built-in user verification: getInfo's uvAcfg). Undefined bits are
// dropped. pcmr asks for the persistent token, which has no other
// permission: with another one it is CTAP2_ERR_UNAUTHORIZED_PERMISSION.
func checkPermissions(v uint64) (pinuv.Permission, error) {
	if v == 0 {
		return 0, statusErrorf(CTAP1ErrInvalidParameter, "permissions 0")
	}
	permissions := pinuv.Permission(v) & permissionsKnown
	if bad := permissions & permissionsUnsupported; bad != 0 {
		return 0, statusErrorf(CTAP2ErrUnauthorizedPermission, "permissions 0x%02x of features this authenticator lacks", bad)
	}
	if permissions&pinuv.PermissionPCMR != 0 && permissions != pinuv.PermissionPCMR {
		return 0, statusErrorf(CTAP2ErrUnauthorizedPermission, "pcmr with other permissions (0x%02x)", permissions)
	}
	return permissions, nil
}

// getPinUvAuthTokenUsingUV is getPinUvAuthTokenUsingUvWithPermissions
// (§6.5.5.7.3): a fresh pinUvAuthToken after built-in user verification.
func (a *Authenticator) getPinUvAuthTokenUsingUV(r *request, req *clientPINRequest) (any, error) {
	if err := requireParams(
		required{"pinUvAuthProtocol", req.protocol != nil}, required{"keyAgreement", req.keyAgreement != nil},
		required{"permissions", req.permissions != nil},
	); err != nil {
		return nil, err
	}
	p, err := a.pinUvAuthProtocol(*req.protocol)
	if err != nil {
		return nil, err
	}
	permissions, err := checkPermissions(*req.permissions)
	if err != nil {
		return nil, err
	}
	if a.pin.UVRetries == 0 {
		return nil, statusErrorf(CTAP2ErrUVBlocked, "no built-in user verification retries left: enter the PIN")
	}
	secret, err := sharedSecret(p, req.keyAgreement)
	if err != nil {
		return nil, err
	}
	defer clear(secret)
	prompt := PresenceRequest{Op: "userVerification"}
	if req.rpID != nil {
		prompt.RPID = *req.rpID
	}
	switch err := a.performBuiltInUV(r, prompt); {
	case errors.Is(err, errUVFailed) && a.pin.UVRetries == 0:
		return nil, &StatusError{Status: CTAP2ErrUVBlocked, Err: err}
	case errors.Is(err, errUVFailed):
		return nil, &StatusError{Status: CTAP2ErrUVInvalid, Err: err}
	case err != nil:
		return nil, err
	}
	if permissions == pinuv.PermissionPCMR {
		return a.issuePersistentToken(p, secret)
	}
	return a.issueToken(p, secret, true, permissions, req.rpID, false)
}

// issueToken makes a new pinUvAuthToken for all protocols (so that every
// earlier token is void), puts it in use with permissions and, when given,
// a permissions RP ID, and returns it encrypted for the platform.
func (a *Authenticator) issueToken(p pinuv.Protocol, secret []byte, userIsPresent bool, permissions pinuv.Permission, rpID *string, legacy bool) (any, error) {
	a.resetPinUvAuthTokens()
	a.token.BeginUsingPinUvAuthToken(userIsPresent)
	permissionsRPID := ""
	if rpID != nil {
		permissionsRPID = *rpID
	}
	a.token.SetPermissions(permissions, permissionsRPID)
	a.legacyToken = legacy
	enc, err := p.Encrypt(secret, a.token.Value(p))
	if err != nil {
		return nil, fmt.Errorf("encrypting the pinUvAuthToken: %w", err)
	}
	return map[int]any{clientPINRespPinUvAuthToken: enc}, nil
}

// resetPinUvAuthTokens is resetPinUvAuthToken() for every protocol: every
// token issued so far is void.
func (a *Authenticator) resetPinUvAuthTokens() {
	a.token.ResetPinUvAuthToken()
	a.legacyToken = false
}
