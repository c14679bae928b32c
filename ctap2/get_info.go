package ctap2

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/vauth/vauth/keystore"
)

// authenticatorGetInfo response keys (CTAP 2.1 §6.4).
const (
	getInfoVersions                         = 0x01
	getInfoExtensions                       = 0x02
	getInfoAAGUID                           = 0x03
	getInfoOptions                          = 0x04
	getInfoMaxMsgSize                       = 0x05
	getInfoPinUvAuthProtocols               = 0x06
	getInfoMaxCredentialCountInList         = 0x07
	getInfoMaxCredentialIDLength            = 0x08
	getInfoTransports                       = 0x09
	getInfoAlgorithms                       = 0x0A
	getInfoMaxSerializedLargeBlobArray      = 0x0B
	getInfoForcePINChange                   = 0x0C
	getInfoMinPINLength                     = 0x0D
	getInfoFirmwareVersion                  = 0x0E
	getInfoMaxCredBlobLength                = 0x0F
	getInfoMaxRPIDsForSetMinPINLength       = 0x10
	getInfoPreferredPlatformUVAttempts      = 0x11
	getInfoRemainingDiscoverableCredentials = 0x14
	getInfoEncIdentifier                    = 0x19 // CTAP 2.2
)

// The CTAP2 versions: CTAP 2.0, the CTAP 2.1 preview (whose credential
// management command 0x41 is served too) and CTAP 2.1.
const (
	versionFIDO20    = "FIDO_2_0"
	versionFIDO21Pre = "FIDO_2_1_PRE"
	versionFIDO21    = "FIDO_2_1"
)

// Option IDs of getInfo besides those of requests (cbor.go).
const (
	optionClientPIN             = "clientPin"
	optionPinUvAuthToken        = "pinUvAuthToken"
	optionCredMgmt              = "credMgmt"
	optionCredentialMgmtPreview = "credentialMgmtPreview"
	optionSetMinPINLength       = "setMinPINLength"
	optionMakeCredUvNotRqd      = "makeCredUvNotRqd"
	optionAlwaysUv              = "alwaysUv"
	optionAuthnrCfg             = "authnrCfg"
	optionUvAcfg                = "uvAcfg"
	optionEP                    = "ep"
	optionLargeBlobs            = "largeBlobs"
	optionPerCredMgmtRO         = "perCredMgmtRO" // CTAP 2.2: the persistent pinUvAuthToken
)

// preferredPlatformUVAttempts tells the platform to call
// getPinUvAuthTokenUsingUvWithPermissions once per verification: a refusal
// at the prompt is the user's answer, not a smudged sensor.
const preferredPlatformUVAttempts = 1

// algorithmDescriptor is a PublicKeyCredentialParameters of getInfo's
// algorithms list.
type algorithmDescriptor struct {
	Alg  int    `cbor:"alg"`
	Type string `cbor:"type"`
}

// getInfo is authenticatorGetInfo (CTAP 2.1 §6.4): what this authenticator
// supports, so that the platform can tailor its requests.
func (a *Authenticator) getInfo(*request) (any, error) {
	remaining, err := a.remainingDiscoverableCredentials()
	if err != nil {
		return nil, err
	}
	algorithms := make([]algorithmDescriptor, len(a.algorithms))
	for i, alg := range a.algorithms {
		algorithms[i] = algorithmDescriptor{Alg: alg, Type: credentialTypePublicKey}
	}
	protocols := make([]int, len(a.protocols))
	for i, p := range a.protocols {
		protocols[i] = p.Version()
	}
	info := map[int]any{
		getInfoVersions:                         canonicalStrings(append([]string{versionFIDO20, versionFIDO21Pre, versionFIDO21}, a.u2fVersions()...)),
		getInfoExtensions:                       canonicalStrings(supportedExtensions),
		getInfoAAGUID:                           a.aaguid[:],
		getInfoOptions:                          a.options(),
		getInfoMaxMsgSize:                       a.maxMsgSize,
		getInfoPinUvAuthProtocols:               protocols,
		getInfoMaxCredentialCountInList:         a.maxCredentialCountInList,
		getInfoMaxCredentialIDLength:            a.keystore.MaxCredentialIDLength(),
		getInfoTransports:                       canonicalStrings(a.transports),
		getInfoAlgorithms:                       algorithms,
		getInfoMaxSerializedLargeBlobArray:      a.maxSerializedLargeBlobArray,
		getInfoForcePINChange:                   a.pin.ForcePINChange,
		getInfoMinPINLength:                     a.pin.MinPINLength,
		getInfoMaxCredBlobLength:                keystore.MaxCredBlobLength,
		getInfoMaxRPIDsForSetMinPINLength:       MaxRPIDsForSetMinPINLength,
		getInfoRemainingDiscoverableCredentials: remaining,
	}
	if a.pin.PersistentToken != nil {
		enc, err := encryptWithPersistentToken(a.pin.PersistentToken, a.pin.DeviceIdentifier, hkdfInfoEncIdentifier)
		if err != nil {
			return nil, err
		}
		info[getInfoEncIdentifier] = enc
	}
	if a.uv != nil {
		info[getInfoPreferredPlatformUVAttempts] = preferredPlatformUVAttempts
	}
	if a.firmwareVersion != 0 {
		info[getInfoFirmwareVersion] = a.firmwareVersion
	}
	if a.profile == ProfileCTAP20 {
		a.ctap20Info(info)
	}
	return info, nil
}

// canonicalStrings returns a sorted copy of the unordered string lists of
// getInfo (versions, extensions, transports) in the order CTAP2 canonical
// CBOR gives text keys (CTAP 2.1 §8: shorter first, then bytewise), which
// strict conformance checks expect of every array. pinUvAuthProtocols and
// algorithms keep the authenticator's order of preference instead (§6.4).
func canonicalStrings(ss []string) []string {
	out := slices.Clone(ss)
	slices.SortFunc(out, func(a, b string) int {
		if d := cmp.Compare(len(a), len(b)); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return out
}

// options are getInfo's options, computed from what is implemented and
// the current state: discoverable credentials, user presence, a roaming
// (not platform) authenticator, clientPin (true once a PIN is set),
// pinUvAuthTokens, credential management (and its preview), the
// authenticatorConfig features, large blobs, the persistent pinUvAuthToken
// for read-only credential management, "uv" and "uvAcfg" only with a built-in
// user verification method, and "ep" only when enterprise attestation
// capable.
func (a *Authenticator) options() map[string]bool {
	o := map[string]bool{
		optionRK:                    true,
		optionUP:                    true,
		optionPlat:                  false,
		optionClientPIN:             a.pin.hasPIN(),
		optionPinUvAuthToken:        true,
		optionCredMgmt:              true,
		optionCredentialMgmtPreview: true,
		optionSetMinPINLength:       true,
		optionMakeCredUvNotRqd:      a.makeCredUVNotRequired(),
		optionAlwaysUv:              a.pin.AlwaysUV,
		optionAuthnrCfg:             true,
		optionLargeBlobs:            true,
		optionPerCredMgmtRO:         true,
	}
	if a.uv != nil {
		o[optionUV] = true
		o[optionUvAcfg] = true
	}
	if a.enterpriseAttestation {
		o[optionEP] = a.pin.EnterpriseAttestation
	}
	return o
}

// discoverableCount is the number of discoverable credentials in the
// keystore: from its count when it keeps one, else by listing them all.
func (a *Authenticator) discoverableCount() (int, error) {
	if c, ok := a.keystore.(keystore.DiscoverableCounter); ok {
		n, err := c.CountDiscoverable()
		if err != nil {
			return 0, fmt.Errorf("counting discoverable credentials: %w", err)
		}
		return n, nil
	}
	all, err := a.keystore.All()
	if err != nil {
		return 0, fmt.Errorf("listing discoverable credentials: %w", err)
	}
	return len(all), nil
}

// remainingDiscoverableCredentials is how many more discoverable
// credentials fit under Config.MaxDiscoverable.
func (a *Authenticator) remainingDiscoverableCredentials() (int, error) {
	n, err := a.discoverableCount()
	return max(a.maxDiscoverable-n, 0), err
}
