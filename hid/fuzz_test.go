package hid

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"
)

// fuzzHandler answers every command at once, so that whatever the input,
// no command stays running.
type fuzzHandler struct{}

func (fuzzHandler) HandleCBOR(ctx context.Context, req []byte, keepalive Keepalive) []byte {
	keepalive(StatusUpNeeded)
	if len(req) == 0 {
		return nil // a handler bug the device must survive
	}
	return append([]byte{statusOK}, req...)
}

func (fuzzHandler) HandleMsg(ctx context.Context, apdu []byte, keepalive Keepalive) []byte {
	return append(append([]byte{}, apdu...), 0x90, 0x00)
}

func (fuzzHandler) Wink() {}

// Fuzz input: a sequence of records, each a selector byte and up to 64
// bytes of report. The selector's low two bits say which CID the report
// carries: channel A, channel B, the broadcast CID, or the report's own
// first four bytes.
const (
	fuzzA = iota
	fuzzB
	fuzzBroadcast
	fuzzRaw
)

// FuzzDevice feeds arbitrary reports on two allocated channels (and others)
// to a device and then checks that it still allocates channels and answers
// PING: nothing panics, hangs or stays busy.
func FuzzDevice(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 200*(1+ReportSize) {
			t.Skip("bounded input keeps every iteration short")
		}
		d := NewDevice(fuzzHandler{}, WithMessageTimeout(20*time.Millisecond), WithKeepaliveInterval(5*time.Millisecond))
		h := serve(t, d)
		a, b := h.allocate(), h.allocate()
		for len(data) > 0 {
			sel := data[0]
			var r [ReportSize]byte
			n := copy(r[:], data[1:])
			data = data[1+n:]
			switch sel & 3 {
			case fuzzA:
				binary.BigEndian.PutUint32(r[:], a)
			case fuzzB:
				binary.BigEndian.PutUint32(r[:], b)
			case fuzzBroadcast:
				binary.BigEndian.PutUint32(r[:], BroadcastCID)
			}
			h.write(r[:])
		}
		// A broadcast INIT is answered by the read loop in order, so once
		// its answer is in, every answer to the input above has been sent
		// but for answers from the handler and timers, which are not INIT
		// answers or ERR_CHANNEL_BUSY.
		allocateSkipping(h)
		// Resynchronising A, then B, then A again clears any transaction or
		// lock the input left on either.
		if !resync(h, a, 1) {
			if !resync(h, b, 2) {
				t.Fatal("neither channel can resynchronise")
			}
			if !resync(h, a, 3) {
				t.Fatal("channel A busy after resynchronising B")
			}
		}
		c := allocateSkipping(h)
		for _, cid := range []uint32{c, a, b} {
			h.send(cid, cmdPing, []byte("ping"))
			for {
				got, cmd, payload := h.message()
				if got != cid {
					continue
				}
				if cmd == cmdPing && bytes.Equal(payload, []byte("ping")) {
					break
				}
				// Late ERR_MSG_TIMEOUT or ERR_OTHER for the input may still
				// come; a busy device or a lost channel may not.
				if cmd == cmdError && (payload[0] == byte(ErrChannelBusy) || payload[0] == byte(ErrInvalidChannel)) {
					t.Fatalf("PING on %08x answered %v", cid, ErrorCode(payload[0]))
				}
			}
		}
	})
}

// resync sends INIT on cid and reports whether it succeeded; it fails the
// test if the device answers neither the INIT nor ERR_CHANNEL_BUSY.
func resync(h *host, cid uint32, tag byte) bool {
	h.t.Helper()
	nonce := []byte{tag, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, tag}
	h.send(cid, cmdInit, nonce)
	for {
		got, cmd, payload := h.message()
		if got != cid {
			continue
		}
		switch {
		case cmd == cmdInit && bytes.Equal(payload[:8], nonce):
			return true
		case cmd == cmdError && payload[0] == byte(ErrChannelBusy):
			return false
		}
	}
}

// allocateSkipping allocates a channel, skipping messages sent before the
// INIT answer.
func allocateSkipping(h *host) uint32 {
	h.t.Helper()
	nonce := []byte("barrier!")
	h.send(BroadcastCID, cmdInit, nonce)
	for {
		got, cmd, payload := h.message()
		if got == BroadcastCID && cmd == cmdInit && bytes.Equal(payload[:8], nonce) {
			return binary.BigEndian.Uint32(payload[8:])
		}
	}
}
