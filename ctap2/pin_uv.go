package ctap2

// The PIN/UV decision points of authenticatorMakeCredential and
// authenticatorGetAssertion. This authenticator supports neither clientPin
// nor pinUvAuthToken nor a built-in user verification method yet, so it is
// never "protected by some form of user verification" and never sets the UV
// flag; the clientPin work changes these functions and getInfo's options.

// checkPinUvAuthParam performs steps 1 and 2 of authenticatorMakeCredential
// (CTAP 2.1 §6.1.2) and authenticatorGetAssertion (§6.2.2).
func (a *Authenticator) checkPinUvAuthParam(p pinUvAuth) error {
	if p.param == nil {
		return nil
	}
	// Step 1 (a zero-length pinUvAuthParam asks for a touch, then answers
	// CTAP2_ERR_PIN_NOT_SET or CTAP2_ERR_PIN_INVALID) is for authenticators
	// that support clientPin or pinUvAuthToken. Without them a zero-length
	// pinUvAuthParam goes on to step 2 like any other.
	if p.protocol == nil {
		return statusErrorf(CTAP2ErrMissingParameter, "pinUvAuthParam without pinUvAuthProtocol")
	}
	// Step 2.1: no PIN/UV auth protocol is supported before clientPin is.
	return statusErrorf(CTAP1ErrInvalidParameter, "pinUvAuthProtocol %d is not supported", *p.protocol)
}

// checkUVOption performs the "uv" option step of authenticatorMakeCredential
// (§6.1.2 step 5) and authenticatorGetAssertion (§6.2.2 step 4): a
// pinUvAuthParam takes precedence over "uv"; "uv" true needs a built-in user
// verification method, which this authenticator does not have.
func (a *Authenticator) checkUVOption(o requestOptions, p pinUvAuth) error {
	if p.param != nil || o.uv != optionTrue {
		return nil
	}
	return statusErrorf(CTAP2ErrInvalidOption, `"uv" option: the authenticator has no built-in user verification method`)
}
