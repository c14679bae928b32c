package ctap2

import "fmt"

// authenticatorGetInfo response keys (CTAP 2.1 §6.4).
const (
	getInfoVersions                         = 0x01
	getInfoAAGUID                           = 0x03
	getInfoOptions                          = 0x04
	getInfoMaxMsgSize                       = 0x05
	getInfoMaxCredentialCountInList         = 0x07
	getInfoMaxCredentialIDLength            = 0x08
	getInfoTransports                       = 0x09
	getInfoAlgorithms                       = 0x0A
	getInfoFirmwareVersion                  = 0x0E
	getInfoRemainingDiscoverableCredentials = 0x14
)

// versionFIDO20 is the only version reported until clientPin makes the
// authenticator a FIDO_2_1 one.
const versionFIDO20 = "FIDO_2_0"

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
	info := map[int]any{
		getInfoVersions:                         []string{versionFIDO20},
		getInfoAAGUID:                           a.aaguid[:],
		getInfoOptions:                          a.options(),
		getInfoMaxMsgSize:                       a.maxMsgSize,
		getInfoMaxCredentialCountInList:         a.maxCredentialCountInList,
		getInfoMaxCredentialIDLength:            a.keystore.MaxCredentialIDLength(),
		getInfoTransports:                       a.transports,
		getInfoAlgorithms:                       algorithms,
		getInfoRemainingDiscoverableCredentials: remaining,
	}
	if a.firmwareVersion != 0 {
		info[getInfoFirmwareVersion] = a.firmwareVersion
	}
	return info, nil
}

// options are getInfo's options, computed from what is implemented:
// discoverable credentials, user presence, and a roaming (not platform)
// authenticator. clientPin, uv and the 2.1 option IDs come with the
// features they stand for.
func (a *Authenticator) options() map[string]bool {
	return map[string]bool{
		optionRK:   true,
		optionUP:   true,
		optionPlat: false,
	}
}

// discoverableCount is the number of discoverable credentials in the
// keystore.
func (a *Authenticator) discoverableCount() (int, error) {
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
