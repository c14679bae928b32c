package socket

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/vauth/vauth/hid"
)

// CTAPHID framing the restart test writes by hand (CTAP 2.1 §11.2.4).
const (
	cmdInit   = 0x86
	cmdCBOR   = 0x90
	cmdError  = 0xbf
	broadcast = 0xffffffff
)

// frame is a one-packet CTAPHID message.
func frame(cid uint32, cmd byte, data []byte) []byte {
	r := make([]byte, hid.ReportSize)
	binary.BigEndian.PutUint32(r, cid)
	r[4] = cmd
	binary.BigEndian.PutUint16(r[5:], uint16(len(data)))
	copy(r[7:], data)
	return r
}

// exchange sends a one-packet message and reads a one-packet answer.
func exchange(t *testing.T, tr hid.Transport, cid uint32, cmd byte, data []byte) (uint32, byte, []byte) {
	t.Helper()
	if err := tr.WriteReport(frame(cid, cmd, data)); err != nil {
		t.Fatal(err)
	}
	r, err := tr.ReadReport()
	if err != nil {
		t.Fatal(err)
	}
	n := int(binary.BigEndian.Uint16(r[5:]))
	return binary.BigEndian.Uint32(r), r[4], bytes.Clone(r[7 : 7+n])
}

// allocate gets a channel with CTAPHID_INIT on the broadcast channel.
func allocate(t *testing.T, tr hid.Transport) uint32 {
	t.Helper()
	nonce := []byte("restart!")
	cid, cmd, data := exchange(t, tr, broadcast, cmdInit, nonce)
	if cid != broadcast || cmd != cmdInit || len(data) < 12 || !bytes.Equal(data[:8], nonce) {
		t.Fatalf("INIT answer cid %08x cmd %02x % x", cid, cmd, data)
	}
	return binary.BigEndian.Uint32(data[8:])
}

// startDevice serves a new device on path and returns its stop function.
func startDevice(t testing.TB, path string) (stop func()) {
	t.Helper()
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, l, hid.NewDevice(echo{})) }()
	stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}
	t.Cleanup(func() {
		if ctx.Err() == nil {
			stop()
		}
	})
	return stop
}

// TestRestart: channels are strict and live with the device. After a
// restart on the same socket path, a host that reconnects and keeps its
// old channel gets ERR_INVALID_CHANNEL on it, and recovers with
// CTAPHID_INIT on the broadcast channel; hid.NewClient does that from the
// start.
func TestRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vauth.sock")
	stop := startDevice(t, path)
	old, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	cid := allocate(t, old)
	if _, cmd, data := exchange(t, old, cid, cmdCBOR, []byte{4}); cmd != cmdCBOR || !bytes.Equal(data, []byte{0, 4}) {
		t.Fatalf("CBOR before the restart: cmd %02x % x", cmd, data)
	}

	stop()
	if _, err := old.ReadReport(); !errors.Is(err, io.EOF) {
		t.Fatalf("the old connection after the restart: %v, want EOF", err)
	}
	startDevice(t, path)
	tr, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	gotCID, cmd, data := exchange(t, tr, cid, cmdCBOR, []byte{4})
	if gotCID != cid || cmd != cmdError || !bytes.Equal(data, []byte{byte(hid.ErrInvalidChannel)}) {
		t.Fatalf("old channel after the restart: cid %08x cmd %02x % x, want ERR_INVALID_CHANNEL", gotCID, cmd, data)
	}
	fresh := allocate(t, tr)
	if _, cmd, data := exchange(t, tr, fresh, cmdCBOR, []byte{4}); cmd != cmdCBOR || !bytes.Equal(data, []byte{0, 4}) {
		t.Fatalf("CBOR on the new channel: cmd %02x % x", cmd, data)
	}
	c := dial(t, path)
	if resp, err := c.CBOR(t.Context(), []byte{4}, nil); err != nil || !bytes.Equal(resp, []byte{0, 4}) {
		t.Fatalf("hid.Client after the restart: % x, %v", resp, err)
	}
}
