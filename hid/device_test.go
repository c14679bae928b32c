package hid

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestInit(t *testing.T) {
	tests := []struct {
		name    string
		handler Handler
		opts    []Option
		caps    byte
		version [3]byte
	}{
		{"cbor only", newCBORHandler(), nil, CapabilityCBOR | CapabilityNMSG, [3]byte{}},
		{"msg and wink", newFullHandler(), []Option{WithVersion(1, 2, 3)}, CapabilityCBOR | CapabilityWink, [3]byte{1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := serve(t, NewDevice(tt.handler, tt.opts...))
			nonce := []byte{0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3}
			h.send(BroadcastCID, cmdInit, nonce)
			cid, cmd, data := h.message()
			if cid != BroadcastCID || cmd != cmdInit {
				t.Fatalf("INIT answered on %08x with %02x", cid, cmd)
			}
			if len(data) != initResponseSize || !bytes.Equal(data[:8], nonce) {
				t.Fatalf("INIT response % x does not echo nonce % x", data, nonce)
			}
			got := binary.BigEndian.Uint32(data[8:])
			if got == 0 || got == BroadcastCID {
				t.Fatalf("allocated CID %08x", got)
			}
			if data[12] != ProtocolVersion || [3]byte(data[13:16]) != tt.version || data[16] != tt.caps {
				t.Fatalf("protocol %d version % x caps %02x, want 2 % x %02x", data[12], data[13:16], data[16], tt.version, tt.caps)
			}
			if other := h.allocate(); other == got {
				t.Fatalf("second INIT allocated the same CID %08x", got)
			}
			// INIT on the allocated channel confirms it.
			nonce2 := []byte{9, 9, 9, 9, 9, 9, 9, 9}
			h.send(got, cmdInit, nonce2)
			h.expect(got, cmdInit, append(append(nonce2, data[8:12]...), data[12:]...))
			h.ping(got)
		})
	}
}

func TestPing(t *testing.T) {
	h := serve(t, NewDevice(newCBORHandler()))
	cid := h.allocate()
	for _, n := range []int{0, 1, 57, 58, 59 + 57, 59 + 58, 1000, MaxMessageSize} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i * 7)
		}
		h.send(cid, cmdPing, data)
		h.expect(cid, cmdPing, data)
	}
	// 7610 bytes cannot be framed: the length alone is refused.
	h.write(packet(cid, cmdPing, MaxMessageSize+1, nil))
	h.expectError(cid, ErrInvalidLen)
	h.ping(cid)
}

// Roles of channels in table-driven packet scripts.
const (
	chA       = iota // allocated on this transport
	chB              // allocated on this transport
	chZero           // CID 0
	chBcast          // the broadcast CID
	chUnknown        // never allocated
	chForeign        // allocated on another transport
)

// step is a packet to write or, when want is set, a message to expect.
type step struct {
	ch   int
	cmd  byte // with bit 7: initialization packet; without: continuation sequence
	bcnt int
	data []byte

	want     bool
	wantCmd  byte
	wantData []byte
}

func send(ch int, cmd byte, bcnt int, data ...byte) step {
	return step{ch: ch, cmd: cmd, bcnt: bcnt, data: data}
}

func want(ch int, cmd byte, data ...byte) step {
	return step{ch: ch, want: true, wantCmd: cmd, wantData: data}
}

func wantErr(ch int, code ErrorCode) step { return want(ch, cmdError, byte(code)) }

func TestPacketScripts(t *testing.T) {
	long := bytes.Repeat([]byte{0x42}, 100)
	tests := []struct {
		name  string
		steps []step
	}{
		{"continuation packets complete a message", []step{
			send(chA, cmdPing, 100, long[:57]...),
			send(chA, 0, 0, long[57:]...),
			want(chA, cmdPing, long...),
		}},
		{"wrong sequence number", []step{
			send(chA, cmdPing, 200, long[:57]...),
			send(chA, 1, 0, long[:59]...),
			wantErr(chA, ErrInvalidSeq),
			// The rest of the broken message is spurious now.
			send(chA, 2, 0, long[:59]...),
		}},
		{"repeated sequence number", []step{
			send(chA, cmdPing, 200, long[:57]...),
			send(chA, 0, 0, long[:59]...),
			send(chA, 0, 0, long[:59]...),
			wantErr(chA, ErrInvalidSeq),
		}},
		{"stray continuation packet is ignored", []step{
			send(chA, 0, 0, 1, 2, 3),
			send(chA, 5, 0, 1, 2, 3),
			send(chB, 0, 0),
		}},
		{"continuation on another channel is ignored", []step{
			send(chA, cmdPing, 100, long[:57]...),
			send(chB, 0, 0, long[57:]...),
			send(chA, 0, 0, long[57:]...),
			want(chA, cmdPing, long...),
		}},
		{"new request before the last one is complete", []step{
			send(chA, cmdPing, 100, long[:57]...),
			send(chA, cmdPing, 1, 7),
			wantErr(chA, ErrInvalidSeq),
		}},
		{"request on another channel while receiving", []step{
			send(chA, cmdPing, 100, long[:57]...),
			send(chB, cmdPing, 1, 7),
			wantErr(chB, ErrChannelBusy),
			send(chA, 0, 0, long[57:]...),
			want(chA, cmdPing, long...),
			send(chB, cmdPing, 1, 7),
			want(chB, cmdPing, 7),
		}},
		{"INIT with a short nonce", []step{
			send(chBcast, cmdInit, 7, 1, 2, 3, 4, 5, 6, 7),
			wantErr(chBcast, ErrInvalidLen),
			send(chA, cmdInit, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9),
			wantErr(chA, ErrInvalidLen),
		}},
		{"LOCK needs one byte", []step{
			send(chA, cmdLock, 0),
			wantErr(chA, ErrInvalidLen),
			send(chA, cmdLock, 2, 1, 1),
			wantErr(chA, ErrInvalidLen),
		}},
		{"LOCK longer than 10 s", []step{
			send(chA, cmdLock, 1, 11),
			wantErr(chA, ErrInvalidPar),
			send(chB, cmdPing, 1, 1),
			want(chB, cmdPing, 1),
		}},
		{"channel 0", []step{
			send(chZero, cmdPing, 1, 1),
			wantErr(chZero, ErrInvalidChannel),
			send(chZero, cmdInit, 8, 1, 2, 3, 4, 5, 6, 7, 8),
			wantErr(chZero, ErrInvalidChannel),
		}},
		{"non-INIT on the broadcast channel", []step{
			send(chBcast, cmdPing, 1, 1),
			wantErr(chBcast, ErrInvalidChannel),
			send(chBcast, cmdCBOR, 1, opEcho),
			wantErr(chBcast, ErrInvalidChannel),
		}},
		{"channel never allocated", []step{
			send(chUnknown, cmdPing, 1, 1),
			wantErr(chUnknown, ErrInvalidChannel),
			send(chUnknown, cmdInit, 8, 1, 2, 3, 4, 5, 6, 7, 8),
			wantErr(chUnknown, ErrInvalidChannel),
		}},
		{"channel of another transport", []step{
			send(chForeign, cmdPing, 1, 1),
			wantErr(chForeign, ErrInvalidChannel),
		}},
		{"unknown and device-only commands", []step{
			send(chA, 0xc1, 0),
			wantErr(chA, ErrInvalidCmd),
			send(chA, cmdKeepalive, 1, 1),
			wantErr(chA, ErrInvalidCmd),
			send(chA, cmdError, 1, 1),
			wantErr(chA, ErrInvalidCmd),
		}},
		{"unknown command with a long length is refused at once", []step{
			send(chA, 0xc1, 1000),
			wantErr(chA, ErrInvalidCmd),
			send(chA, 0, 0),
		}},
		{"MSG and WINK without handlers", []step{
			send(chA, cmdMsg, 4, 0, 1, 0, 0),
			wantErr(chA, ErrInvalidCmd),
			send(chA, cmdWink, 0),
			wantErr(chA, ErrInvalidCmd),
		}},
		{"CANCEL for nothing is ignored", []step{
			send(chA, cmdCancel, 0),
			send(chZero, cmdCancel, 0),
			send(chBcast, cmdCancel, 0),
			send(chUnknown, cmdCancel, 0),
		}},
		{"CANCEL drops a request being received", []step{
			send(chA, cmdPing, 100, long[:57]...),
			send(chA, cmdCancel, 0),
			send(chA, 0, 0, long[57:]...),
			send(chB, cmdPing, 1, 3),
			want(chB, cmdPing, 3),
		}},
		{"CBOR round trip", []step{
			send(chA, cmdCBOR, 3, opEcho, 0xa0, 0xa1),
			want(chA, cmdCBOR, statusOK, 0xa0, 0xa1),
		}},
		{"empty handler response", []step{
			send(chA, cmdCBOR, 1, opEmpty),
			wantErr(chA, ErrOther),
		}},
		{"handler panics", []step{
			send(chA, cmdCBOR, 1, opPanic),
			wantErr(chA, ErrOther),
		}},
		{"oversized handler response", []step{
			send(chA, cmdCBOR, 1, opOversize),
			wantErr(chA, ErrOther),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDevice(newCBORHandler())
			h := serve(t, d)
			foreign := serve(t, d).allocate()
			roles := map[int]uint32{
				chA: h.allocate(), chB: h.allocate(),
				chZero: 0, chBcast: BroadcastCID, chUnknown: 0x01020304, chForeign: foreign,
			}
			for _, s := range tt.steps {
				cid := roles[s.ch]
				if s.want {
					h.expect(cid, s.wantCmd, s.wantData)
					continue
				}
				h.write(packet(cid, s.cmd, s.bcnt, s.data))
			}
			// Nothing else came, and the device still works on both channels.
			h.ping(roles[chA])
			h.ping(roles[chB])
		})
	}
}

func TestBusyWhileCommandRuns(t *testing.T) {
	handler := newCBORHandler()
	d := NewDevice(handler)
	h := serve(t, d)
	other := serve(t, d)
	a, b := h.allocate(), h.allocate()
	c := other.allocate()

	h.send(a, cmdCBOR, []byte{opBlock})
	waitFor(t, handler.started, "handler start")
	for _, ch := range []struct {
		h   *host
		cid uint32
	}{{h, b}, {other, c}} {
		for _, cmd := range []byte{cmdPing, cmdCBOR, cmdLock} {
			ch.h.write(packet(ch.cid, cmd, 1, []byte{1}))
			expectSkippingKeepalive(ch.h, ch.cid, cmdError, []byte{byte(ErrChannelBusy)})
		}
		// Resynchronising another channel does not break the transaction.
		ch.h.send(ch.cid, cmdInit, make([]byte, 8))
		expectSkippingKeepalive(ch.h, ch.cid, cmdError, []byte{byte(ErrChannelBusy)})
	}
	// A second request on the busy channel itself.
	h.send(a, cmdPing, []byte{1})
	expectSkippingKeepalive(h, a, cmdError, []byte{byte(ErrChannelBusy)})
	// A new host can still get a channel.
	other.allocate()

	h.send(a, cmdCancel, nil)
	waitFor(t, handler.cancelled, "handler cancellation")
	expectSkippingKeepalive(h, a, cmdCBOR, []byte{statusKeepaliveCancel})
	h.ping(b)
	other.ping(c)
}

// skipKeepalives returns the next message that is not a keepalive.
func skipKeepalives(h *host) (cid uint32, cmd byte, data []byte) {
	h.t.Helper()
	for {
		if cid, cmd, data = h.message(); cmd != cmdKeepalive {
			return cid, cmd, data
		}
	}
}

// expectSkippingKeepalive checks the next message that is not a keepalive.
func expectSkippingKeepalive(h *host, cid uint32, cmd byte, data []byte) {
	h.t.Helper()
	gotCID, gotCmd, got := skipKeepalives(h)
	if gotCID != cid || gotCmd != cmd || !bytes.Equal(got, data) {
		h.t.Fatalf("got cid %08x cmd %02x data % x, want cid %08x cmd %02x data % x", gotCID, gotCmd, got, cid, cmd, data)
	}
}

func TestCancel(t *testing.T) {
	handler := newCBORHandler()
	h := serve(t, NewDevice(handler))
	a, b := h.allocate(), h.allocate()

	h.send(a, cmdCBOR, []byte{opBlock})
	waitFor(t, handler.started, "handler start")
	// CANCEL on another channel does not touch a's command.
	h.send(b, cmdCancel, nil)
	select {
	case <-handler.cancelled:
		t.Fatal("CANCEL on another channel cancelled the command")
	case <-time.After(150 * time.Millisecond):
	}
	h.send(a, cmdCancel, nil)
	waitFor(t, handler.cancelled, "handler cancellation")
	// The command's own response follows, and nothing answers the CANCELs.
	expectSkippingKeepalive(h, a, cmdCBOR, []byte{statusKeepaliveCancel})
	h.silent(150 * time.Millisecond)
	h.ping(a)
}

func TestKeepalive(t *testing.T) {
	tests := []struct {
		name   string
		op     byte
		status byte
	}{
		{"status set by handler", opSleep, StatusUpNeeded},
		{"default status", opSilent, StatusProcessing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hostEnd, devEnd := Pipe()
			stamped := &stampTransport{Transport: devEnd}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go NewDevice(newCBORHandler()).Serve(ctx, stamped)
			h := newHost(t, hostEnd)
			a := h.allocate()
			start := time.Now()
			h.send(a, cmdCBOR, sleepReq(tt.op, 450))
			for {
				cid, cmd, data := h.message()
				if cid != a {
					t.Fatalf("message on %08x", cid)
				}
				if cmd == cmdCBOR {
					if !bytes.Equal(data, []byte{statusOK}) {
						t.Fatalf("response % x", data)
					}
					break
				}
				if cmd != cmdKeepalive || !bytes.Equal(data, []byte{tt.status}) {
					t.Fatalf("got cmd %02x data % x, want keepalive %d", cmd, data, tt.status)
				}
			}
			// The gaps are measured where the device writes, so that they
			// do not include the test's own reading.
			stamps := stamped.times()
			if len(stamps) < 5 {
				t.Fatalf("%d keepalives in 450 ms", len(stamps)-1)
			}
			last := start
			for _, s := range stamps {
				if gap := s.Sub(last); gap > 100*time.Millisecond {
					t.Errorf("%v without a keepalive", gap)
				}
				last = s
			}
			// None after the response.
			h.silent(150 * time.Millisecond)
		})
	}
}

// TestKeepaliveStatusOnTick checks that a status the handler sets and
// clears again before the next tick is never sent: a user presence
// answered at once shows the host no UPNEEDED.
func TestKeepaliveStatusOnTick(t *testing.T) {
	h := serve(t, NewDevice(newCBORHandler()))
	a := h.allocate()
	h.send(a, cmdCBOR, []byte{opPresent})
	if cid, cmd, data := h.message(); cid != a || cmd != cmdCBOR || !bytes.Equal(data, []byte{statusOK}) {
		t.Fatalf("got cid %08x cmd %02x data % x, want the response alone", cid, cmd, data)
	}
}

// stampTransport records when CTAPHID_KEEPALIVE and CTAPHID_CBOR reports are
// written.
type stampTransport struct {
	Transport
	mu     sync.Mutex
	stamps []time.Time
}

func (s *stampTransport) WriteReport(r []byte) error {
	if r[4] == cmdKeepalive || r[4] == cmdCBOR {
		s.mu.Lock()
		s.stamps = append(s.stamps, time.Now())
		s.mu.Unlock()
	}
	return s.Transport.WriteReport(r)
}

func (s *stampTransport) times() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time{}, s.stamps...)
}

func TestMessageTimeout(t *testing.T) {
	d := NewDevice(newCBORHandler(), WithMessageTimeout(60*time.Millisecond))
	h := serve(t, d)
	a, b := h.allocate(), h.allocate()
	long := bytes.Repeat([]byte{1}, 200)

	start := time.Now()
	h.write(packet(a, cmdPing, len(long), long))
	h.write(packet(a, 0, 0, long[initData:]))
	h.expectError(a, ErrMsgTimeout)
	if e := time.Since(start); e < 60*time.Millisecond {
		t.Errorf("timed out after %v, before the 60ms timeout", e)
	}
	// The device is idle again: the late packets are spurious.
	h.write(packet(a, 1, 0, long))
	h.ping(b)
	h.ping(a)
}

func TestResync(t *testing.T) {
	handler := newCBORHandler()
	h := serve(t, NewDevice(handler))
	a := h.allocate()

	// Resync of a channel that is running a command.
	h.send(a, cmdCBOR, []byte{opBlock})
	waitFor(t, handler.started, "handler start")
	nonce := []byte{8, 7, 6, 5, 4, 3, 2, 1}
	h.send(a, cmdInit, nonce)
	cid, cmd, data := skipKeepalives(h)
	if cid != a || cmd != cmdInit || !bytes.Equal(data[:8], nonce) || binary.BigEndian.Uint32(data[8:]) != a {
		t.Fatalf("resync answered cid %08x cmd %02x data % x", cid, cmd, data)
	}
	waitFor(t, handler.cancelled, "cancellation of the aborted command")
	// The aborted command's response is discarded.
	h.silent(150 * time.Millisecond)
	h.ping(a)

	// Resync of a channel receiving a request.
	h.write(packet(a, cmdPing, 100, nil))
	h.send(a, cmdInit, nonce)
	h.expect(a, cmdInit, data)
	h.write(packet(a, 0, 0, nil))
	h.ping(a)

	// A new command right after a resync runs after the aborted one.
	h.send(a, cmdCBOR, []byte{opBlock})
	waitFor(t, handler.started, "handler start")
	h.send(a, cmdInit, nonce)
	expectSkippingKeepalive(h, a, cmdInit, data)
	h.send(a, cmdCBOR, []byte{opEcho, 5})
	expectSkippingKeepalive(h, a, cmdCBOR, []byte{statusOK, 5})
	waitFor(t, handler.cancelled, "cancellation of the aborted command")
}

func TestResyncWithStubbornHandler(t *testing.T) {
	handler := newCBORHandler()
	h := serve(t, NewDevice(handler))
	a := h.allocate()
	nonce := make([]byte, 8)

	h.send(a, cmdCBOR, []byte{opStubborn})
	waitFor(t, handler.started, "handler start")
	// The handler ignores its cancelled context. Its channel is resynced
	// anyway, and the next command waits for the handler...
	resync := func() {
		t.Helper()
		h.send(a, cmdInit, nonce)
		if cid, cmd, _ := skipKeepalives(h); cid != a || cmd != cmdInit {
			t.Fatalf("resync answered %02x on %08x", cmd, cid)
		}
	}
	resync()
	h.send(a, cmdCBOR, []byte{opEcho, 1})
	// ...but cannot be followed by another: the device says busy instead
	// of queueing without bound.
	resync()
	h.send(a, cmdCBOR, []byte{opEcho, 2})
	expectSkippingKeepalive(h, a, cmdError, []byte{byte(ErrChannelBusy)})
	h.send(a, cmdCBOR, []byte{opEcho, 3})
	expectSkippingKeepalive(h, a, cmdError, []byte{byte(ErrChannelBusy)})

	close(handler.release)
	// The abandoned queued command is skipped, not run.
	deadline := time.Now().Add(2 * time.Second)
	for {
		h.send(a, cmdCBOR, []byte{opEcho, 4})
		_, cmd, data := h.message()
		if cmd == cmdCBOR {
			if !bytes.Equal(data, []byte{statusOK, 4}) {
				t.Fatalf("response % x", data)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("device stayed busy")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := handler.calls.Load(); n != 2 {
		t.Fatalf("HandleCBOR called %d times, want 2 (the stubborn and the last)", n)
	}
}

// fakeClock is a settable clock for CTAPHID_LOCK expiry.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestLock(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	d := NewDevice(newCBORHandler())
	d.now = clock.Now
	h := serve(t, d)
	other := serve(t, d)
	a, b := h.allocate(), h.allocate()
	c := other.allocate()

	locked := func() {
		t.Helper()
		h.send(b, cmdPing, []byte{1})
		h.expectError(b, ErrChannelBusy)
		other.send(c, cmdCBOR, []byte{opEcho})
		other.expectError(c, ErrChannelBusy)
		other.send(c, cmdInit, make([]byte, 8))
		other.expectError(c, ErrChannelBusy)
		// The lock holder works, and new hosts can still get a channel.
		h.ping(a)
		h.send(a, cmdCBOR, []byte{opEcho, 1})
		h.expect(a, cmdCBOR, []byte{statusOK, 1})
		other.allocate()
	}
	unlocked := func() {
		t.Helper()
		h.ping(b)
		other.ping(c)
	}

	h.send(a, cmdLock, []byte{3})
	h.expect(a, cmdLock, nil)
	locked()
	clock.advance(2 * time.Second)
	locked()
	clock.advance(time.Second)
	unlocked()

	// LOCK 0 releases at once.
	h.send(a, cmdLock, []byte{10})
	h.expect(a, cmdLock, nil)
	locked()
	h.send(a, cmdLock, []byte{0})
	h.expect(a, cmdLock, nil)
	unlocked()

	// Another channel cannot take or release the lock.
	h.send(a, cmdLock, []byte{10})
	h.expect(a, cmdLock, nil)
	h.send(b, cmdLock, []byte{0})
	h.expectError(b, ErrChannelBusy)
	// Resync of the holder releases it.
	h.send(a, cmdInit, make([]byte, 8))
	_, cmd, _ := h.message()
	if cmd != cmdInit {
		t.Fatalf("resync answered %02x", cmd)
	}
	unlocked()

	// The lock goes with its host.
	h.send(a, cmdLock, []byte{10})
	h.expect(a, cmdLock, nil)
	h.tr.Close()
	deadline := time.Now().Add(2 * time.Second)
	for {
		other.send(c, cmdPing, []byte{1})
		_, cmd, _ := other.message()
		if cmd == cmdPing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("lock outlived its host")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWinkAndMsg(t *testing.T) {
	handler := newFullHandler()
	h := serve(t, NewDevice(handler))
	a := h.allocate()
	h.send(a, cmdWink, nil)
	h.expect(a, cmdWink, nil)
	if n := handler.winks.Load(); n != 1 {
		t.Fatalf("Wink called %d times", n)
	}
	h.write(packet(a, cmdWink, 1, []byte{1}))
	h.expectError(a, ErrInvalidLen)
	apdu := []byte{0x00, 0x03, 0x00, 0x00, 0x00}
	h.send(a, cmdMsg, apdu)
	h.expect(a, cmdMsg, append(apdu, 0x90, 0x00))
}

func TestServeReturns(t *testing.T) {
	handler := newCBORHandler()
	d := NewDevice(handler)

	t.Run("peer closes", func(t *testing.T) {
		hostEnd, devEnd := Pipe()
		done := make(chan error, 1)
		go func() { done <- d.Serve(context.Background(), devEnd) }()
		h := newHost(t, hostEnd)
		a := h.allocate()
		h.send(a, cmdCBOR, []byte{opBlock})
		waitFor(t, handler.started, "handler start")
		hostEnd.Close()
		waitFor(t, handler.cancelled, "cancellation of the running command")
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Serve: %v", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("Serve did not return")
		}
		d.mu.Lock()
		n, tx := len(d.channels), d.tx
		d.mu.Unlock()
		if n != 0 || tx != nil {
			t.Fatalf("%d channels and transaction %v left", n, tx)
		}
	})
	t.Run("context ends", func(t *testing.T) {
		hostEnd, devEnd := Pipe()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Serve(ctx, devEnd) }()
		h := newHost(t, hostEnd)
		h.allocate()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Serve: %v", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("Serve did not return")
		}
		for range h.reports { // the host's reader has seen EOF and stopped
		}
		if _, err := hostEnd.ReadReport(); !isEOF(err) {
			t.Fatalf("host end after Serve: %v, want EOF", err)
		}
	})
	t.Run("read error", func(t *testing.T) {
		broken := errors.New("broken")
		err := d.Serve(context.Background(), failingTransport{broken})
		if !errors.Is(err, broken) {
			t.Fatalf("Serve: %v, want %v", err, broken)
		}
	})
}

// failingTransport fails every read.
type failingTransport struct{ err error }

func (f failingTransport) ReadReport() ([]byte, error) { return nil, f.err }
func (f failingTransport) WriteReport(r []byte) error  { return f.err }
func (f failingTransport) Close() error                { return nil }

func TestChannelReuse(t *testing.T) {
	d := NewDevice(newCBORHandler())
	d.maxChannels = 4
	h := serve(t, d)
	first := h.allocate()
	kept := h.allocate()
	h.allocate()
	h.allocate()
	h.ping(kept) // now first is the least recently used
	h.allocate() // reuses first
	h.send(first, cmdPing, []byte{1})
	h.expectError(first, ErrInvalidChannel)
	h.ping(kept)
	d.mu.Lock()
	n := len(d.channels)
	d.mu.Unlock()
	if n != 4 {
		t.Fatalf("%d channels, want 4", n)
	}
}

func TestWrongSizeReportsDropped(t *testing.T) {
	hostEnd, devEnd := Pipe()
	short := &shortReports{Transport: devEnd, n: 3}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go NewDevice(newCBORHandler()).Serve(ctx, short)
	h := newHost(t, hostEnd)
	// The first three reports reach the device truncated and are dropped.
	for range 3 {
		h.send(BroadcastCID, cmdInit, make([]byte, 8))
	}
	h.silent(100 * time.Millisecond)
	h.allocate()
}

// shortReports truncates the first n reports it reads.
type shortReports struct {
	Transport
	n int
}

func (s *shortReports) ReadReport() ([]byte, error) {
	r, err := s.Transport.ReadReport()
	if err == nil && s.n > 0 {
		s.n--
		return r[:10], nil
	}
	return r, err
}

func TestLogging(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := serve(t, NewDevice(newCBORHandler(), WithLogger(logger)))
	h.write(packet(0, cmdPing, 0, nil))
	h.expectError(0, ErrInvalidChannel)
	a := h.allocate()
	h.send(a, cmdCBOR, []byte{opEmpty})
	h.expectError(a, ErrOther)
	for _, want := range []string{"level=DEBUG msg=\"ctaphid: request on channel 0\"", "level=ERROR msg=\"ctaphid: handler response cannot be sent\""} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, buf.String())
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the device's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestErrorCodes(t *testing.T) {
	tests := []struct {
		code ErrorCode
		name string
	}{
		{ErrInvalidCmd, "ERR_INVALID_CMD"},
		{ErrInvalidPar, "ERR_INVALID_PAR"},
		{ErrInvalidLen, "ERR_INVALID_LEN"},
		{ErrInvalidSeq, "ERR_INVALID_SEQ"},
		{ErrMsgTimeout, "ERR_MSG_TIMEOUT"},
		{ErrChannelBusy, "ERR_CHANNEL_BUSY"},
		{ErrLockRequired, "ERR_LOCK_REQUIRED"},
		{ErrInvalidChannel, "ERR_INVALID_CHANNEL"},
		{ErrOther, "ERR_OTHER"},
		{0x42, "ERR_0x42"},
	}
	for _, tt := range tests {
		err := error(&Error{Code: tt.code})
		if tt.code.String() != tt.name || !strings.Contains(err.Error(), tt.name) || !strings.Contains(tt.code.Error(), tt.name) {
			t.Errorf("code %#x: String %q, Error %q, want %s", byte(tt.code), tt.code, err, tt.name)
		}
		if !errors.Is(err, tt.code) || errors.Is(err, ErrorCode(byte(tt.code)+1)) {
			t.Errorf("errors.Is does not match %s exactly", tt.name)
		}
	}
}
