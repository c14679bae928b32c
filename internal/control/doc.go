// Package control is the control API of a running vauth: HTTP with JSON
// over a Unix socket in the store directory (control.sock, 0600), and
// optionally over TCP on the loopback interface with a bearer token. It lets
// scripted tests do to the authenticator what the W3C WebDriver virtual
// authenticator extension and Chromium's virtual device let browser tests
// do: import, list and remove credentials, set whether user verification
// succeeds, answer or script user presence, set the PIN state, reset and
// power-cycle the authenticator, inject faults, and watch every credential
// event.
//
// Server wraps a daemon.Daemon (Open builds one with the hooks it needs);
// its Go methods are the operations, which the HTTP handlers serve and
// which vauthtest calls directly. Client is the same operations over HTTP,
// for `vauth ctl` and other programs. docs/control-api.md documents the
// JSON.
package control
