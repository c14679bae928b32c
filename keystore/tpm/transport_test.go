package tpm

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
)

// serveOnce accepts one connection, reads one command header and answers
// with the given chunks, pausing between them, then closes.
func serveOnce(t *testing.T, chunks ...[]byte) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := io.ReadFull(c, make([]byte, headerSize)); err != nil {
			return
		}
		for _, chunk := range chunks {
			_, _ = c.Write(chunk)
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return l.Addr().String()
}

// response builds a TPM response header with the given size field and body.
func response(size uint32, body []byte) []byte {
	b := make([]byte, headerSize, headerSize+len(body))
	binary.BigEndian.PutUint16(b[0:2], 0x8001) // TPM_ST_NO_SESSIONS
	binary.BigEndian.PutUint32(b[2:6], size)
	return append(b, body...)
}

func TestTCPTransport(t *testing.T) {
	body := bytes.Repeat([]byte{0xAB}, 100)
	whole := response(headerSize+100, body)
	cases := []struct {
		name   string
		chunks [][]byte
		want   []byte // nil: an error
	}{
		{"whole", [][]byte{whole}, whole},
		{"split across segments", [][]byte{whole[:4], whole[4:50], whole[50:]}, whole},
		{"size below header", [][]byte{response(5, nil)}, nil},
		{"size above limit", [][]byte{response(maxResponseSize+1, nil)}, nil},
		{"huge size", [][]byte{response(1<<31, nil)}, nil},
		{"short body", [][]byte{response(headerSize+100, body[:50])}, nil},
		{"short header", [][]byte{whole[:6]}, nil},
		{"nothing", nil, nil},
	}
	cmd := response(headerSize, nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tpm, err := dialTCP(serveOnce(t, c.chunks...))
			if err != nil {
				t.Fatal(err)
			}
			defer tpm.Close()
			got, err := tpm.Send(cmd)
			switch {
			case c.want == nil && err == nil:
				t.Fatalf("Send = %x, want an error", got)
			case c.want != nil && (err != nil || !bytes.Equal(got, c.want)):
				t.Fatalf("Send = %x, %v; want %x", got, err, c.want)
			}
		})
	}
}

// serveCommands accepts one connection and answers each 10-byte command
// with the next response, then closes.
func serveCommands(t *testing.T, responses ...[]byte) (addr string, commands func() int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	served := make(chan int, 1)
	go func() {
		n := 0
		defer func() { served <- n }()
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		for _, rsp := range responses {
			if _, err := io.ReadFull(c, make([]byte, headerSize)); err != nil {
				return
			}
			n++
			_, _ = c.Write(rsp)
		}
	}()
	return l.Addr().String(), func() int { return <-served }
}

// withCode is a bare response with a response code.
func withCode(rc tpm2.TPMRC) []byte {
	b := response(headerSize, nil)
	binary.BigEndian.PutUint32(b[6:], uint32(rc))
	return b
}

// The TCP transport sends a command again while the TPM answers a warning
// that asks for it (TPM_RC_RETRY, _YIELDED, _TESTING), a bounded number of
// times; other codes, success or error, go back to the caller.
func TestTCPRetry(t *testing.T) {
	retries := func(rc tpm2.TPMRC, n int) [][]byte {
		var r [][]byte
		for range n {
			r = append(r, withCode(rc))
		}
		return r
	}
	cases := []struct {
		name      string
		responses [][]byte
		wantRC    tpm2.TPMRC
		wantSent  int
	}{
		{"success", [][]byte{withCode(tpm2.TPMRCSuccess)}, tpm2.TPMRCSuccess, 1},
		{"error", [][]byte{withCode(tpm2.TPMRCIntegrity)}, tpm2.TPMRCIntegrity, 1},
		{"retry", append(retries(tpm2.TPMRCRetry, 1), withCode(tpm2.TPMRCSuccess)), tpm2.TPMRCSuccess, 2},
		{"yielded then testing", [][]byte{withCode(tpm2.TPMRCYielded), withCode(tpm2.TPMRCTesting), withCode(tpm2.TPMRCSuccess)}, tpm2.TPMRCSuccess, 3},
		{"retry forever", retries(tpm2.TPMRCRetry, maxRetries+5), tpm2.TPMRCRetry, maxRetries + 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			addr, sent := serveCommands(t, c.responses...)
			tpm, err := dialTCP(addr)
			if err != nil {
				t.Fatal(err)
			}
			rsp, err := tpm.Send(response(headerSize, nil))
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			tpm.Close()
			if rc := tpm2.TPMRC(binary.BigEndian.Uint32(rsp[6:])); rc != c.wantRC {
				t.Errorf("response code %#x, want %#x", uint32(rc), uint32(c.wantRC))
			}
			if n := sent(); n != c.wantSent {
				t.Errorf("the command was sent %d times, want %d", n, c.wantSent)
			}
		})
	}
}

func TestCommandCounts(t *testing.T) {
	before := CommandCounts{1: 2, 2: 5}
	after := CommandCounts{1: 2, 2: 7, 3: 1}
	d := after.Sub(before)
	if len(d) != 2 || d[2] != 2 || d[3] != 1 || d.Total() != 3 {
		t.Errorf("Sub = %v, want map[2:2 3:1] (total 3)", d)
	}
}
