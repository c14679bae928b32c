package ctap2

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/vauth/vauth/ctap2/pinuv"
	"github.com/vauth/vauth/keystore"
)

// authenticatorGetAssertion parameter keys (CTAP 2.1 §6.2).
const (
	getAssertionRPID              paramKey = 0x01
	getAssertionClientDataHash    paramKey = 0x02
	getAssertionAllowList         paramKey = 0x03
	getAssertionExtensions        paramKey = 0x04
	getAssertionOptions           paramKey = 0x05
	getAssertionPinUvAuthParam    paramKey = 0x06
	getAssertionPinUvAuthProtocol paramKey = 0x07
)

// authenticatorGetAssertion and authenticatorGetNextAssertion response keys.
const (
	getAssertionRespCredential          = 0x01
	getAssertionRespAuthData            = 0x02
	getAssertionRespSignature           = 0x03
	getAssertionRespUser                = 0x04
	getAssertionRespNumberOfCredentials = 0x05
)

// getNextAssertionTimeout is how long after the previous assertion
// authenticatorGetNextAssertion may follow (CTAP 2.1 §6.3).
const getNextAssertionTimeout = 30 * time.Second

// getAssertionRequest is a decoded authenticatorGetAssertion request.
type getAssertionRequest struct {
	rpID           string
	clientDataHash []byte
	// allowList holds the "public-key" entries of the allowList;
	// allowListPresent says whether a non-empty allowList came at all.
	allowList        []credentialDescriptor
	allowListPresent bool
	options          requestOptions
	pinUvAuth        pinUvAuth
	extensions       getAssertionExtensionInputs
}

// assertionState is what authenticatorGetNextAssertion continues: the
// remembered authenticatorGetAssertion parameters, the credentials still to
// return, and when the last assertion was made.
type assertionState struct {
	rpID           string
	rpIDHash       [32]byte
	clientDataHash []byte
	flags          byte
	credentials    []*keystore.Credential
	next           int // credentialCounter: the index of the next credential
	last           time.Time
	// extensions are the extension inputs, and hmacSecret the hmac-secret
	// input opened; each assertion makes its own outputs.
	extensions getAssertionExtensionInputs
	hmacSecret *hmacSecret
}

// assertionResponse is the response of authenticatorGetAssertion and
// authenticatorGetNextAssertion; its keys are the getAssertionResp
// constants, and 0x07 the largeBlobKey. A struct encodes in a third of the
// time a map[int]any takes.
type assertionResponse struct {
	Credential          credentialDescriptorResponse `cbor:"1,keyasint"`
	AuthData            []byte                       `cbor:"2,keyasint"`
	Signature           []byte                       `cbor:"3,keyasint"`
	User                *userEntityResponse          `cbor:"4,keyasint,omitempty"`
	NumberOfCredentials int                          `cbor:"5,keyasint,omitempty"`
	LargeBlobKey        []byte                       `cbor:"7,keyasint,omitempty"`
}

// credentialDescriptorResponse is the credential member of a response.
type credentialDescriptorResponse struct {
	ID   []byte `cbor:"id"`
	Type string `cbor:"type"`
}

// userEntityResponse is the user member of a response.
type userEntityResponse struct {
	ID          []byte `cbor:"id"`
	Name        string `cbor:"name,omitempty"`
	DisplayName string `cbor:"displayName,omitempty"`
}

func (a *Authenticator) decodeGetAssertion(data []byte) (*getAssertionRequest, error) {
	p, err := decodeRequest(data)
	if err != nil {
		return nil, err
	}
	var req getAssertionRequest
	if req.rpID, err = requiredField[string](p, getAssertionRPID, "rpId"); err != nil {
		return nil, err
	}
	if req.clientDataHash, err = requiredField[[]byte](p, getAssertionClientDataHash, "clientDataHash"); err != nil {
		return nil, err
	}
	allowList, _, err := decodeArray(p, getAssertionAllowList, "allowList", a.credentialListLimit(), decodeCredentialDescriptor)
	if err != nil {
		return nil, err
	}
	req.allowListPresent = len(allowList) > 0
	req.allowList = slices.DeleteFunc(allowList, func(d credentialDescriptor) bool { return d.Type != credentialTypePublicKey })
	if req.extensions, err = decodeGetAssertionExtensions(p, getAssertionExtensions); err != nil {
		return nil, err
	}
	if a.profile == ProfileCTAP20 {
		req.extensions = req.extensions.ctap20()
	}
	if req.options, err = decodeOptions(p, getAssertionOptions); err != nil {
		return nil, err
	}
	if req.pinUvAuth, err = decodePinUvAuth(p, getAssertionPinUvAuthParam, getAssertionPinUvAuthProtocol); err != nil {
		return nil, err
	}
	return &req, nil
}

// getAssertion is authenticatorGetAssertion (CTAP 2.1 §6.2): it proves to
// an RP that the user holds one of its credentials.
func (a *Authenticator) getAssertion(r *request) (any, error) {
	req, err := a.decodeGetAssertion(r.params)
	if err != nil {
		return nil, err
	}
	resp, cred, n, err := a.doGetAssertion(r, req)
	if a.log.Enabled(r.ctx, slog.LevelInfo) {
		attrs := []any{"rp", req.rpID, "credentials", n, "up", req.options.up != optionFalse}
		if cred != nil {
			attrs = append(attrs, "user", cred.User.Name, "credential", base64.RawURLEncoding.EncodeToString(cred.ID))
		}
		a.logOutcome("assertion", err, attrs...)
	}
	return resp, err
}

// doGetAssertion follows the steps of CTAP 2.1 §6.2.2 (the numbers in the
// comments) and returns the response, the credential it used and the number
// of applicable credentials.
func (a *Authenticator) doGetAssertion(r *request, req *getAssertionRequest) (*assertionResponse, *keystore.Credential, int, error) {
	rpIDHash := sha256.Sum256([]byte(req.rpID))
	// 1, 2: pinUvAuthParam and pinUvAuthProtocol.
	protocol, err := a.checkPinUvAuthParam(r, req.pinUvAuth, req.rpID)
	if err != nil {
		return nil, nil, 0, err
	}
	// 3: the response's flags start cleared.
	var flags byte
	// 4: options. "uv" needs built-in user verification; "rk" is not an
	// option of getAssertion; "up" defaults to true.
	uv, err := a.uvOption(req.options, req.pinUvAuth)
	if err != nil {
		return nil, nil, 0, err
	}
	if req.options.rk != optionAbsent {
		status := CTAP2ErrUnsupportedOption
		if a.profile == ProfileCTAP20 {
			status = CTAP2ErrInvalidOption // CTAP 2.0 §5.2 step 5: "rk" is known but not valid here
		}
		return nil, nil, 0, statusErrorf(status, `"rk" option in getAssertion`)
	}
	up := req.options.up != optionFalse
	// 5: alwaysUv, for assertions with user presence.
	if up {
		if uv, err = a.applyAlwaysUV(uv, req.pinUvAuth); err != nil {
			return nil, nil, 0, err
		}
	}
	// 6: user verification.
	prompt := PresenceRequest{Op: "getAssertion", RPID: req.rpID}
	verified, interacted, err := a.verifyUser(r, userVerification{
		protocol: protocol, param: req.pinUvAuth.param, builtIn: uv, clientDataHash: req.clientDataHash,
		permission: pinuv.PermissionGA, rpID: req.rpID, prompt: prompt,
	})
	if err != nil {
		return nil, nil, 0, err
	}
	if verified {
		flags |= flagUV
	}
	// The hmac-secret input is checked before the user is asked for
	// anything (its outputs are made in step 10, per credential). It needs
	// user presence.
	var hmacSecret *hmacSecret
	if in := req.extensions.hmacSecret; in != nil {
		if !up {
			return nil, nil, 0, statusErrorf(CTAP2ErrUnsupportedOption, `hmac-secret with the "up" option false`)
		}
		if hmacSecret, err = a.openHMACSecret(in); err != nil {
			return nil, nil, 0, err
		}
	}
	// 7: the applicable credentials.
	creds, err := a.applicableCredentials(req, rpIDHash, flags&flagUV != 0)
	if err != nil {
		return nil, nil, 0, err
	}
	if len(creds) == 0 {
		if a.profile == ProfileCTAP20 && up && !interacted {
			// CTAP 2.0 §5.2 collects user consent (step 7) before it
			// tells that there is no credential (step 8).
			if err := a.userPresence(r, prompt); err != nil {
				return nil, nil, 0, err
			}
		}
		return nil, nil, 0, statusErrorf(CTAP2ErrNoCredentials, "no credential of %q", req.rpID)
	}
	// 8: built-in user verification has shown the user present.
	if interacted {
		flags |= flagUP
	}
	// 9: user presence, unless "up" is false (a silent assertion).
	if up && !interacted {
		if len(creds) == 1 { // with several, the platform lets the user choose later
			prompt.User = displayUser(creds[0].User.Name, creds[0].User.DisplayName)
		}
		if err := a.collectUserPresence(r, protocol != nil, prompt); err != nil {
			return nil, nil, len(creds), err
		}
		flags |= flagUP
	}
	// 10: extensions, whose outputs assert makes for each credential.
	// 11: with an allowList, any applicable credential will do.
	// 12: without, the newest first; getNextAssertion serves the others.
	state := assertionState{rpID: req.rpID, rpIDHash: rpIDHash, clientDataHash: req.clientDataHash, flags: flags, credentials: creds,
		extensions: req.extensions, hmacSecret: hmacSecret}
	resp, err := a.assert(&state, creds[0])
	if err != nil {
		return nil, creds[0], len(creds), err
	}
	if !req.allowListPresent && len(creds) > 1 {
		resp.NumberOfCredentials = len(creds)
		// Kept for getNextAssertion; a copy, so that the usual single
		// assertion does not put its state on the heap.
		kept := state
		kept.next, kept.last = 1, a.clock.Now()
		a.assertions = &kept
	}
	return resp, creds[0], len(creds), nil
}

// applicableCredentials is step 7 of §6.2.2: the credentials of the
// allowList that this authenticator made for the RP, or without an
// allowList the RP's discoverable credentials, newest first; less those
// that their credProtect level hides (steps 7.4, 7.5).
func (a *Authenticator) applicableCredentials(req *getAssertionRequest, rpIDHash [32]byte, uv bool) ([]*keystore.Credential, error) {
	var creds []*keystore.Credential
	if req.allowListPresent {
		for _, d := range req.allowList {
			c, err := a.keystore.Lookup(rpIDHash, d.ID)
			if errors.Is(err, keystore.ErrNotFound) {
				continue
			} else if err != nil {
				return nil, fmt.Errorf("looking up an allowList credential: %w", err)
			}
			creds = append(creds, c)
		}
	} else {
		var err error
		if creds, err = a.keystore.Discoverable(rpIDHash); err != nil {
			return nil, fmt.Errorf("listing the RP's discoverable credentials: %w", err)
		}
	}
	return slices.DeleteFunc(creds, func(c *keystore.Credential) bool {
		return credProtectHides(c, uv, req.allowListPresent)
	}), nil
}

// getNextAssertion is authenticatorGetNextAssertion (CTAP 2.1 §6.3): the
// next credential of the authenticatorGetAssertion right before it.
func (a *Authenticator) getNextAssertion(r *request) (any, error) {
	state := a.assertions
	// 1, 2: something to continue.
	if state == nil || state.next >= len(state.credentials) {
		return nil, statusErrorf(CTAP2ErrNotAllowed, "no authenticatorGetAssertion to continue")
	}
	// 3: within 30 seconds of the previous assertion.
	now := a.clock.Now()
	if now.Sub(state.last) > getNextAssertionTimeout {
		a.assertions = nil
		return nil, statusErrorf(CTAP2ErrNotAllowed, "authenticatorGetNextAssertion more than %v after the previous assertion", getNextAssertionTimeout)
	}
	// 4-6: the next credential, signed.
	cred := state.credentials[state.next]
	resp, err := a.assert(state, cred)
	if a.log.Enabled(r.ctx, slog.LevelInfo) {
		a.logOutcome("assertion", err, "rp", state.rpID, "user", cred.User.Name, "credential", base64.RawURLEncoding.EncodeToString(cred.ID), "up", state.flags&flagUP != 0, "next", state.next)
	}
	if err != nil {
		return nil, err
	}
	// 7, 8: reset the timer, advance the counter.
	state.last = now
	state.next++
	return resp, nil
}

// assert makes the assertion of one credential (§6.2.2 step 13): fresh
// authenticator data, its signature with the client data hash, and the
// credential's user when it is discoverable.
func (a *Authenticator) assert(state *assertionState, cred *keystore.Credential) (*assertionResponse, error) {
	signCount, err := a.keystore.NextCounter(cred)
	if err != nil {
		return nil, fmt.Errorf("signature counter: %w", err)
	}
	extensions, err := a.assertionExtensionOutputs(state, cred)
	if err != nil {
		return nil, err
	}
	ad := authenticatorData{rpIDHash: state.rpIDHash, flags: a.faults.flags(state.flags), signCount: signCount, extensions: extensions}
	authData, err := ad.marshal(len(state.clientDataHash))
	if err != nil {
		return nil, fmt.Errorf("authenticator data: %w", err)
	}
	sig, err := a.keystore.Sign(cred, append(authData, state.clientDataHash...))
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	sig = a.faults.signature(sig)
	a.observe(EventAsserted, state.rpID, cred.User, cred, authData)
	resp := &assertionResponse{
		Credential: credentialDescriptorResponse{ID: cred.ID, Type: credentialTypePublicKey},
		AuthData:   authData,
		Signature:  sig,
	}
	if cred.Discoverable {
		u := userResponse(cred.User, state.flags&flagUV != 0)
		resp.User = &u
	}
	if state.extensions.largeBlobKey && cred.LargeBlobKey != nil {
		resp.LargeBlobKey = cred.LargeBlobKey
	}
	return resp, nil
}

// assertionExtensionOutputs are the extension outputs of one credential's
// assertion, encoded; nil when there are none.
func (a *Authenticator) assertionExtensionOutputs(state *assertionState, cred *keystore.Credential) ([]byte, error) {
	var out extensionOutputs
	if state.extensions.credBlob {
		out.set(extCredBlob, credBlobOutput(cred))
	}
	if state.hmacSecret != nil {
		enc, err := state.hmacSecret.output(a.keystore, cred, state.flags&flagUV != 0)
		if err != nil {
			return nil, err
		}
		out.set(extHMACSecret, enc)
	}
	if state.extensions.thirdPartyPayment {
		out.set(extThirdPartyPayment, cred.ThirdPartyPayment)
	}
	return out.marshal()
}

// userResponse is the user member of an assertion: the user ID, and the
// name and display name only when the authenticator verified the user
// (§6.2.2 step 12.3). Names are truncated here too, for stores written
// before requests were: a longer name could overflow a CTAPHID message.
func userResponse(u keystore.User, uv bool) userEntityResponse {
	if !uv {
		return userEntityResponse{ID: u.ID}
	}
	return userEntityResponse{ID: u.ID, Name: truncateName(u.Name), DisplayName: truncateName(u.DisplayName)}
}
