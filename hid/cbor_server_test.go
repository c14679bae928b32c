package hid

import (
	"encoding/binary"
	"testing"
)

// u2fOnlyHandler is a handler that speaks U2F alone (CBORServer false), or
// CBOR too when serves is true.
type u2fOnlyHandler struct {
	*fullHandler
	serves bool
}

func (h u2fOnlyHandler) ServesCBOR() bool { return h.serves }

// TestCBORServer: a handler whose ServesCBOR is false makes a U2F-only
// device: no CBOR capability in INIT, ERR_INVALID_CMD for CTAPHID_CBOR,
// CTAPHID_MSG answered; ServesCBOR true changes nothing.
func TestCBORServer(t *testing.T) {
	for _, tc := range []struct {
		serves bool
		caps   byte
	}{{false, CapabilityWink}, {true, CapabilityCBOR | CapabilityWink}} {
		h := serve(t, NewDevice(u2fOnlyHandler{newFullHandler(), tc.serves}))
		nonce := []byte{1, 2, 3, 4, 5, 6, 7, 8}
		h.send(BroadcastCID, cmdInit, nonce)
		_, _, data := h.message()
		if data[16] != tc.caps {
			t.Errorf("ServesCBOR %v: capabilities %02x, want %02x", tc.serves, data[16], tc.caps)
		}
		cid := binary.BigEndian.Uint32(data[8:])
		h.send(cid, cmdMsg, []byte{0, 3, 0, 0})
		if _, cmd, _ := h.message(); cmd != cmdMsg {
			t.Errorf("ServesCBOR %v: CTAPHID_MSG answered with %02x", tc.serves, cmd)
		}
		if !tc.serves {
			h.send(cid, cmdCBOR, []byte{0x04})
			h.expectError(cid, ErrInvalidCmd)
		}
	}
}
