package ctap1

import "context"

// version is U2F_VERSION (FIDO U2F Raw Message Formats §6): the protocol
// version, "U2F_V2". The request has no data; P1 and P2 are ignored.
func (a *Authenticator) version(_ context.Context, c command) ([]byte, error) {
	if len(c.data) != 0 {
		return nil, statusErrorf(SWWrongLength, "U2F_VERSION with %d bytes of data", len(c.data))
	}
	return []byte(Version), nil
}
