package ctap2

import (
	"context"
	"errors"

	"github.com/vauth/vauth/hid"
)

// userPresence asks Config.Presence for evidence of user interaction,
// telling the host through keepalives that the authenticator waits for the
// user meanwhile. The answer becomes a status: refusal
// CTAP2_ERR_OPERATION_DENIED, no answer in time
// CTAP2_ERR_USER_ACTION_TIMEOUT, a cancelled request
// CTAP2_ERR_KEEPALIVE_CANCEL.
func (a *Authenticator) userPresence(r *request, pr PresenceRequest) error {
	if a.presence == nil {
		return statusErrorf(CTAP2ErrOperationDenied, "no Presence is configured to ask the user")
	}
	return askUser(r, a.presence, pr)
}

// askUser asks p, with keepalives, and turns the answer into a status as
// userPresence describes. A refusal still matches ErrDenied with
// errors.Is, so that built-in user verification can count it.
func askUser(r *request, p Presence, pr PresenceRequest) error {
	r.keepalive(hid.StatusUpNeeded)
	err := p.Confirm(r.ctx, pr)
	r.keepalive(hid.StatusProcessing)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrDenied):
		return &StatusError{Status: CTAP2ErrOperationDenied, Err: err}
	case errors.Is(err, ErrTimeout):
		return &StatusError{Status: CTAP2ErrUserActionTimeout, Err: err}
	case r.ctx.Err() != nil || errors.Is(err, context.Canceled):
		return &StatusError{Status: CTAP2ErrKeepaliveCancel, Err: err}
	case errors.Is(err, context.DeadlineExceeded): // the prompt's own deadline
		return &StatusError{Status: CTAP2ErrUserActionTimeout, Err: err}
	}
	// The prompt itself failed (pinentry crashed, the bus went away): the
	// user approved nothing, so the request is denied; the log keeps why.
	return &StatusError{Status: CTAP2ErrOperationDenied, Err: err}
}
