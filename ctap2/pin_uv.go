package ctap2

import (
	"errors"
	"fmt"

	"github.com/vauth/vauth/ctap2/pinuv"
)

// The PIN/UV decision points of authenticatorMakeCredential (CTAP 2.1
// §6.1.2) and authenticatorGetAssertion (§6.2.2), which share them: the
// zero-length pinUvAuthParam probe, the "uv" option, alwaysUv, and user
// verification with a pinUvAuthToken or the built-in method. The UV flag
// is set only when one of them verified the user for this very request.

// protectedByUV reports whether the authenticator is "protected by some
// form of user verification": a PIN is set, or there is a built-in user
// verification method.
func (a *Authenticator) protectedByUV() bool {
	return a.pin.hasPIN() || a.uv != nil
}

// checkPinUvAuthParam performs steps 1 and 2 of both commands and returns
// the PIN/UV auth protocol of the pinUvAuthParam (nil without one). A
// zero-length pinUvAuthParam is how a CTAP 2.0 platform makes the user pick
// one of several authenticators: the authenticator waits for a touch, then
// answers CTAP2_ERR_PIN_NOT_SET or CTAP2_ERR_PIN_INVALID (and
// CTAP2_ERR_OPERATION_DENIED when the user refuses or does not answer).
func (a *Authenticator) checkPinUvAuthParam(r *request, p pinUvAuth, rpID string) (pinuv.Protocol, error) {
	if p.param != nil && len(p.param) == 0 {
		err := a.userPresence(r, PresenceRequest{Op: "selection", RPID: rpID})
		switch s := statusOf(err); {
		case s == CTAP2ErrUserActionTimeout:
			return nil, &StatusError{Status: CTAP2ErrOperationDenied, Err: err}
		case err != nil:
			return nil, err
		case a.pin.hasPIN():
			return nil, statusErrorf(CTAP2ErrPinInvalid, "zero-length pinUvAuthParam: the user chose this authenticator")
		}
		return nil, statusErrorf(CTAP2ErrPinNotSet, "zero-length pinUvAuthParam: the user chose this authenticator")
	}
	if p.param == nil {
		return nil, nil
	}
	if a.profile == ProfileCTAP20 && (p.protocol == nil || *p.protocol != pinuv.ProtocolOneVersion) {
		// CTAP 2.0 §5.1 step 7, §5.2 step 3.
		return nil, statusErrorf(CTAP2ErrPinAuthInvalid, "pinAuth without pinProtocol 1")
	}
	if p.protocol == nil {
		return nil, statusErrorf(CTAP2ErrMissingParameter, "pinUvAuthParam without pinUvAuthProtocol")
	}
	return a.pinUvAuthProtocol(*p.protocol)
}

// pinUvAuthProtocol returns the protocol with the pinUvAuthProtocol number
// v; CTAP1_ERR_INVALID_PARAMETER when it is not supported.
func (a *Authenticator) pinUvAuthProtocol(v uint64) (pinuv.Protocol, error) {
	for _, p := range a.protocols {
		if uint64(p.Version()) == v {
			return p, nil
		}
	}
	return nil, statusErrorf(CTAP1ErrInvalidParameter, "pinUvAuthProtocol %d is not supported", v)
}

// uvOption is the "uv" step of the options (§6.1.2 step 5, §6.2.2 step 4):
// whether built-in user verification is asked for. A pinUvAuthParam takes
// precedence over "uv"; "uv" true needs a built-in method.
func (a *Authenticator) uvOption(o requestOptions, p pinUvAuth) (bool, error) {
	if p.param != nil || o.uv != optionTrue {
		return false, nil
	}
	if a.uv == nil {
		return false, statusErrorf(CTAP2ErrInvalidOption, `"uv" option: the authenticator has no built-in user verification method`)
	}
	return true, nil
}

// applyAlwaysUV is §6.1.2 step 6 and §6.2.2 step 5: with alwaysUv on, a
// request must verify the user, with a pinUvAuthParam or built-in user
// verification (which it gets when the authenticator has it). It returns
// the "uv" option in effect.
func (a *Authenticator) applyAlwaysUV(uv bool, p pinUvAuth) (bool, error) {
	switch {
	case !a.pin.AlwaysUV:
		return uv, nil
	case !a.protectedByUV():
		return false, statusErrorf(CTAP2ErrPUATRequired, "alwaysUv is on and no PIN is set")
	case p.param != nil, uv:
		return uv, nil
	case a.uv != nil:
		return true, nil
	}
	return false, statusErrorf(CTAP2ErrPUATRequired, "alwaysUv is on: a pinUvAuthParam is required")
}

// makeCredUVNotRequired is getInfo's makeCredUvNotRqd: a non-discoverable
// credential needs no user verification, unless alwaysUv is on.
func (a *Authenticator) makeCredUVNotRequired() bool { return !a.pin.AlwaysUV }

// uvRequired is the answer of §6.1.2 steps 7 and 8 to a request that must
// verify the user and does not: CTAP2_ERR_PUAT_REQUIRED when a PIN could
// do it, CTAP2_ERR_OPERATION_DENIED otherwise.
func (a *Authenticator) uvRequired(why string) error {
	if a.pin.hasPIN() {
		return statusErrorf(CTAP2ErrPUATRequired, "%s", why)
	}
	return statusErrorf(CTAP2ErrOperationDenied, "%s", why)
}

// userVerification is what verifyUser checks.
type userVerification struct {
	protocol       pinuv.Protocol // of the pinUvAuthParam; nil without one
	param          []byte         // the pinUvAuthParam
	builtIn        bool           // the "uv" option in effect
	clientDataHash []byte
	permission     pinuv.Permission // mc or ga
	rpID           string
	prompt         PresenceRequest // what built-in user verification shows
}

// verifyUser is §6.1.2 step 11 and §6.2.2 step 6. An authenticator
// protected by some form of user verification checks the pinUvAuthParam
// against the pinUvAuthToken (in use, holding the permission, bound to no
// other RP ID, and still vouching for a verified user), or performs
// built-in user verification. verified says the user was verified;
// interacted that built-in user verification also showed the user present.
func (a *Authenticator) verifyUser(r *request, v userVerification) (verified, interacted bool, err error) {
	if a.profile == ProfileCTAP20 && v.param != nil {
		err := a.verifyPINToken20(v)
		return err == nil, false, err
	}
	if !a.protectedByUV() {
		return false, false, nil
	}
	switch {
	case v.param != nil:
		switch {
		case !a.token.Verify(v.protocol, v.clientDataHash, v.param):
			return false, false, statusErrorf(CTAP2ErrPinAuthInvalid, "pinUvAuthParam does not verify with the pinUvAuthToken")
		case !a.token.HasPermission(v.permission):
			return false, false, statusErrorf(CTAP2ErrPinAuthInvalid, "the pinUvAuthToken lacks permission 0x%02x", v.permission)
		case !a.token.GetUserVerifiedFlagValue():
			return false, false, statusErrorf(CTAP2ErrPinAuthInvalid, "the pinUvAuthToken was already used to verify the user")
		case !a.token.AssociatePermissionsRPID(v.rpID):
			return false, false, statusErrorf(CTAP2ErrPinAuthInvalid, "the pinUvAuthToken is bound to another RP ID than %q", v.rpID)
		}
		return true, false, nil
	case v.builtIn:
		err := a.performBuiltInUV(r, v.prompt)
		switch {
		case err == nil:
			return true, true, nil
		case errors.Is(err, errUVFailed) && a.pin.UVRetries == 0:
			return false, false, &StatusError{Status: CTAP2ErrPinBlocked, Err: err}
		case errors.Is(err, errUVFailed):
			return false, false, &StatusError{Status: CTAP2ErrOperationDenied, Err: err}
		}
		return false, false, err
	}
	return false, false, nil
}

// collectUserPresence is §6.1.2 step 14 and §6.2.2 step 9 for a request
// whose user presence built-in user verification did not already show: the
// user is asked, unless the pinUvAuthToken of the request's
// pinUvAuthParam still carries recent presence; then the token's cached
// presence, cached verification and permissions (but lbw) are spent.
func (a *Authenticator) collectUserPresence(r *request, withToken bool, pr PresenceRequest) error {
	if !withToken || !a.token.GetUserPresentFlagValue() {
		if err := a.userPresence(r, pr); err != nil {
			return err
		}
	}
	a.token.ClearUserPresentFlag()
	a.token.ClearUserVerifiedFlag()
	a.token.ClearPinUvAuthTokenPermissionsExceptLbw()
	return nil
}

// errUVFailed is a built-in user verification that did not verify the
// user; uvRetries counts it.
var errUVFailed = errors.New("built-in user verification failed")

// performBuiltInUV is the spec's performBuiltInUv(): it asks Config.UV.
// An approval verifies the user and restores uvRetries; a refusal is a
// failed attempt, counted in uvRetries on disk before the answer goes out
// (errUVFailed); at uvRetries 0 nobody is asked. A timeout or a cancelled
// request is no attempt and comes back as its status.
func (a *Authenticator) performBuiltInUV(r *request, pr PresenceRequest) error {
	if a.pin.UVRetries == 0 {
		return fmt.Errorf("%w: uvRetries is 0", errUVFailed)
	}
	err := askUser(r, a.uv, pr)
	switch {
	case err == nil && a.pin.UVRetries == MaxUVRetries:
		return nil
	case err == nil:
		return a.updatePINState(func(s *pinState) { s.UVRetries = MaxUVRetries })
	case !errors.Is(err, ErrDenied):
		return err
	}
	if werr := a.updatePINState(func(s *pinState) { s.UVRetries-- }); werr != nil {
		return werr
	}
	return fmt.Errorf("%w (%d retries left): %w", errUVFailed, a.pin.UVRetries, err)
}
