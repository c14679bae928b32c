package hid

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// Framing constants (CTAP 2.1 §11.2.4, §11.2.5).
const (
	// BroadcastCID is the channel a host uses to ask for a channel of its own.
	BroadcastCID uint32 = 0xffffffff

	// MaxMessageSize is the largest CTAPHID message: one initialization
	// packet and 128 continuation packets of 64-byte reports.
	MaxMessageSize = initData + 128*contData

	// ProtocolVersion is the CTAPHID protocol version the device reports.
	ProtocolVersion byte = 2

	initHeader = 7                       // CID, CMD, BCNTH, BCNTL
	contHeader = 5                       // CID, SEQ
	initData   = ReportSize - initHeader // payload bytes in an initialization packet
	contData   = ReportSize - contHeader // payload bytes in a continuation packet
	maxSeq     = 0x7f

	initNonceSize    = 8
	initResponseSize = initNonceSize + 4 + 1 + 3 + 1 // nonce, CID, protocol, version, capabilities
	maxLockSeconds   = 10
)

// CTAPHID commands (CTAP 2.1 §11.2.9), with the initialization-packet bit set
// as they appear on the wire.
const (
	cmdPing      byte = 0x81
	cmdMsg       byte = 0x83
	cmdLock      byte = 0x84
	cmdInit      byte = 0x86
	cmdWink      byte = 0x88
	cmdCBOR      byte = 0x90
	cmdCancel    byte = 0x91
	cmdKeepalive byte = 0xbb
	cmdError     byte = 0xbf

	typeInit byte = 0x80 // set in byte 4 of an initialization packet
)

// Capability flags of the CTAPHID_INIT response (CTAP 2.1 §11.2.9.1.3).
const (
	// CapabilityWink: the device implements CTAPHID_WINK.
	CapabilityWink byte = 0x01
	// CapabilityCBOR: the device implements CTAPHID_CBOR.
	CapabilityCBOR byte = 0x04
	// CapabilityNMSG: the device does NOT implement CTAPHID_MSG.
	CapabilityNMSG byte = 0x08
)

// ErrorCode is the payload of a CTAPHID_ERROR response (CTAP 2.1
// §11.2.9.1.6). It is an error itself so that errors.Is(err, ErrChannelBusy)
// matches an *Error carrying that code.
type ErrorCode byte

// CTAPHID_ERROR codes.
const (
	ErrInvalidCmd     ErrorCode = 0x01 // ERR_INVALID_CMD: the command is unknown or not supported
	ErrInvalidPar     ErrorCode = 0x02 // ERR_INVALID_PAR: a parameter is invalid
	ErrInvalidLen     ErrorCode = 0x03 // ERR_INVALID_LEN: the length (BCNT) is invalid for the command
	ErrInvalidSeq     ErrorCode = 0x04 // ERR_INVALID_SEQ: a continuation packet is out of sequence
	ErrMsgTimeout     ErrorCode = 0x05 // ERR_MSG_TIMEOUT: the rest of a message did not arrive in time
	ErrChannelBusy    ErrorCode = 0x06 // ERR_CHANNEL_BUSY: another channel holds the device
	ErrLockRequired   ErrorCode = 0x0a // ERR_LOCK_REQUIRED: the command needs a channel lock
	ErrInvalidChannel ErrorCode = 0x0b // ERR_INVALID_CHANNEL: the CID is not valid here
	ErrOther          ErrorCode = 0x7f // ERR_OTHER: unspecified error
)

var errorNames = map[ErrorCode]string{
	ErrInvalidCmd:     "ERR_INVALID_CMD",
	ErrInvalidPar:     "ERR_INVALID_PAR",
	ErrInvalidLen:     "ERR_INVALID_LEN",
	ErrInvalidSeq:     "ERR_INVALID_SEQ",
	ErrMsgTimeout:     "ERR_MSG_TIMEOUT",
	ErrChannelBusy:    "ERR_CHANNEL_BUSY",
	ErrLockRequired:   "ERR_LOCK_REQUIRED",
	ErrInvalidChannel: "ERR_INVALID_CHANNEL",
	ErrOther:          "ERR_OTHER",
}

// String returns the spec's name of the code, e.g. "ERR_CHANNEL_BUSY".
func (c ErrorCode) String() string {
	if n, ok := errorNames[c]; ok {
		return n
	}
	return fmt.Sprintf("ERR_0x%02x", byte(c))
}

// Error makes an ErrorCode usable as an errors.Is target.
func (c ErrorCode) Error() string { return "ctaphid: " + c.String() }

// Error is a CTAPHID_ERROR response from the device.
type Error struct {
	Code ErrorCode
}

func (e *Error) Error() string { return "ctaphid: device answered " + e.Code.String() }

// Is reports whether target is the ErrorCode e carries.
func (e *Error) Is(target error) bool {
	c, ok := target.(ErrorCode)
	return ok && c == e.Code
}

// reportsWriter is implemented by transports that take the reports of a
// whole message in one call (Pipe: one hand-off instead of one a report).
type reportsWriter interface {
	// WriteReports sends reports, a whole number of ReportSize-byte
	// reports, in order.
	WriteReports(reports []byte) error
}

// writeMessage frames data as one CTAPHID message on channel cid in buf,
// grown as needed and kept by the caller so that writes do not allocate,
// and writes its packets to t. The caller serialises writes to t and checks
// len(data) <= MaxMessageSize.
func writeMessage(t Transport, buf *[]byte, cid uint32, cmd byte, data []byte) error {
	packets := 1
	if len(data) > initData {
		packets += (len(data) - initData + contData - 1) / contData
	}
	b := slices.Grow((*buf)[:0], packets*ReportSize)[:packets*ReportSize]
	*buf = b
	clear(b)
	binary.BigEndian.PutUint32(b, cid)
	b[4] = cmd
	binary.BigEndian.PutUint16(b[5:], uint16(len(data)))
	n := copy(b[initHeader:ReportSize], data)
	for seq := range packets - 1 {
		r := b[(seq+1)*ReportSize:][:ReportSize]
		binary.BigEndian.PutUint32(r, cid)
		r[4] = byte(seq)
		n += copy(r[contHeader:], data[n:])
	}
	if w, ok := t.(reportsWriter); ok {
		return w.WriteReports(b)
	}
	for r := range packets {
		if err := t.WriteReport(b[r*ReportSize:][:ReportSize]); err != nil {
			return err
		}
	}
	return nil
}
