package presence

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/vauth/vauth/ctap2"
)

const nameNotification = "notification"

// The freedesktop.org Desktop Notifications interface.
const (
	notifyName        = "org.freedesktop.Notifications"
	notifyPath        = dbus.ObjectPath("/org/freedesktop/Notifications")
	notifyIface       = "org.freedesktop.Notifications"
	notifyGetCaps     = notifyIface + ".GetCapabilities"
	notifyNotify      = notifyIface + ".Notify"
	notifyClose       = notifyIface + ".CloseNotification"
	notifyActionSig   = notifyIface + ".ActionInvoked"
	notifyClosedSig   = notifyIface + ".NotificationClosed"
	dbusGetNameOwner  = "org.freedesktop.DBus.GetNameOwner"
	capActions        = "actions"     // the server shows action buttons
	capBodyMarkup     = "body-markup" // the server reads the body as markup
	hintUrgency       = "urgency"
	urgencyCritical   = byte(2)
	closedExpired     = uint32(1) // NotificationClosed reason: it timed out
	actionAllow       = "allow"
	actionDeny        = "deny"
	notificationIcon  = "security-high"
	notificationApp   = "vauth"
	notificationCalls = 5 * time.Second // bound on each D-Bus method call
)

// notification asks through a desktop notification; see Notification.
type notification struct {
	conn    *dbus.Conn
	timeout time.Duration
	markup  bool // escape the body, which the server reads as markup
}

// Notification asks through the desktop's notification server
// (org.freedesktop.Notifications on conn, normally the session bus): a
// critical notification from "vauth" whose summary names the site and whose
// body names the account, with Allow and Deny buttons. Allow approves; Deny,
// or dismissing the notification, denies. With no answer within timeout (zero
// means DefaultTimeout), or when ctx is cancelled, it withdraws the notification and returns
// ctap2.ErrTimeout or ctx.Err().
//
// It fails when no server answers or the server cannot show buttons (no
// "actions" capability), so that Auto can fall back to something else. conn
// must deliver signals through Conn.Signal (the default), and stays the
// caller's to close.
func Notification(conn *dbus.Conn, timeout time.Duration) (ctap2.Presence, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), notificationCalls)
	defer cancel()
	var caps []string
	if err := conn.Object(notifyName, notifyPath).CallWithContext(ctx, notifyGetCaps, 0).Store(&caps); err != nil {
		return nil, fmt.Errorf("presence: no desktop notification server: %w", err)
	}
	if !slices.Contains(caps, capActions) {
		return nil, errors.New("presence: the desktop notification server cannot show Allow/Deny buttons (no \"actions\" capability)")
	}
	// Ask the bus for the server's signals; Confirm checks their sender.
	err := conn.AddMatchSignalContext(ctx,
		dbus.WithMatchSender(notifyName),
		dbus.WithMatchObjectPath(notifyPath),
		dbus.WithMatchInterface(notifyIface))
	if err != nil {
		return nil, fmt.Errorf("presence: subscribing to notification signals: %w", err)
	}
	return &notification{conn: conn, timeout: timeout, markup: slices.Contains(caps, capBodyMarkup)}, nil
}

// Confirm shows one notification and waits for the answer.
//
// Any program on the session bus can emit a signal, but the bus stamps each
// with its sender's unique name, so only signals from the current owner of
// org.freedesktop.Notifications, about this notification's id, count.
func (n *notification) Confirm(ctx context.Context, req ctap2.PresenceRequest) error {
	deadline := time.NewTimer(n.timeout)
	defer deadline.Stop()

	callCtx, cancel := context.WithTimeout(ctx, notificationCalls)
	defer cancel()
	var server string
	if err := n.conn.BusObject().CallWithContext(callCtx, dbusGetNameOwner, 0, notifyName).Store(&server); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("presence: desktop notification server gone: %w", err)
	}

	// Listen before Notify: the server may signal before its reply arrives.
	signals := make(chan *dbus.Signal, 16)
	n.conn.Signal(signals)
	defer n.conn.RemoveSignal(signals)

	id, err := n.notify(req)
	if err != nil {
		return err
	}
	for {
		select {
		case s, ok := <-signals:
			if !ok {
				return errors.New("presence: D-Bus connection closed while waiting for an answer")
			}
			if s.Sender != server || s.Path != notifyPath || len(s.Body) != 2 {
				continue
			}
			if sid, _ := s.Body[0].(uint32); sid != id {
				continue
			}
			switch s.Name {
			case notifyActionSig:
				// Other keys (a click on the body, say) decide nothing.
				switch key, _ := s.Body[1].(string); key {
				case actionAllow:
					n.close(id)
					return nil
				case actionDeny:
					n.close(id)
					return ctap2.ErrDenied
				}
			case notifyClosedSig:
				if reason, _ := s.Body[1].(uint32); reason == closedExpired {
					return ctap2.ErrTimeout
				}
				return ctap2.ErrDenied
			}
		case <-deadline.C:
			n.close(id)
			return ctap2.ErrTimeout
		case <-ctx.Done():
			n.close(id)
			return ctx.Err()
		}
	}
}

// notify shows the notification and returns its id. It does not use the
// request's context: once sent, the notification must be known to be closed.
func (n *notification) notify(req ctap2.PresenceRequest) (uint32, error) {
	text := describe(req)
	summary := "vauth: " + text.Action
	if text.Site != "" {
		summary += " on " + text.Site
	}
	body := "Security key request"
	if text.Account != "" {
		body = "Account: " + text.Account
	}
	if n.markup {
		body = markupEscaper.Replace(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), notificationCalls)
	defer cancel()
	var id uint32
	err := n.conn.Object(notifyName, notifyPath).CallWithContext(ctx, notifyNotify, 0,
		notificationApp, uint32(0), notificationIcon, summary, body,
		[]string{actionAllow, "Allow", actionDeny, "Deny"},
		map[string]dbus.Variant{hintUrgency: dbus.MakeVariant(urgencyCritical)},
		int32(min(n.timeout.Milliseconds(), int64(1<<31-1)))).Store(&id)
	if err != nil {
		return 0, fmt.Errorf("presence: showing the notification: %w", err)
	}
	return id, nil
}

// close withdraws a notification. It is best effort: the server may already
// have removed it, and the answer is already decided.
func (n *notification) close(id uint32) {
	ctx, cancel := context.WithTimeout(context.Background(), notificationCalls)
	defer cancel()
	_ = n.conn.Object(notifyName, notifyPath).CallWithContext(ctx, notifyClose, 0, id).Err
}

// markupEscaper protects text sent to a server that reads the body as markup.
var markupEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
