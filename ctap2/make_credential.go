package ctap2

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"

	"github.com/vauth/vauth/ctap2/pinuv"
	"github.com/vauth/vauth/keystore"
)

// paramKey is an integer key of a request's parameter map. Requests use
// unsigned integer keys, which decode as uint64.
type paramKey = uint64

// authenticatorMakeCredential parameter keys (CTAP 2.1 §6.1).
const (
	makeCredentialClientDataHash        paramKey = 0x01
	makeCredentialRP                    paramKey = 0x02
	makeCredentialUser                  paramKey = 0x03
	makeCredentialPubKeyCredParams      paramKey = 0x04
	makeCredentialExcludeList           paramKey = 0x05
	makeCredentialExtensions            paramKey = 0x06
	makeCredentialOptions               paramKey = 0x07
	makeCredentialPinUvAuthParam        paramKey = 0x08
	makeCredentialPinUvAuthProtocol     paramKey = 0x09
	makeCredentialEnterpriseAttestation paramKey = 0x0A
)

// authenticatorMakeCredential response keys.
const (
	makeCredentialRespFmt      = 0x01
	makeCredentialRespAuthData = 0x02
	makeCredentialRespAttStmt  = 0x03
	makeCredentialRespEPAtt    = 0x04
)

// makeCredentialResponse is the response of authenticatorMakeCredential;
// its keys are the makeCredentialResp constants, and 0x05 the
// largeBlobKey. A struct encodes faster than a map.
type makeCredentialResponse struct {
	Fmt          string         `cbor:"1,keyasint"`
	AuthData     []byte         `cbor:"2,keyasint"`
	AttStmt      map[string]any `cbor:"3,keyasint"`
	EPAtt        bool           `cbor:"4,keyasint,omitempty"`
	LargeBlobKey []byte         `cbor:"5,keyasint,omitempty"`
}

// makeCredentialRequest is a decoded authenticatorMakeCredential request.
type makeCredentialRequest struct {
	clientDataHash   []byte
	rp               rpEntity
	user             userEntity
	pubKeyCredParams []credentialParameters
	excludeList      []credentialDescriptor
	options          requestOptions
	pinUvAuth        pinUvAuth
	extensions       makeCredentialExtensionInputs
	// enterpriseAttestation is the kind of enterprise attestation asked
	// for; nil when the parameter is absent.
	enterpriseAttestation *uint64
}

func (a *Authenticator) decodeMakeCredential(data []byte) (*makeCredentialRequest, error) {
	p, err := decodeRequest(data)
	if err != nil {
		return nil, err
	}
	var req makeCredentialRequest
	if req.clientDataHash, err = requiredField[[]byte](p, makeCredentialClientDataHash, "clientDataHash"); err != nil {
		return nil, err
	}
	raw, ok := p.lookup(makeCredentialRP)
	if !ok {
		return nil, statusErrorf(CTAP2ErrMissingParameter, "rp is missing")
	}
	if req.rp, err = decodeRPEntity(raw, "rp"); err != nil {
		return nil, err
	}
	if raw, ok = p.lookup(makeCredentialUser); !ok {
		return nil, statusErrorf(CTAP2ErrMissingParameter, "user is missing")
	}
	if req.user, err = decodeUserEntity(raw, "user"); err != nil {
		return nil, err
	}
	var present bool
	req.pubKeyCredParams, present, err = decodeArray(p, makeCredentialPubKeyCredParams, "pubKeyCredParams", 0, decodeCredentialParameters)
	if err != nil {
		return nil, err
	}
	if !present {
		return nil, statusErrorf(CTAP2ErrMissingParameter, "pubKeyCredParams is missing")
	}
	if req.excludeList, _, err = decodeArray(p, makeCredentialExcludeList, "excludeList", a.credentialListLimit(), decodeCredentialDescriptor); err != nil {
		return nil, err
	}
	if req.extensions, err = decodeMakeCredentialExtensions(p, makeCredentialExtensions); err != nil {
		return nil, err
	}
	if a.profile == ProfileCTAP20 {
		req.extensions = req.extensions.ctap20()
	}
	if req.options, err = decodeOptions(p, makeCredentialOptions); err != nil {
		return nil, err
	}
	if req.options.rk == optionTrue && len(req.user.ID) == 0 {
		// A discoverable credential is found again by its user ID
		// (limits.go).
		return nil, statusErrorf(CTAP1ErrInvalidLength, "user.id is empty")
	}
	if req.pinUvAuth, err = decodePinUvAuth(p, makeCredentialPinUvAuthParam, makeCredentialPinUvAuthProtocol); err != nil {
		return nil, err
	}
	ea, present, err := field[uint64](p, makeCredentialEnterpriseAttestation, "enterpriseAttestation")
	if err != nil {
		return nil, err
	}
	if present {
		req.enterpriseAttestation = &ea
	}
	return &req, nil
}

// makeCredential is authenticatorMakeCredential (CTAP 2.1 §6.1): it makes a
// new credential for an RP after the user confirms.
func (a *Authenticator) makeCredential(r *request) (any, error) {
	req, err := a.decodeMakeCredential(r.params)
	if err != nil {
		return nil, err
	}
	resp, cred, err := a.doMakeCredential(r, req)
	if a.log.Enabled(r.ctx, slog.LevelInfo) {
		attrs := []any{"rp", req.rp.ID, "user", req.user.Name, "discoverable", req.options.rk == optionTrue}
		if cred != nil {
			attrs = append(attrs, "algorithm", cred.Algorithm, "credential", base64.RawURLEncoding.EncodeToString(cred.ID))
		}
		a.logOutcome("registration", err, attrs...)
	}
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// doMakeCredential follows the steps of CTAP 2.1 §6.1.2 (the numbers in
// the comments) and returns the response and the new credential.
func (a *Authenticator) doMakeCredential(r *request, req *makeCredentialRequest) (*makeCredentialResponse, *keystore.Credential, error) {
	rpIDHash := sha256.Sum256([]byte(req.rp.ID))
	if a.profile == ProfileCTAP20 {
		// CTAP 2.0 §5.1 step 1 checks the excludeList before anything else,
		// knowing nothing of credProtect's user verification.
		if err := a.checkExcludeList(r, req, rpIDHash, false); err != nil {
			return nil, nil, err
		}
	}
	// 1, 2: pinUvAuthParam and pinUvAuthProtocol.
	protocol, err := a.checkPinUvAuthParam(r, req.pinUvAuth, req.rp.ID)
	if err != nil {
		return nil, nil, err
	}
	// 3: the first supported algorithm of pubKeyCredParams.
	alg, err := a.chooseAlgorithm(req.pubKeyCredParams)
	if err != nil {
		return nil, nil, err
	}
	// 4: the response's flags start cleared.
	var flags byte
	// 5: options. "rk" is supported; "uv" needs built-in user verification;
	// "up" must not be false.
	uv, err := a.uvOption(req.options, req.pinUvAuth)
	if err != nil {
		return nil, nil, err
	}
	rk := req.options.rk == optionTrue
	if req.options.up == optionFalse {
		return nil, nil, statusErrorf(CTAP2ErrInvalidOption, `"up" option false in makeCredential`)
	}
	if a.profile == ProfileCTAP20 && req.options.up != optionAbsent {
		// CTAP 2.0 §5.1 step 3: "up" is known but not valid here.
		return nil, nil, statusErrorf(CTAP2ErrInvalidOption, `"up" option in a CTAP 2.0 makeCredential`)
	}
	// 6: alwaysUv.
	if uv, err = a.applyAlwaysUV(uv, req.pinUvAuth); err != nil {
		return nil, nil, err
	}
	// 7, 8: an authenticator protected by user verification makes a
	// discoverable credential only for a verified user, and any credential
	// when makeCredUvNotRqd is off (alwaysUv).
	if a.profile == ProfileCTAP20 {
		// CTAP 2.0 §5.1 step 6 (no makeCredUvNotRqd): once a PIN is set,
		// every credential needs it, or built-in user verification.
		if a.pin.hasPIN() && !uv && req.pinUvAuth.param == nil {
			return nil, nil, statusErrorf(CTAP2ErrPUATRequired, "CTAP 2.0 makeCredential without pinAuth on an authenticator with a PIN")
		}
	} else if a.protectedByUV() && !uv && req.pinUvAuth.param == nil && (rk || !a.makeCredUVNotRequired()) {
		return nil, nil, a.uvRequired("makeCredential without user verification")
	}
	// 9: enterprise attestation.
	if err := a.checkEnterpriseAttestation(req.enterpriseAttestation); err != nil {
		return nil, nil, err
	}
	// The hmac-secret-mc input is checked before the user is asked for
	// anything; its output needs the new credential (step 15).
	var hmacSecretMC *hmacSecret
	if in := req.extensions.hmacSecretMC; in != nil {
		if hmacSecretMC, err = a.openHMACSecret(in); err != nil {
			return nil, nil, err
		}
	}
	// 10, 11: user verification (which a non-discoverable credential
	// without "uv" or pinUvAuthParam skips: there is nothing to verify).
	prompt := PresenceRequest{Op: "makeCredential", RPID: req.rp.ID, User: displayUser(req.user.Name, req.user.DisplayName)}
	verified, interacted, err := a.verifyUser(r, userVerification{
		protocol: protocol, param: req.pinUvAuth.param, builtIn: uv, clientDataHash: req.clientDataHash,
		permission: pinuv.PermissionMC, rpID: req.rp.ID, prompt: prompt,
	})
	if err != nil {
		return nil, nil, err
	}
	if verified {
		flags |= flagUV
	}
	// 12: excludeList (CTAP 2.0 checked it first).
	if a.profile != ProfileCTAP20 {
		if err := a.checkExcludeList(r, req, rpIDHash, flags&flagUV != 0); err != nil {
			return nil, nil, err
		}
	}
	// 13, 14: user presence, which built-in user verification has shown
	// already.
	if !interacted {
		if err := a.collectUserPresence(r, protocol != nil, prompt); err != nil {
			return nil, nil, err
		}
	}
	flags |= flagUP
	// 16-18: the new key pair, discoverable when "rk" is true.
	if rk {
		if err := a.checkDiscoverableCapacity(rpIDHash, req.user.ID); err != nil {
			return nil, nil, err
		}
	}
	createReq := keystore.CreateRequest{RPIDHash: rpIDHash, Algorithm: alg, Discoverable: rk}
	if rk {
		createReq.RPID = req.rp.ID
		createReq.User = keystore.User{ID: req.user.ID, Name: req.user.Name, DisplayName: req.user.DisplayName}
	}
	// 15: extensions: what the credential keeps goes into createReq.
	outputs, err := a.makeCredentialExtensionData(req.extensions, req.rp.ID, rk, &createReq)
	if err != nil {
		return nil, nil, err
	}
	// Key generation runs here, in the command's goroutine, so CTAPHID
	// keeps sending KEEPALIVE while an RSA key (~100 ms) is made. A
	// CTAPHID_CANCEL that came meanwhile is honoured (CTAP 2.1 §11.2.9.1.5)
	// as long as nothing was stored: before generation, and after it for
	// a non-discoverable credential, which lives only in its ID.
	if err := r.ctx.Err(); err != nil {
		return nil, nil, &StatusError{Status: CTAP2ErrKeepaliveCancel, Err: err}
	}
	cred, err := a.keystore.Create(createReq)
	if err != nil {
		return nil, nil, keystoreError("creating the credential", err)
	}
	if err := r.ctx.Err(); err != nil && !rk {
		return nil, nil, &StatusError{Status: CTAP2ErrKeepaliveCancel, Err: err}
	}
	if hmacSecretMC != nil {
		enc, err := hmacSecretMC.output(a.keystore, cred, flags&flagUV != 0)
		if err != nil {
			return nil, cred, err
		}
		outputs.set(extHMACSecretMC, enc)
	}
	extensions, err := outputs.marshal()
	if err != nil {
		return nil, cred, err
	}
	// 19: authenticator data and the attestation statement. A new credential
	// has signed nothing yet, so its counter is 0; taking a counter here would
	// cost a non-discoverable credential a durable counter record (an fsync)
	// per registration, and the first assertion reserves one anyway.
	ad := authenticatorData{rpIDHash: rpIDHash, flags: a.faults.flags(flags), attestedCredential: cred, aaguid: a.aaguid, extensions: extensions}
	authData, err := ad.marshal(0)
	if err != nil {
		return nil, cred, fmt.Errorf("authenticator data: %w", err)
	}
	attester, epAtt := a.attester, a.enterpriseAttestationFor(req.enterpriseAttestation, req.rp.ID)
	if epAtt {
		attester = a.enterpriseAttester
	}
	stmt, err := attester.Attest(a.keystore, cred, authData, req.clientDataHash)
	if err != nil {
		return nil, cred, fmt.Errorf("attestation: %w", err)
	}
	attStmt := stmt.AttStmt
	if attStmt == nil {
		attStmt = map[string]any{} // attStmt is a map even when empty
	}
	a.faults.attestation(attStmt)
	a.observe(EventRegistered, req.rp.ID, keystore.User{ID: req.user.ID, Name: req.user.Name, DisplayName: req.user.DisplayName}, cred, authData)
	return &makeCredentialResponse{Fmt: stmt.Format, AuthData: authData, AttStmt: attStmt, EPAtt: epAtt, LargeBlobKey: cred.LargeBlobKey}, cred, nil
}

// chooseAlgorithm is step 3 of §6.1.2: the algorithm of the first
// "public-key" entry of pubKeyCredParams that the authenticator supports.
// Entries of other types are skipped.
func (a *Authenticator) chooseAlgorithm(ps []credentialParameters) (int, error) {
	for _, p := range ps {
		if p.Type != credentialTypePublicKey {
			continue
		}
		for _, alg := range a.algorithms {
			if int64(alg) == p.Alg {
				return alg, nil
			}
		}
	}
	return 0, statusErrorf(CTAP2ErrUnsupportedAlgorithm, "no supported algorithm in pubKeyCredParams")
}

// checkExcludeList is step 12 of §6.1.2: when the excludeList names a
// credential of this authenticator for this RP, the user is asked for
// presence (so that the answer does not leak without a touch) and the
// request ends with CTAP2_ERR_CREDENTIAL_EXCLUDED, whatever the user does.
// A credential with credProtect userVerificationRequired counts only when
// the user was verified.
func (a *Authenticator) checkExcludeList(r *request, req *makeCredentialRequest, rpIDHash [32]byte, uv bool) error {
	for _, d := range req.excludeList {
		if d.Type != credentialTypePublicKey {
			continue
		}
		c, err := a.keystore.Lookup(rpIDHash, d.ID)
		if errors.Is(err, keystore.ErrNotFound) {
			continue
		} else if err != nil {
			return fmt.Errorf("looking up an excludeList credential: %w", err)
		}
		if credProtectHides(c, uv, true) {
			continue
		}
		err = a.userPresence(r, PresenceRequest{Op: "makeCredential", RPID: req.rp.ID, User: displayUser(req.user.Name, req.user.DisplayName)})
		if statusOf(err) == CTAP2ErrKeepaliveCancel {
			return err
		}
		return statusErrorf(CTAP2ErrCredentialExcluded, "the excludeList names credential %s", base64.RawURLEncoding.EncodeToString(c.ID))
	}
	return nil
}

// checkDiscoverableCapacity is step 17.4 of §6.1.2 with
// Config.MaxDiscoverable as the capacity. Replacing the credential of the
// same user of the same RP needs no room.
func (a *Authenticator) checkDiscoverableCapacity(rpIDHash [32]byte, userID []byte) error {
	existing, err := a.keystore.Discoverable(rpIDHash)
	if err != nil {
		return fmt.Errorf("listing the RP's discoverable credentials: %w", err)
	}
	for _, c := range existing {
		if bytes.Equal(c.User.ID, userID) {
			return nil
		}
	}
	n, err := a.discoverableCount()
	if err != nil {
		return err
	}
	if n >= a.maxDiscoverable {
		return statusErrorf(CTAP2ErrKeyStoreFull, "%d discoverable credentials, the most allowed", n)
	}
	return nil
}

// displayUser is how a user is named to the person asked for presence.
func displayUser(name, displayName string) string {
	if name != "" {
		return name
	}
	return displayName
}
