package hid

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// client serves d on a new pipe and returns a Client on it.
func client(t *testing.T, d *Device) *Client {
	t.Helper()
	hostEnd, devEnd := Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Serve(ctx, devEnd)
	}()
	c, err := NewClient(hostEnd)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() {
		c.Close()
		cancel()
		<-done
	})
	return c
}

func TestClientInit(t *testing.T) {
	tests := []struct {
		name    string
		handler Handler
		caps    byte
	}{
		{"cbor only", newCBORHandler(), CapabilityCBOR | CapabilityNMSG},
		{"msg and wink", newFullHandler(), CapabilityCBOR | CapabilityWink},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := client(t, NewDevice(tt.handler, WithVersion(4, 5, 6)))
			if c.Capabilities() != tt.caps {
				t.Errorf("capabilities %02x, want %02x", c.Capabilities(), tt.caps)
			}
			if maj, min, build := c.DeviceVersion(); maj != 4 || min != 5 || build != 6 {
				t.Errorf("device version %d.%d.%d", maj, min, build)
			}
			if c.ProtocolVersion() != ProtocolVersion {
				t.Errorf("protocol version %d", c.ProtocolVersion())
			}
			if c.Channel() == 0 || c.Channel() == BroadcastCID {
				t.Errorf("channel %08x", c.Channel())
			}
		})
	}
}

func TestClientCommands(t *testing.T) {
	c := client(t, NewDevice(newFullHandler()))
	ctx := context.Background()
	for _, n := range []int{0, 1, 57, 58, MaxMessageSize} {
		data := bytes.Repeat([]byte{byte(n)}, n)
		got, err := c.Ping(ctx, data)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Ping(%d bytes) = %d bytes, %v", n, len(got), err)
		}
	}
	if _, err := c.Ping(ctx, make([]byte, MaxMessageSize+1)); err == nil {
		t.Fatal("Ping of 7610 bytes succeeded")
	}
	resp, err := c.CBOR(ctx, []byte{opEcho, 0xa1, 0x01, 0x02}, nil)
	if err != nil || !bytes.Equal(resp, []byte{statusOK, 0xa1, 0x01, 0x02}) {
		t.Fatalf("CBOR = % x, %v", resp, err)
	}
	apdu := []byte{0x00, 0x03, 0x00, 0x00, 0x00}
	resp, err = c.Msg(ctx, apdu)
	if err != nil || !bytes.Equal(resp, append(apdu, 0x90, 0x00)) {
		t.Fatalf("Msg = % x, %v", resp, err)
	}
	if err := c.Wink(ctx); err != nil {
		t.Fatalf("Wink: %v", err)
	}
	if err := c.Lock(ctx, 5); err != nil {
		t.Fatalf("Lock: %v", err)
	}
	if err := c.Lock(ctx, 0); err != nil {
		t.Fatalf("Lock(0): %v", err)
	}
}

func TestClientErrors(t *testing.T) {
	c := client(t, NewDevice(newCBORHandler()))
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		code ErrorCode
	}{
		{"lock too long", func() error { return c.Lock(ctx, 11) }, ErrInvalidPar},
		{"msg without handler", func() error { _, err := c.Msg(ctx, []byte{0, 1, 0, 0}); return err }, ErrInvalidCmd},
		{"wink without winker", func() error { return c.Wink(ctx) }, ErrInvalidCmd},
		{"empty handler response", func() error { _, err := c.CBOR(ctx, []byte{opEmpty}, nil); return err }, ErrOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var herr *Error
			if !errors.As(err, &herr) || herr.Code != tt.code {
				t.Fatalf("error %v, want *Error with %v", err, tt.code)
			}
			if !errors.Is(err, tt.code) {
				t.Fatalf("errors.Is(%v, %v) is false", err, tt.code)
			}
			if !strings.Contains(err.Error(), tt.code.String()) {
				t.Fatalf("error %q does not name %s", err, tt.code)
			}
		})
	}
	// The channel still works after errors.
	if _, err := c.Ping(ctx, []byte{1}); err != nil {
		t.Fatal(err)
	}
}

func TestClientCancel(t *testing.T) {
	handler := newCBORHandler()
	c := client(t, NewDevice(handler))
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var statuses []byte
	go func() { <-handler.started }()
	// Cancelled once the device has said what it waits for.
	resp, err := c.CBOR(ctx, []byte{opBlock}, func(s byte) {
		mu.Lock()
		statuses = append(statuses, s)
		mu.Unlock()
		cancel()
	})
	if err != nil || !bytes.Equal(resp, []byte{statusKeepaliveCancel}) {
		t.Fatalf("cancelled CBOR = % x, %v; want 2d", resp, err)
	}
	waitFor(t, handler.cancelled, "handler cancellation")
	mu.Lock()
	if len(statuses) == 0 || statuses[0] != StatusUpNeeded {
		t.Errorf("keepalive statuses % x, want up-needed first", statuses)
	}
	mu.Unlock()
	// The client is still usable, and an already ended context sends nothing.
	if _, err := c.Ping(context.Background(), []byte{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CBOR(ctx, []byte{opEcho}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("CBOR with a cancelled context: %v", err)
	}
}

func TestClientBusy(t *testing.T) {
	handler := newCBORHandler()
	d := NewDevice(handler)
	c1, c2 := client(t, d), client(t, d)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c1.CBOR(ctx, []byte{opBlock}, nil)
		done <- err
	}()
	waitFor(t, handler.started, "handler start")
	if _, err := c2.CBOR(context.Background(), []byte{opEcho}, nil); !errors.Is(err, ErrChannelBusy) {
		t.Fatalf("CBOR on a busy device: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := c2.CBOR(context.Background(), []byte{opEcho}, nil); err != nil {
		t.Fatalf("CBOR after the other command: %v", err)
	}
}

func TestClientClose(t *testing.T) {
	handler := newCBORHandler()
	c := client(t, NewDevice(handler))
	done := make(chan error, 1)
	go func() {
		_, err := c.CBOR(context.Background(), []byte{opBlock}, nil)
		done <- err
	}()
	waitFor(t, handler.started, "handler start")
	c.Close()
	if err := <-done; !errors.Is(err, ErrClientClosed) {
		t.Fatalf("CBOR interrupted by Close: %v", err)
	}
	if _, err := c.Ping(context.Background(), nil); !errors.Is(err, ErrClientClosed) {
		t.Fatalf("Ping after Close: %v", err)
	}
}

// scripted runs script as the device on the device end of a new pipe and
// returns the host end.
func scripted(t *testing.T, script func(dev *host)) Transport {
	hostEnd, devEnd := Pipe()
	dev := newHost(t, devEnd)
	done := make(chan struct{})
	go func() {
		defer close(done)
		script(dev)
	}()
	t.Cleanup(func() {
		hostEnd.Close()
		<-done
	})
	return hostEnd
}

// answerInit reads the client's INIT and answers it with channel cid,
// first sending the noise reports.
func answerInit(dev *host, cid uint32, noise ...[]byte) {
	r := dev.recv()
	for _, n := range noise {
		dev.write(n)
	}
	resp := make([]byte, initResponseSize)
	copy(resp, r[initHeader:initHeader+8])
	binary.BigEndian.PutUint32(resp[8:], cid)
	resp[12] = ProtocolVersion
	resp[16] = CapabilityCBOR
	dev.send(BroadcastCID, cmdInit, resp)
}

func TestClientAgainstScriptedDevices(t *testing.T) {
	const cid = 0x11223344
	otherInit := packet(BroadcastCID, cmdInit, initResponseSize, []byte{9, 9, 9, 9, 9, 9, 9, 9, 0, 0, 0, 1})
	tests := []struct {
		name   string
		script func(dev *host)
		check  func(t *testing.T, c *Client, err error)
	}{
		{"skips another host's INIT answer and other channels", func(dev *host) {
			answerInit(dev, cid, otherInit, packet(0x55555555, cmdPing, 1, nil))
			dev.recv()
			dev.write(packet(0x55555555, cmdCBOR, 1, []byte{7}))
			dev.write(packet(cid, 3, 0, []byte{7})) // stale continuation
			dev.send(cid, cmdKeepalive, []byte{StatusProcessing})
			dev.send(cid, cmdCBOR, []byte{statusOK, 42})
		}, func(t *testing.T, c *Client, err error) {
			if err != nil {
				t.Fatal(err)
			}
			var ka []byte
			resp, err := c.CBOR(context.Background(), []byte{opEcho}, func(s byte) { ka = append(ka, s) })
			if err != nil || !bytes.Equal(resp, []byte{statusOK, 42}) || !bytes.Equal(ka, []byte{StatusProcessing}) {
				t.Fatalf("CBOR = % x, %v, keepalives % x", resp, err, ka)
			}
		}},
		{"response out of sequence", func(dev *host) {
			answerInit(dev, cid)
			dev.recv()
			dev.write(packet(cid, cmdPing, 100, nil))
			dev.write(packet(cid, 1, 0, nil))
		}, func(t *testing.T, c *Client, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Ping(context.Background(), make([]byte, 100)); err == nil || !strings.Contains(err.Error(), "sequence") {
				t.Fatalf("Ping: %v, want a sequence error", err)
			}
		}},
		{"response to another command", func(dev *host) {
			answerInit(dev, cid)
			dev.recv()
			dev.send(cid, cmdWink, nil)
		}, func(t *testing.T, c *Client, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Ping(context.Background(), nil); err == nil {
				t.Fatal("Ping answered by WINK succeeded")
			}
		}},
		{"INIT answer allocating the broadcast channel", func(dev *host) {
			answerInit(dev, BroadcastCID)
		}, func(t *testing.T, c *Client, err error) {
			if err == nil {
				t.Fatal("NewClient accepted channel ffffffff")
			}
		}},
		{"short INIT answer", func(dev *host) {
			r := dev.recv()
			dev.send(BroadcastCID, cmdInit, r[initHeader:initHeader+8])
		}, func(t *testing.T, c *Client, err error) {
			if err == nil {
				t.Fatal("NewClient accepted a short INIT answer")
			}
		}},
		{"device gone", func(dev *host) {
			dev.tr.Close()
		}, func(t *testing.T, c *Client, err error) {
			if err == nil {
				t.Fatal("NewClient succeeded with no device")
			}
		}},
		{"no answer after CANCEL", func(dev *host) {
			answerInit(dev, cid)
			dev.recv() // the request
			r := dev.recv()
			if r[4] != cmdCancel || binary.BigEndian.Uint32(r) != cid {
				dev.t.Errorf("device got % x, want CANCEL", r[:8])
			}
		}, func(t *testing.T, c *Client, err error) {
			if err != nil {
				t.Fatal(err)
			}
			c.grace = 50 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			_, err = c.CBOR(ctx, []byte{opBlock}, nil)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("CBOR with no answer: %v", err)
			}
			if _, err := c.Ping(context.Background(), nil); !errors.Is(err, ErrClientClosed) {
				t.Fatalf("Ping after giving up: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(scripted(t, tt.script))
			tt.check(t, c, err)
		})
	}
}
