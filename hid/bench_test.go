package hid

import (
	"bytes"
	"context"
	"testing"
)

// benchmarkCBOR measures one CTAPHID_CBOR round trip of a request of size
// bytes through c to an echo handler.
func benchmarkCBOR(b *testing.B, c *Client, size int) {
	req := bytes.Repeat([]byte{0xa5}, size)
	req[0] = opEcho
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(size))
	for b.Loop() {
		resp, err := c.CBOR(ctx, req, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(resp) != size {
			b.Fatalf("response of %d bytes, want %d", len(resp), size)
		}
	}
}

// pipeClient serves an echo device on a pipe for the benchmark's duration.
func pipeClient(b *testing.B) *Client {
	host, dev := Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = NewDevice(newCBORHandler()).Serve(ctx, dev)
	}()
	c, err := NewClient(host)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cancel()
		<-done
		c.Close()
	})
	return c
}

// BenchmarkPipeCBOR is the framing cost of a small CTAP2 exchange (the size
// of a GetAssertion request) through the in-memory pipe.
func BenchmarkPipeCBOR(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"50B", 50}, {"200B", 200}, {"1KiB", 1024}} {
		b.Run(size.name, func(b *testing.B) { benchmarkCBOR(b, pipeClient(b), size.n) })
	}
}
