package hid

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"
)

// CTAP2 status bytes the test handler returns.
const (
	statusOK              = 0x00
	statusKeepaliveCancel = 0x2d
)

// Test handler commands: the first byte of a CBOR request picks the
// behaviour.
const (
	opEcho     = 0x01 // respond statusOK followed by the rest of the request
	opBlock    = 0x02 // set StatusUpNeeded, wait for ctx, respond statusKeepaliveCancel
	opSleep    = 0x03 // sleep for the duration in the next 2 bytes (ms), respond statusOK
	opEmpty    = 0x04 // respond nothing at all (a handler bug)
	opSilent   = 0x05 // like opSleep but never calls keepalive
	opOversize = 0x06 // respond more than MaxMessageSize bytes (a handler bug)
	opStubborn = 0x07 // ignore ctx and wait for the handler's release channel
	opPanic    = 0x08 // panic (a handler bug)
	opPresent  = 0x09 // set StatusUpNeeded and StatusProcessing again at once, respond statusOK
)

// cborHandler implements only Handler.
type cborHandler struct {
	started   chan struct{} // receives when an opBlock or opStubborn request starts
	cancelled chan struct{} // receives when an opBlock request sees its ctx end
	release   chan struct{} // ends opStubborn requests
	calls     atomic.Int32  // HandleCBOR calls
}

func newCBORHandler() *cborHandler {
	return &cborHandler{
		started:   make(chan struct{}, 16),
		cancelled: make(chan struct{}, 16),
		release:   make(chan struct{}),
	}
}

func (h *cborHandler) HandleCBOR(ctx context.Context, req []byte, keepalive Keepalive) []byte {
	h.calls.Add(1)
	if len(req) == 0 {
		return []byte{0x01}
	}
	switch req[0] {
	case opEcho:
		return append([]byte{statusOK}, req[1:]...)
	case opPresent:
		keepalive(StatusUpNeeded)
		keepalive(StatusProcessing)
		return []byte{statusOK}
	case opBlock:
		keepalive(StatusUpNeeded)
		h.started <- struct{}{}
		<-ctx.Done()
		h.cancelled <- struct{}{}
		return []byte{statusKeepaliveCancel}
	case opSleep, opSilent:
		if req[0] == opSleep {
			keepalive(StatusUpNeeded)
		}
		ms := binary.BigEndian.Uint16(req[1:3])
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			return []byte{statusOK}
		case <-ctx.Done():
			return []byte{statusKeepaliveCancel}
		}
	case opStubborn:
		h.started <- struct{}{}
		<-h.release
		return []byte{statusOK}
	case opEmpty:
		return nil
	case opPanic:
		panic("test handler panics")
	case opOversize:
		return make([]byte, MaxMessageSize+1)
	}
	return []byte{0x01}
}

// fullHandler also speaks MSG and WINK.
type fullHandler struct {
	*cborHandler
	winks atomic.Int32
}

func newFullHandler() *fullHandler { return &fullHandler{cborHandler: newCBORHandler()} }

func (h *fullHandler) HandleMsg(ctx context.Context, apdu []byte, keepalive Keepalive) []byte {
	return append(append([]byte{}, apdu...), 0x90, 0x00)
}

func (h *fullHandler) Wink() { h.winks.Add(1) }

// host drives a device through the raw reports of a transport.
type host struct {
	t       *testing.T
	tr      Transport
	reports chan []byte
}

// serve starts d on a new pipe and returns the host end. The device stops
// when the test ends.
func serve(t *testing.T, d *Device) *host {
	t.Helper()
	hostEnd, devEnd := Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx, devEnd) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		hostEnd.Close()
	})
	return newHost(t, hostEnd)
}

func newHost(t *testing.T, tr Transport) *host {
	h := &host{t: t, tr: tr, reports: make(chan []byte, 1024)}
	go func() {
		defer close(h.reports)
		for {
			r, err := tr.ReadReport()
			if err != nil {
				return
			}
			h.reports <- bytes.Clone(r)
		}
	}()
	return h
}

// packet builds one report: an initialization packet if cmd has bit 7 set,
// else a continuation packet with sequence number cmd.
func packet(cid uint32, cmd byte, bcnt int, data []byte) []byte {
	r := make([]byte, ReportSize)
	binary.BigEndian.PutUint32(r, cid)
	r[4] = cmd
	if cmd&typeInit != 0 {
		binary.BigEndian.PutUint16(r[5:], uint16(bcnt))
		copy(r[initHeader:], data)
	} else {
		copy(r[contHeader:], data)
	}
	return r
}

func (h *host) write(r []byte) {
	h.t.Helper()
	if err := h.tr.WriteReport(r); err != nil {
		h.t.Fatalf("WriteReport: %v", err)
	}
}

// send writes a whole message.
func (h *host) send(cid uint32, cmd byte, data []byte) {
	h.t.Helper()
	var buf []byte
	if err := writeMessage(h.tr, &buf, cid, cmd, data); err != nil {
		h.t.Fatalf("writeMessage: %v", err)
	}
}

// recv returns the next report, failing the test after 2 s.
func (h *host) recv() []byte {
	h.t.Helper()
	select {
	case r, ok := <-h.reports:
		if !ok {
			h.t.Fatal("transport closed")
		}
		return r
	case <-time.After(2 * time.Second):
		h.t.Fatal("no report within 2s")
		return nil
	}
}

// silent asserts that no report arrives for d.
func (h *host) silent(d time.Duration) {
	h.t.Helper()
	select {
	case r := <-h.reports:
		h.t.Fatalf("unexpected report % x", r[:12])
	case <-time.After(d):
	}
}

// message reads one whole message (a keepalive counts as one).
func (h *host) message() (cid uint32, cmd byte, data []byte) {
	h.t.Helper()
	r := h.recv()
	cid, cmd = binary.BigEndian.Uint32(r), r[4]
	if cmd&typeInit == 0 {
		h.t.Fatalf("continuation packet % x where a message should start", r[:8])
	}
	n := int(binary.BigEndian.Uint16(r[5:]))
	data = append([]byte{}, r[initHeader:][:min(n, initData)]...)
	for seq := byte(0); len(data) < n; seq++ {
		r = h.recv()
		if got := binary.BigEndian.Uint32(r); got != cid || r[4] != seq {
			h.t.Fatalf("packet cid %08x seq %d, want %08x seq %d", got, r[4], cid, seq)
		}
		data = append(data, r[contHeader:][:min(n-len(data), contData)]...)
	}
	return cid, cmd, data
}

// expect reads one message and checks it.
func (h *host) expect(cid uint32, cmd byte, data []byte) {
	h.t.Helper()
	gotCID, gotCmd, got := h.message()
	if gotCID != cid || gotCmd != cmd || !bytes.Equal(got, data) {
		h.t.Fatalf("got cid %08x cmd %02x data % x, want cid %08x cmd %02x data % x",
			gotCID, gotCmd, trim(got), cid, cmd, trim(data))
	}
}

// expectError reads one message and checks it is CTAPHID_ERROR code on cid.
func (h *host) expectError(cid uint32, code ErrorCode) {
	h.t.Helper()
	h.expect(cid, cmdError, []byte{byte(code)})
}

func trim(b []byte) []byte {
	if len(b) > 16 {
		return b[:16]
	}
	return b
}

// allocate gets a channel with a broadcast INIT and checks the response.
func (h *host) allocate() uint32 {
	h.t.Helper()
	nonce := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	h.send(BroadcastCID, cmdInit, nonce)
	cid, cmd, data := h.message()
	if cid != BroadcastCID || cmd != cmdInit || len(data) != initResponseSize || !bytes.Equal(data[:8], nonce) {
		h.t.Fatalf("INIT response cid %08x cmd %02x data % x", cid, cmd, data)
	}
	return binary.BigEndian.Uint32(data[8:])
}

// ping checks that the device answers a PING on cid.
func (h *host) ping(cid uint32) {
	h.t.Helper()
	h.send(cid, cmdPing, []byte("still there?"))
	h.expect(cid, cmdPing, []byte("still there?"))
}

// sleepReq is a CBOR request for opSleep or opSilent of ms milliseconds.
func sleepReq(op byte, ms uint16) []byte {
	return []byte{op, byte(ms >> 8), byte(ms)}
}

// waitFor receives from ch or fails the test after 2 s.
func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(2 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// isEOF reports whether err is io.EOF.
func isEOF(err error) bool { return errors.Is(err, io.EOF) }
