package ctap2

import "github.com/vauth/vauth/keystore"

// credProtect (CTAP 2.1 §12.1): a credential's protection level, set at
// makeCredential and kept by the keystore, decides when getAssertion may
// use it without user verification. keystore.Credential.CredProtect 0 (a
// credential made without the extension) counts as level 1.
const (
	credProtectUVOptional                     = 0x01
	credProtectUVOptionalWithCredentialIDList = 0x02
	credProtectUVRequired                     = 0x03
)

// decodeCredProtect reads the makeCredential input: a level from 1 to 3
// (CTAP1_ERR_INVALID_PARAMETER otherwise), 0 when absent.
func decodeCredProtect(m params) (uint8, error) {
	level, present, err := field[uint64](m, extCredProtect, extCredProtect)
	switch {
	case err != nil || !present:
		return 0, err
	case level < credProtectUVOptional || level > credProtectUVRequired:
		return 0, statusErrorf(CTAP1ErrInvalidParameter, "credProtect %d: want 1, 2 or 3", level)
	}
	return uint8(level), nil
}

// credProtectHides reports whether a credential's protection level keeps
// it from a request (§6.2.2 steps 7.4, 7.5; §6.1.2 step 12): level 3 needs
// a verified user; level 2 needs a verified user or its ID in the request
// (an allowList or excludeList).
func credProtectHides(c *keystore.Credential, uv, listed bool) bool {
	switch c.CredProtect {
	case credProtectUVRequired:
		return !uv
	case credProtectUVOptionalWithCredentialIDList:
		return !uv && !listed
	}
	return false
}

// credProtectLevel is the level credential management reports: 1 for a
// credential made without the extension.
func credProtectLevel(c *keystore.Credential) uint8 {
	return max(c.CredProtect, credProtectUVOptional)
}
