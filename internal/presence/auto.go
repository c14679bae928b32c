package presence

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
	"golang.org/x/term"

	"github.com/vauth/vauth/ctap2"
)

// pinentryNames are the pinentry programs Auto looks for on PATH, the
// user's chosen default first.
var pinentryNames = []string{
	"pinentry", "pinentry-gnome3", "pinentry-qt", "pinentry-gtk-2", "pinentry-gtk",
	"pinentry-fltk", "pinentry-curses", "pinentry-tty",
}

// Auto picks the best way to ask that this session offers, in order: a
// desktop notification, when the session bus (DBUS_SESSION_BUS_ADDRESS) is
// reachable and its notification server shows buttons; else a pinentry
// program found on PATH, when there is a display (DISPLAY, WAYLAND_DISPLAY)
// or a terminal for it to draw on; else a prompt on opts.In and opts.Out when
// opts.In is a terminal. It returns what it chose, for the log, or an error
// that says why each failed and which --presence values remain.
//
// The session bus connection of a notification stays open for the life of
// the process.
func Auto(opts AutoOptions) (ctap2.Presence, string, error) {
	opts = opts.withDefaults()
	var why []string

	p, err := sessionNotification(opts)
	if err == nil {
		return p, nameNotification, nil
	}
	why = append(why, "desktop notification: "+err.Error())

	path, err := usablePinentry()
	if err == nil {
		return Pinentry(path, opts.Timeout), namePinentry + " (" + path + ")", nil
	}
	why = append(why, "pinentry: "+err.Error())

	if isTerminal(opts.In) {
		return Terminal(opts.In, opts.Out, opts.Timeout), nameTerminal, nil
	}
	why = append(why, "terminal prompt: standard input is not a terminal")

	return nil, "", fmt.Errorf("presence: no way to ask the user (%s); run vauth in a desktop session or a terminal, or use --presence always (CI: approve everything) or --presence never",
		strings.Join(why, "; "))
}

// sessionNotification connects to the session bus and checks its
// notification server.
func sessionNotification(opts AutoOptions) (ctap2.Presence, error) {
	addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	if addr == "" {
		return nil, errors.New("DBUS_SESSION_BUS_ADDRESS is not set")
	}
	conn, err := connectBus(addr, notificationCalls)
	if err != nil {
		return nil, fmt.Errorf("session bus unreachable: %w", err)
	}
	p, err := Notification(conn, opts.Timeout)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return p, nil
}

// connectBus connects and says hello to the bus at addr, giving up after
// within: a bus that accepts the connection but never answers must not stall
// vauth's start.
func connectBus(addr string, within time.Duration) (*dbus.Conn, error) {
	// godbus closes the connection, which unblocks its handshake, when the
	// connection's context ends.
	ctx, cancel := context.WithCancel(context.Background())
	giveUp := time.AfterFunc(within, cancel)
	conn, err := dbus.Connect(addr, dbus.WithContext(ctx))
	if !giveUp.Stop() {
		if err == nil {
			_ = conn.Close()
		}
		return nil, fmt.Errorf("no answer within %v", within)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	return conn, nil // closing conn releases ctx
}

// usablePinentry finds a pinentry that can show its dialog somewhere.
func usablePinentry() (string, error) {
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" && pinentryTTY() == "" {
		return "", errors.New("no display and no terminal to show it on")
	}
	for _, name := range pinentryNames {
		if path, err := exec.LookPath(name); err == nil {
			return path, nil
		}
	}
	return "", errors.New("none found on PATH")
}

// pinentryTTY names the terminal a text-mode pinentry should draw on:
// $GPG_TTY, as GnuPG uses, else our standard input when it is a terminal.
func pinentryTTY() string {
	if tty := os.Getenv("GPG_TTY"); tty != "" {
		return tty
	}
	if isTerminal(os.Stdin) {
		if tty, err := os.Readlink("/proc/self/fd/0"); err == nil {
			return tty
		}
	}
	return ""
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	return term.IsTerminal(int(f.Fd()))
}
