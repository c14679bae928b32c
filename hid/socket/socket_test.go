package socket

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vauth/vauth/hid"
)

// echo answers CBOR requests with status 0 and the request.
type echo struct{}

func (echo) HandleCBOR(ctx context.Context, req []byte, keepalive hid.Keepalive) []byte {
	return append([]byte{0}, req...)
}

// listen serves a device on a new socket until the test ends.
func listen(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vauth.sock")
	startDevice(t, path)
	return path
}

func dial(t testing.TB, path string) *hid.Client {
	t.Helper()
	tr, err := Dial(path)
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

func TestSeveralClients(t *testing.T) {
	path := listen(t)
	const clients, rounds = 4, 30
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		c := dial(t, path)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				// Sizes from one packet to several, so requests interleave.
				data := bytes.Repeat([]byte{byte(i), byte(r)}, 10+r*13)
				if err := retryBusy(func() error {
					got, err := c.Ping(context.Background(), data)
					if err == nil && !bytes.Equal(got, data) {
						err = fmt.Errorf("client %d got another echo", i)
					}
					return err
				}); err != nil {
					errs <- err
					return
				}
				if err := retryBusy(func() error {
					got, err := c.CBOR(context.Background(), data, nil)
					if err == nil && !bytes.Equal(got, append([]byte{0}, data...)) {
						err = fmt.Errorf("client %d got another CBOR response", i)
					}
					return err
				}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// retryBusy calls f until it does not fail with ERR_CHANNEL_BUSY, as a host
// sharing a device must.
func retryBusy(f func() error) error {
	for {
		err := f()
		if !errors.Is(err, hid.ErrChannelBusy) {
			return err
		}
		time.Sleep(time.Millisecond)
	}
}

func TestListen(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string)
		wantErr string
	}{
		{"fresh path", func(t *testing.T, path string) {}, ""},
		{"stale socket file", func(t *testing.T, path string) {
			l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
			if err != nil {
				t.Fatal(err)
			}
			l.SetUnlinkOnClose(false)
			l.Close()
		}, ""},
		{"someone listening", func(t *testing.T, path string) {
			l, err := Listen(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
		}, "another process is listening"},
		{"not a socket", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "not a socket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s")
			tt.prepare(t, path)
			l, err := Listen(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Listen: %v, want error %q", err, tt.wantErr)
				}
				if _, err := os.Lstat(path); err != nil {
					t.Fatalf("a failed Listen removed %s: %v", path, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(path)
			if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
				t.Fatalf("socket file %v, %v; want a socket with mode 0600", fi.Mode(), err)
			}
			entries, _ := os.ReadDir(filepath.Dir(path))
			if len(entries) != 1 {
				t.Fatalf("%d entries beside the socket, want none", len(entries)-1)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- Serve(ctx, l, hid.NewDevice(echo{})) }()
			c := dial(t, path)
			if _, err := c.Ping(context.Background(), []byte("hi")); err != nil {
				t.Fatal(err)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Serve: %v", err)
			}
			// Serve closed the listener, which removed the socket file, and
			// the connection.
			if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("socket file after Serve: %v", err)
			}
			if _, err := c.Ping(context.Background(), []byte("hi")); err == nil {
				t.Fatal("Ping after Serve ended succeeded")
			}
		})
	}
}

func TestCloseKeepsAReplacement(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("Close removed a file it did not create: %v", err)
	}
}

func TestWrongSizeMessagesDropped(t *testing.T) {
	var logs syncBuffer
	path := filepath.Join(t.TempDir(), "s")
	l, err := Listen(path, WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	if l.Path() != path {
		t.Fatalf("Path() = %q, want %q", l.Path(), path)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, l, hid.NewDevice(echo{})) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A broadcast CTAPHID_INIT, which the device answers at once.
	init := make([]byte, 1000)
	binary.BigEndian.PutUint32(init, hid.BroadcastCID)
	init[4], init[6] = 0x86, 8
	copy(init[7:], "nonce!!!")
	for _, n := range []int{1, 63, 65, 1000} {
		if _, err := c.Write(init[:n]); err != nil {
			t.Fatal(err)
		}
	}
	// The connection survives and the first answer is to a proper report.
	if _, err := c.Write(init[:hid.ReportSize]); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	resp := make([]byte, 128)
	n, err := c.Read(resp)
	if err != nil || n != hid.ReportSize || resp[4] != 0x86 || string(resp[7:15]) != "nonce!!!" {
		t.Fatalf("answer % x (%d bytes), %v; want the INIT answer", resp[:16], n, err)
	}
	if got := strings.Count(logs.String(), "dropped message"); got != 4 {
		t.Errorf("%d drops logged, want 4:\n%s", got, logs.String())
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
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

func TestServeListenerClosed(t *testing.T) {
	l, err := Listen(filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Serve(context.Background(), l, hid.NewDevice(echo{})) }()
	l.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Serve after the listener closed: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Serve did not return")
	}
}

func TestDialNobody(t *testing.T) {
	if _, err := Dial(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Fatal("Dial to nothing succeeded")
	}
}

func TestTransportErrors(t *testing.T) {
	path := listen(t)
	tr, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.WriteReport(make([]byte, 10)); err == nil {
		t.Error("WriteReport of 10 bytes succeeded")
	}
	tr.Close()
	if _, err := tr.ReadReport(); err == nil || !strings.Contains(err.Error(), "EOF") {
		t.Errorf("ReadReport after Close: %v, want EOF", err)
	}
}

// BenchmarkCBOR compares a small CTAPHID_CBOR round trip over the virtual
// cable with the same over the in-memory pipe.
func BenchmarkCBOR(b *testing.B) {
	ctx := context.Background()
	clients := map[string]func(b *testing.B) *hid.Client{
		"socket": func(b *testing.B) *hid.Client { return dial(b, listen(b)) },
		"pipe": func(b *testing.B) *hid.Client {
			host, dev := hid.Pipe()
			sctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = hid.NewDevice(echo{}).Serve(sctx, dev)
			}()
			c, err := hid.NewClient(host)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() {
				cancel()
				<-done
				c.Close()
			})
			return c
		},
	}
	for _, name := range []string{"pipe", "socket"} {
		b.Run(name, func(b *testing.B) {
			c := clients[name](b)
			req := bytes.Repeat([]byte{0xa5}, 200)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.CBOR(ctx, req, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
