package ctap2

// selection is authenticatorSelection (CTAP 2.1 §6.9): the platform asks
// the user to touch the authenticator they want to use.
func (a *Authenticator) selection(r *request) (any, error) {
	return nil, a.userPresence(r, PresenceRequest{Op: "selection"})
}
