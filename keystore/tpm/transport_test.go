package tpm

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
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

func TestCommandCounts(t *testing.T) {
	before := CommandCounts{1: 2, 2: 5}
	after := CommandCounts{1: 2, 2: 7, 3: 1}
	d := after.Sub(before)
	if len(d) != 2 || d[2] != 2 || d[3] != 1 || d.Total() != 3 {
		t.Errorf("Sub = %v, want map[2:2 3:1] (total 3)", d)
	}
}
