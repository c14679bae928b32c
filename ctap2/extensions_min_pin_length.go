package ctap2

import "slices"

// minPinLength (CTAP 2.1 §12.4): makeCredential outputs the current
// minimum PIN length, but only to the RPs allowed to learn it: those of
// Config.MinPINLengthRPIDs (the vendor's list) and those that
// authenticatorConfig's setMinPINLength named (minPinLengthRPIDs, kept in
// the PIN state). For any other RP the input is ignored.

// minPINLengthAllowed reports whether rpID may learn the minimum PIN
// length.
func (a *Authenticator) minPINLengthAllowed(rpID string) bool {
	return slices.Contains(a.minPINLengthRPIDs, rpID) || slices.Contains(a.pin.MinPINLengthRPIDs, rpID)
}
