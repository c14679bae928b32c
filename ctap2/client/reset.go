package client

import (
	"context"

	"github.com/vauth/vauth/ctap2"
)

// Reset erases the authenticator (authenticatorReset, CTAP 2.1 §6.6):
// every credential, the PIN and the settings. The authenticator asks the
// user to confirm (OnKeepalive sees it wait) and allows it only shortly
// after power-up: CTAP2_ERR_NOT_ALLOWED otherwise.
func (c *Client) Reset(ctx context.Context) error {
	return c.Call(ctx, ctap2.CmdReset, nil, nil)
}
