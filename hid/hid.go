// Package hid implements CTAPHID, the framing that carries CTAP messages over
// 64-byte HID reports: the device side (channels, reassembly, INIT, PING,
// MSG, CBOR, CANCEL, KEEPALIVE, WINK, LOCK, ERROR) and a host-side client.
// Transports (in-memory pipe, /dev/uhid, the Unix-socket virtual cable) move
// whole reports and know nothing of CTAPHID; handlers get whole messages and
// know nothing of packets.
package hid

import "context"

// ReportSize is the size of every CTAPHID report, in both directions. There
// is no report ID on the wire.
const ReportSize = 64

// Transport moves whole reports between a host and a device.
type Transport interface {
	// ReadReport blocks until the peer sends a report and returns its
	// ReportSize bytes; it returns io.EOF once the peer has gone away or the
	// transport is closed.
	ReadReport() ([]byte, error)
	// WriteReport sends one report of exactly ReportSize bytes.
	WriteReport(report []byte) error
	Close() error
}

// Keepalive status values (CTAPHID_KEEPALIVE payload).
const (
	StatusProcessing byte = 1
	StatusUpNeeded   byte = 2
)

// Keepalive tells the device what a running command waits for. The device
// sends CTAPHID_KEEPALIVE with the latest status at least every 100 ms while
// a command runs, so a handler calls it only when the status changes.
type Keepalive func(status byte)

// Handler answers complete CTAPHID_CBOR messages.
type Handler interface {
	// HandleCBOR gets a CTAPHID_CBOR payload (the CTAP command byte followed
	// by its CBOR parameters) and returns the response payload (a status byte
	// followed by CBOR). ctx is cancelled by CTAPHID_CANCEL on the channel and
	// when the transport goes away.
	HandleCBOR(ctx context.Context, req []byte, keepalive Keepalive) []byte
}

// MsgHandler is implemented by handlers that also speak U2F/CTAP1. Without
// it the device reports the NMSG capability and answers CTAPHID_MSG with
// ERR_INVALID_CMD.
type MsgHandler interface {
	// HandleMsg gets a CTAPHID_MSG payload (an ISO 7816-4 APDU) and returns
	// the response APDU (data followed by the two status-word bytes).
	HandleMsg(ctx context.Context, apdu []byte, keepalive Keepalive) []byte
}

// CBORServer is implemented by handlers that may speak U2F alone (a
// CTAP1/U2F-only key): when ServesCBOR reports false, the device leaves
// the CBOR capability out of CTAPHID_INIT and answers CTAPHID_CBOR with
// ERR_INVALID_CMD. Without it the device serves CTAPHID_CBOR.
type CBORServer interface {
	ServesCBOR() bool
}

// Winker is implemented by handlers that can show the user which device is
// which; the device then reports the WINK capability.
type Winker interface {
	Wink()
}
