package main

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/hid"
	"github.com/vauth/vauth/hid/socket"
)

// TestBadInputOverTheCable sends what a broken or hostile client might to a
// running `vauth run`: every request gets its CTAP status or CTAPHID error,
// and the device keeps serving a well-behaved client afterwards.
func TestBadInputOverTheCable(t *testing.T) {
	d := startDaemon(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	good := func() *hid.Client {
		tr, err := socket.Dial(d.socket)
		if err != nil {
			t.Fatal(err)
		}
		c, err := hid.NewClient(tr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	c := good()
	stillServes := func(t *testing.T) {
		t.Helper()
		resp, err := c.CBOR(ctx, []byte{0x04}, nil)
		if err != nil || len(resp) == 0 || resp[0] != 0 {
			t.Fatalf("getInfo after bad input: %x, %v\ndaemon log:\n%s", resp, err, d.log)
		}
	}

	for _, tc := range []struct {
		name string
		req  []byte
		want ctap2.Status
	}{
		{"unknown CTAP command", []byte{0x55}, ctap2.CTAP1ErrInvalidCommand},
		{"not CBOR", []byte{0x01, 0xff, 0xff}, ctap2.CTAP2ErrInvalidCBOR},
		{"truncated map", []byte{0x01, 0xa4, 0x01}, ctap2.CTAP2ErrInvalidCBOR},
		{"not a map", []byte{0x02, 0x83, 0x01, 0x02, 0x03}, ctap2.CTAP2ErrCBORUnexpectedType},
		{"makeCredential without parameters", []byte{0x01, 0xa0}, ctap2.CTAP2ErrMissingParameter},
		{"clientDataHash of the wrong type", []byte{0x02, 0xa2, 0x01, 0x61, 'x', 0x02, 0x01}, ctap2.CTAP2ErrCBORUnexpectedType},
		{"getNextAssertion out of the blue", []byte{0x08}, ctap2.CTAP2ErrNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.CBOR(ctx, tc.req, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp) == 0 || ctap2.Status(resp[0]) != tc.want {
				t.Fatalf("status %x, want %v", resp, tc.want)
			}
			stillServes(t)
		})
	}

	// Framing errors need raw reports: a host on its own connection.
	raw, err := socket.Dial(d.socket)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	cid := rawInit(t, raw)
	report := func(b ...byte) []byte {
		r := make([]byte, hid.ReportSize)
		binary.BigEndian.PutUint32(r, cid)
		copy(r[4:], b)
		return r
	}
	expectError := func(t *testing.T, want hid.ErrorCode) {
		t.Helper()
		for {
			r, err := raw.ReadReport()
			if err != nil {
				t.Fatal(err)
			}
			if r[4] == 0xbb { // KEEPALIVE
				continue
			}
			if r[4] != 0xbf || hid.ErrorCode(r[7]) != want {
				t.Fatalf("got % x, want CTAPHID_ERROR %v", r[:8], want)
			}
			return
		}
	}
	for _, tc := range []struct {
		name    string
		reports [][]byte
		want    hid.ErrorCode
	}{
		{"unknown CTAPHID command", [][]byte{report(0x80|0x3f, 0, 0)}, hid.ErrInvalidCmd},
		{"message longer than 7609 bytes", [][]byte{report(0x90, 0x1d, 0xba)}, hid.ErrInvalidLen},
		{"continuation out of sequence", [][]byte{report(0x90, 0, 100), report(5)}, hid.ErrInvalidSeq},
		{"truncated message", [][]byte{report(0x90, 0, 100)}, hid.ErrMsgTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range tc.reports {
				if err := raw.WriteReport(r); err != nil {
					t.Fatal(err)
				}
			}
			expectError(t, tc.want)
			stillServes(t)
		})
	}
}

// rawInit allocates a channel by hand, as a host does.
func rawInit(t *testing.T, tr hid.Transport) uint32 {
	t.Helper()
	r := make([]byte, hid.ReportSize)
	binary.BigEndian.PutUint32(r, hid.BroadcastCID)
	r[4], r[6] = 0x86, 8
	copy(r[7:], "12345678")
	if err := tr.WriteReport(r); err != nil {
		t.Fatal(err)
	}
	resp, err := tr.ReadReport()
	if err != nil {
		t.Fatal(err)
	}
	if string(resp[7:15]) != "12345678" {
		t.Fatalf("INIT nonce not echoed: % x", resp[:20])
	}
	return binary.BigEndian.Uint32(resp[15:19])
}
