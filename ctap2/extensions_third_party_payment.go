package ctap2

// thirdPartyPayment (CTAP 2.2 §12, the thirdPartyPayment extension; the
// platform's side is Secure Payment Confirmation): a makeCredential input
// of true marks the new credential, of either kind, as usable for payments
// that a party other than the RP starts, and outputs true; the keystore
// keeps the mark (the flags byte of the soft store's record or sealed
// credential ID). A getAssertion input of true outputs whether the
// asserting credential is marked. An input of false does nothing.
// Credential management's enumerateCredentials reports the mark of every
// credential (credMgmtRespThirdPartyPayment).

// extThirdPartyPayment is the extension identifier.
const extThirdPartyPayment = "thirdPartyPayment"

// decodeThirdPartyPayment reads the input of either command: whether it is
// present and true.
func decodeThirdPartyPayment(m params) (bool, error) {
	v, _, err := field[bool](m, extThirdPartyPayment, extThirdPartyPayment)
	return v, err
}
