package hid

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
)

// TestEmptyPayload: CTAPHID_CBOR and CTAPHID_MSG need at least a command
// byte (CTAP 2.1 §11.2.9.1.1, §11.2.9.1.2), so BCNT 0 is ERR_INVALID_LEN
// before any handler runs; PING may be empty. The channel stays usable.
func TestEmptyPayload(t *testing.T) {
	for _, tt := range []struct {
		name     string
		handler  *cborHandler
		full     bool // the device has CTAPHID_MSG
		cmd      byte
		wantCmd  byte
		wantData []byte
	}{
		{"CBOR", newCBORHandler(), false, cmdCBOR, cmdError, []byte{byte(ErrInvalidLen)}},
		{"MSG", newCBORHandler(), true, cmdMsg, cmdError, []byte{byte(ErrInvalidLen)}},
		{"MSG without MSG support", newCBORHandler(), false, cmdMsg, cmdError, []byte{byte(ErrInvalidCmd)}},
		{"PING", newCBORHandler(), false, cmdPing, cmdPing, []byte{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var h Handler = tt.handler
			if tt.full {
				h = &fullHandler{cborHandler: tt.handler}
			}
			host := serve(t, NewDevice(h))
			cid := host.allocate()
			host.write(packet(cid, tt.cmd, 0, nil))
			host.expect(cid, tt.wantCmd, tt.wantData)
			if n := tt.handler.calls.Load(); n != 0 {
				t.Fatalf("the handler ran %d times", n)
			}
			host.send(cid, cmdCBOR, []byte{opEcho, 7})
			host.expect(cid, cmdCBOR, []byte{statusOK, 7})
		})
	}
}

// TestClientEmptyCBOR: the host client passes an empty request through and
// returns the device's ERR_INVALID_LEN; its channel still works.
func TestClientEmptyCBOR(t *testing.T) {
	c := client(t, NewDevice(newCBORHandler()))
	if _, err := c.CBOR(t.Context(), nil, nil); !errors.Is(err, ErrInvalidLen) {
		t.Fatalf("empty CBOR: %v, want ERR_INVALID_LEN", err)
	}
	if resp, err := c.CBOR(t.Context(), []byte{opEcho, 1}, nil); err != nil || !bytes.Equal(resp, []byte{statusOK, 1}) {
		t.Fatalf("CBOR after it: % x, %v", resp, err)
	}
}

// TestClientReinitialises: a device that forgot the client's channel (here
// it gave it to another host: its table holds one) answers
// ERR_INVALID_CHANNEL; the client allocates a new channel with a broadcast
// INIT and sends the request again, once, transparently.
func TestClientReinitialises(t *testing.T) {
	h := newCBORHandler()
	d := NewDevice(h)
	d.maxChannels = 1
	a := client(t, d)
	oldA := a.Channel()
	b := client(t, d) // takes the only channel from a
	for i, c := range []*Client{a, b, a} {
		before := c.Channel()
		resp, err := c.CBOR(t.Context(), []byte{opEcho, byte(i)}, nil)
		if err != nil || !bytes.Equal(resp, []byte{statusOK, byte(i)}) {
			t.Fatalf("request %d: % x, %v", i, resp, err)
		}
		if c.Channel() == before {
			t.Fatalf("request %d went through on the forgotten channel %08x", i, before)
		}
	}
	if a.Channel() == oldA {
		t.Fatal("a kept its first channel")
	}
	if n := h.calls.Load(); n != 3 {
		t.Fatalf("the handler ran %d times, want 3: a refused request must not run", n)
	}
}

// TestClientReinitialisesOnce: a device that refuses the new channel too
// gets no third try; the error says ERR_INVALID_CHANNEL.
func TestClientReinitialisesOnce(t *testing.T) {
	const cid, next = 0x11223344, 0x55667788
	var inits, pings atomic.Int32 // counted before the answer goes out
	c, err := NewClient(scripted(t, func(dev *host) {
		inits.Add(1)
		answerInit(dev, cid)
		for _, again := range []bool{true, false} {
			r := dev.recv()
			if r[4] != cmdPing {
				dev.t.Errorf("device got command %02x, want PING", r[4])
				return
			}
			pings.Add(1)
			dev.send(binary.BigEndian.Uint32(r), cmdError, []byte{byte(ErrInvalidChannel)})
			if again {
				inits.Add(1)
				answerInit(dev, next)
			}
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Ping(t.Context(), []byte("x"))
	if !errors.Is(err, ErrInvalidChannel) {
		t.Fatalf("Ping: %v, want ERR_INVALID_CHANNEL", err)
	}
	if c.Channel() != next || inits.Load() != 2 || pings.Load() != 2 {
		t.Fatalf("channel %08x after %d INITs and %d PINGs, want %08x, 2 and 2", c.Channel(), inits.Load(), pings.Load(), uint32(next))
	}
}

// TestClientReinitialisationFails: when the new INIT fails, the error
// says both what the device answered and why INIT failed, and the client
// keeps its channel.
func TestClientReinitialisationFails(t *testing.T) {
	const cid = 0x11223344
	c, err := NewClient(scripted(t, func(dev *host) {
		answerInit(dev, cid)
		r := dev.recv()
		dev.send(binary.BigEndian.Uint32(r), cmdError, []byte{byte(ErrInvalidChannel)})
		r = dev.recv() // the broadcast INIT: answered too short
		dev.send(BroadcastCID, cmdInit, r[initHeader:initHeader+initNonceSize])
	}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Ping(t.Context(), []byte("x"))
	if !errors.Is(err, ErrInvalidChannel) || !strings.Contains(err.Error(), "INIT response of 8 bytes") {
		t.Fatalf("Ping: %v", err)
	}
	if c.Channel() != cid {
		t.Fatalf("channel %08x after a failed INIT, want %08x", c.Channel(), uint32(cid))
	}
}
