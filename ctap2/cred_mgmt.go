package ctap2

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/vauth/vauth/ctap2/pinuv"
	"github.com/vauth/vauth/internal/cose"
	"github.com/vauth/vauth/keystore"
)

// authenticatorCredentialManagement parameter keys (CTAP 2.1 §6.8).
const (
	credMgmtSubCommand        paramKey = 0x01
	credMgmtSubCommandParams  paramKey = 0x02
	credMgmtPinUvAuthProtocol paramKey = 0x03
	credMgmtPinUvAuthParam    paramKey = 0x04
)

// Keys of the subCommandParams map.
const (
	credMgmtParamRPIDHash     paramKey = 0x01
	credMgmtParamCredentialID paramKey = 0x02
	credMgmtParamUser         paramKey = 0x03
)

// authenticatorCredentialManagement response keys.
const (
	credMgmtRespExistingResidentCredentialsCount             = 0x01
	credMgmtRespMaxPossibleRemainingResidentCredentialsCount = 0x02
	credMgmtRespRP                                           = 0x03
	credMgmtRespRPIDHash                                     = 0x04
	credMgmtRespTotalRPs                                     = 0x05
	credMgmtRespUser                                         = 0x06
	credMgmtRespCredentialID                                 = 0x07
	credMgmtRespPublicKey                                    = 0x08
	credMgmtRespTotalCredentials                             = 0x09
	credMgmtRespCredProtect                                  = 0x0A
	credMgmtRespLargeBlobKey                                 = 0x0B
	credMgmtRespThirdPartyPayment                            = 0x0C // CTAP 2.2
)

// authenticatorCredentialManagement subcommands (CTAP 2.1 §6.8), shared
// with the host side (ctap2/client).
const (
	SubCmdGetCredsMetadata                      = 0x01
	SubCmdEnumerateRPsBegin                     = 0x02
	SubCmdEnumerateRPsGetNextRP                 = 0x03
	SubCmdEnumerateCredentialsBegin             = 0x04
	SubCmdEnumerateCredentialsGetNextCredential = 0x05
	SubCmdDeleteCredential                      = 0x06
	SubCmdUpdateUserInformation                 = 0x07
)

// enumeration is an enumerateRPsBegin or enumerateCredentialsBegin in
// progress: the subcommand that continues it and what it returns next (for
// RPs, one credential of each RP).
type enumeration struct {
	next  uint64
	items []*keystore.Credential
}

// credMgmtRequest is a decoded authenticatorCredentialManagement request.
type credMgmtRequest struct {
	subCommand uint64
	// rawParams is subCommandParams as it arrived, which pinUvAuthParam
	// authenticates; nil when absent.
	rawParams    []byte
	rpIDHash     []byte
	credentialID *credentialDescriptor
	user         *userEntity
	pinUvAuth    pinUvAuth
}

func decodeCredMgmt(data []byte) (*credMgmtRequest, error) {
	p, err := decodeRequest(data)
	if err != nil {
		return nil, err
	}
	var req credMgmtRequest
	if req.subCommand, err = requiredField[uint64](p, credMgmtSubCommand, "subCommand"); err != nil {
		return nil, err
	}
	sub, present, err := field[params](p, credMgmtSubCommandParams, "subCommandParams")
	if err != nil {
		return nil, err
	}
	if present {
		req.rawParams, _ = p.lookup(credMgmtSubCommandParams)
	}
	if req.rpIDHash, _, err = field[[]byte](sub, credMgmtParamRPIDHash, "rpIDHash"); err != nil {
		return nil, err
	}
	if raw, ok := sub.lookup(credMgmtParamCredentialID); ok {
		d, err := decodeCredentialDescriptor(raw, "credentialID")
		if err != nil {
			return nil, err
		}
		req.credentialID = &d
	}
	if raw, ok := sub.lookup(credMgmtParamUser); ok {
		u, err := decodeUserEntity(raw, "user")
		if err != nil {
			return nil, err
		}
		req.user = &u
	}
	req.pinUvAuth, err = decodePinUvAuth(p, credMgmtPinUvAuthParam, credMgmtPinUvAuthProtocol)
	return &req, err
}

// credentialManagement is authenticatorCredentialManagement (CTAP 2.1
// §6.8): the platform lists, deletes and renames discoverable credentials
// with a pinUvAuthToken that has the cm permission.
func (a *Authenticator) credentialManagement(r *request) (any, error) {
	return a.doCredentialManagement(r, false)
}

// credentialManagementPreview is the same command under its CTAP 2.1-PRE
// number (0x41), which also accepts a token from getPinToken, as the
// preview knew no permissions.
func (a *Authenticator) credentialManagementPreview(r *request) (any, error) {
	return a.doCredentialManagement(r, true)
}

func (a *Authenticator) doCredentialManagement(r *request, preview bool) (any, error) {
	req, err := decodeCredMgmt(r.params)
	if err != nil {
		return nil, err
	}
	// A "next" continues only the enumeration right before it.
	enum := a.enumeration
	a.enumeration = nil
	switch req.subCommand {
	case SubCmdEnumerateRPsGetNextRP, SubCmdEnumerateCredentialsGetNextCredential:
		if enum == nil || enum.next != req.subCommand {
			return nil, statusErrorf(CTAP2ErrNotAllowed, "subcommand 0x%02x continues no enumeration", req.subCommand)
		}
		return a.enumerate(enum, req.subCommand, 0)
	case SubCmdGetCredsMetadata, SubCmdEnumerateRPsBegin:
	case SubCmdEnumerateCredentialsBegin:
		if req.rpIDHash == nil {
			return nil, statusErrorf(CTAP2ErrMissingParameter, "rpIDHash is missing")
		}
	case SubCmdDeleteCredential, SubCmdUpdateUserInformation:
		if req.credentialID == nil {
			return nil, statusErrorf(CTAP2ErrMissingParameter, "credentialID is missing")
		}
		if req.subCommand == SubCmdUpdateUserInformation && req.user == nil {
			return nil, statusErrorf(CTAP2ErrMissingParameter, "user is missing")
		}
	default:
		return nil, statusErrorf(CTAP2ErrInvalidSubcommand, "credential management subcommand 0x%02x", req.subCommand)
	}
	binding, err := a.checkCredMgmtToken(req, preview)
	if err != nil {
		return nil, err
	}
	switch req.subCommand {
	case SubCmdGetCredsMetadata:
		if err := binding.allowsEveryRP(); err != nil {
			return nil, err
		}
		n, err := a.discoverableCount()
		if err != nil {
			return nil, err
		}
		return map[int]any{
			credMgmtRespExistingResidentCredentialsCount:             n,
			credMgmtRespMaxPossibleRemainingResidentCredentialsCount: max(a.maxDiscoverable-n, 0),
		}, nil
	case SubCmdEnumerateRPsBegin:
		if err := binding.allowsEveryRP(); err != nil {
			return nil, err
		}
		return a.enumerateRPsBegin()
	case SubCmdEnumerateCredentialsBegin:
		return a.enumerateCredentialsBegin(req.rpIDHash, binding)
	case SubCmdDeleteCredential:
		c, err := a.managedCredential(*req.credentialID, binding)
		if err == nil {
			if err = a.keystore.Delete(c.ID); err != nil {
				err = fmt.Errorf("deleting the credential: %w", err)
			}
		}
		a.logCredMgmt("credential deleted", err, c)
		if err == nil {
			a.observe(EventDeleted, c.RPID, c.User, c, nil)
		}
		return nil, err
	default: // SubCmdUpdateUserInformation
		c, err := a.managedCredential(*req.credentialID, binding)
		if err == nil {
			err = a.updateUser(c, *req.user)
		}
		a.logCredMgmt("credential user updated", err, c)
		return nil, err
	}
}

// checkCredMgmtToken checks the pinUvAuthParam of the subcommands that
// need one: made over subCommand || subCommandParams with the persistent
// pinUvAuthToken for a read-only subcommand (persistent_token.go), or with
// the pinUvAuthToken holding the cm permission. It returns the permissions
// RP ID the token is bound to, which the subcommand must respect.
func (a *Authenticator) checkCredMgmtToken(req *credMgmtRequest, preview bool) (rpBinding, error) {
	if req.pinUvAuth.param == nil {
		return rpBinding{}, statusErrorf(CTAP2ErrPUATRequired, "credential management needs a pinUvAuthParam")
	}
	if req.pinUvAuth.protocol == nil {
		return rpBinding{}, statusErrorf(CTAP2ErrMissingParameter, "pinUvAuthProtocol is missing")
	}
	p, err := a.pinUvAuthProtocol(*req.pinUvAuth.protocol)
	if err != nil {
		return rpBinding{}, err
	}
	message := append([]byte{byte(req.subCommand)}, req.rawParams...)
	if !preview && a.persistentTokenVerifies(p, message, req.pinUvAuth.param) {
		if !persistentTokenAllows(req.subCommand) {
			return rpBinding{}, statusErrorf(CTAP2ErrPinAuthInvalid, "the persistent pinUvAuthToken only reads: not subcommand 0x%02x", req.subCommand)
		}
		return rpBinding{}, nil // bound to no RP
	}
	if !a.token.Verify(p, message, req.pinUvAuth.param) {
		return rpBinding{}, statusErrorf(CTAP2ErrPinAuthInvalid, "pinUvAuthParam does not verify with the pinUvAuthToken")
	}
	if !a.token.HasPermission(pinuv.PermissionCM) && !(preview && a.legacyToken) {
		return rpBinding{}, statusErrorf(CTAP2ErrPinAuthInvalid, "the pinUvAuthToken lacks the cm permission")
	}
	var b rpBinding
	b.rpID, b.bound = a.token.PermissionsRPID()
	return b, nil
}

// rpBinding is the permissions RP ID of the token that authorised a
// credential management request, if it has one.
type rpBinding struct {
	rpID  string
	bound bool
}

// allowsEveryRP refuses a token bound to one RP for the subcommands that
// see every RP.
func (b rpBinding) allowsEveryRP() error {
	if b.bound {
		return statusErrorf(CTAP2ErrPinAuthInvalid, "the pinUvAuthToken is bound to %q, this subcommand covers every RP", b.rpID)
	}
	return nil
}

// allows refuses a token bound to another RP than the one whose
// credentials the subcommand touches.
func (b rpBinding) allows(rpIDHash []byte) error {
	if !b.bound {
		return nil
	}
	if h := sha256.Sum256([]byte(b.rpID)); !bytes.Equal(h[:], rpIDHash) {
		return statusErrorf(CTAP2ErrPinAuthInvalid, "the pinUvAuthToken is bound to %q, another RP", b.rpID)
	}
	return nil
}

// enumerateRPsBegin starts the list of the RPs that have discoverable
// credentials, newest first.
func (a *Authenticator) enumerateRPsBegin() (any, error) {
	rps, err := a.discoverableRPs()
	if err != nil {
		return nil, err
	}
	if len(rps) == 0 {
		return nil, statusErrorf(CTAP2ErrNoCredentials, "no discoverable credentials")
	}
	return a.enumerate(&enumeration{next: SubCmdEnumerateRPsGetNextRP, items: rps}, SubCmdEnumerateRPsGetNextRP, len(rps))
}

// discoverableRPs is the newest discoverable credential of each RP, newest
// first: from the keystore's RP index when it keeps one, else from the
// list of all.
func (a *Authenticator) discoverableRPs() ([]*keystore.Credential, error) {
	if l, ok := a.keystore.(keystore.RPLister); ok {
		rps, err := l.DiscoverableRPs()
		if err != nil {
			return nil, fmt.Errorf("listing the RPs of discoverable credentials: %w", err)
		}
		return rps, nil
	}
	all, err := a.keystore.All()
	if err != nil {
		return nil, fmt.Errorf("listing discoverable credentials: %w", err)
	}
	var rps []*keystore.Credential
	seen := make(map[[32]byte]bool)
	for _, c := range all {
		if !seen[c.RPIDHash] {
			seen[c.RPIDHash] = true
			rps = append(rps, c)
		}
	}
	return rps, nil
}

// enumerateCredentialsBegin starts the list of one RP's discoverable
// credentials, newest first.
func (a *Authenticator) enumerateCredentialsBegin(rpIDHash []byte, binding rpBinding) (any, error) {
	if len(rpIDHash) != sha256.Size {
		return nil, statusErrorf(CTAP1ErrInvalidParameter, "rpIDHash of %d bytes", len(rpIDHash))
	}
	if err := binding.allows(rpIDHash); err != nil {
		return nil, err
	}
	creds, err := a.keystore.Discoverable([32]byte(rpIDHash))
	if err != nil {
		return nil, fmt.Errorf("listing the RP's discoverable credentials: %w", err)
	}
	if len(creds) == 0 {
		return nil, statusErrorf(CTAP2ErrNoCredentials, "no discoverable credentials for rpIDHash %x", rpIDHash)
	}
	return a.enumerate(&enumeration{next: SubCmdEnumerateCredentialsGetNextCredential, items: creds}, SubCmdEnumerateCredentialsGetNextCredential, len(creds))
}

// enumerate returns the next item of e, with total (totalRPs or
// totalCredentials) when not 0, and keeps e for the next subcommand while
// items remain.
func (a *Authenticator) enumerate(e *enumeration, kind uint64, total int) (map[int]any, error) {
	c := e.items[0]
	var resp map[int]any
	if kind == SubCmdEnumerateRPsGetNextRP {
		resp = map[int]any{
			credMgmtRespRP:       rpEntityResponse{ID: c.RPID},
			credMgmtRespRPIDHash: c.RPIDHash[:],
		}
		if total > 0 {
			resp[credMgmtRespTotalRPs] = total
		}
	} else {
		publicKey, err := cose.Marshal(c.PublicKey, c.Algorithm)
		if err != nil {
			return nil, fmt.Errorf("credential public key: %w", err)
		}
		resp = map[int]any{
			credMgmtRespUser:         userResponse(c.User, true),
			credMgmtRespCredentialID: credentialDescriptorResponse{ID: c.ID, Type: credentialTypePublicKey},
			credMgmtRespPublicKey:    cbor.RawMessage(publicKey),
			credMgmtRespCredProtect:  credProtectLevel(c),
			// Every credential's mark, false too (extensions_third_party_payment.go).
			credMgmtRespThirdPartyPayment: c.ThirdPartyPayment,
		}
		if c.LargeBlobKey != nil {
			resp[credMgmtRespLargeBlobKey] = c.LargeBlobKey
		}
		if total > 0 {
			resp[credMgmtRespTotalCredentials] = total
		}
	}
	if e.items = e.items[1:]; len(e.items) > 0 {
		a.enumeration = e
	}
	return resp, nil
}

// rpEntityResponse is the rp member of enumerateRPs: the RP ID (the store
// keeps no RP name).
type rpEntityResponse struct {
	ID string `cbor:"id"`
}

// managedCredential finds the discoverable credential that deleteCredential
// or updateUserInformation names, and checks that the token may touch its
// RP.
func (a *Authenticator) managedCredential(d credentialDescriptor, binding rpBinding) (*keystore.Credential, error) {
	if d.Type == credentialTypePublicKey {
		c, err := a.findDiscoverable(d.ID)
		if err != nil {
			return nil, err
		}
		if c != nil {
			return c, binding.allows(c.RPIDHash[:])
		}
	}
	return nil, statusErrorf(CTAP2ErrNoCredentials, "no discoverable credential %s", base64.RawURLEncoding.EncodeToString(d.ID))
}

// findDiscoverable returns the discoverable credential with this ID,
// whatever its RP, or nil: from the keystore's index when it keeps one,
// else from the list of all.
func (a *Authenticator) findDiscoverable(id []byte) (*keystore.Credential, error) {
	if f, ok := a.keystore.(keystore.DiscoverableFinder); ok {
		c, err := f.FindDiscoverable(id)
		if errors.Is(err, keystore.ErrNotFound) {
			return nil, nil
		} else if err != nil {
			return nil, fmt.Errorf("finding the credential: %w", err)
		}
		return c, nil
	}
	all, err := a.keystore.All()
	if err != nil {
		return nil, fmt.Errorf("listing discoverable credentials: %w", err)
	}
	for _, c := range all {
		if bytes.Equal(c.ID, id) {
			return c, nil
		}
	}
	return nil, nil
}

// updateUser is updateUserInformation: the user ID must be the
// credential's; name and displayName are replaced, and an absent or empty
// one is removed. Long names are truncated as makeCredential truncates
// them (limits.go).
func (a *Authenticator) updateUser(c *keystore.Credential, u userEntity) error {
	if !bytes.Equal(u.ID, c.User.ID) {
		return statusErrorf(CTAP1ErrInvalidParameter, "user.id differs from the credential's")
	}
	// The control API's rename comes here without decodeUserEntity.
	err := a.keystore.UpdateUser(c.ID, keystore.User{ID: u.ID, Name: truncateName(u.Name), DisplayName: truncateName(u.DisplayName)})
	if errors.Is(err, keystore.ErrNotFound) {
		return &StatusError{Status: CTAP2ErrNoCredentials, Err: err}
	} else if err != nil {
		return keystoreError("updating the credential's user", err)
	}
	return nil
}

// logCredMgmt records a change to a credential.
func (a *Authenticator) logCredMgmt(msg string, err error, c *keystore.Credential) {
	if c == nil {
		a.logOutcome(msg, err)
		return
	}
	a.logOutcome(msg, err, "rp", c.RPID, "user", c.User.Name, "credential", base64.RawURLEncoding.EncodeToString(c.ID))
}
