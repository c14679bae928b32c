// Package socket is the virtual cable: CTAPHID reports over a Unix
// SOCK_SEQPACKET socket, one 64-byte report per message, for hosts that
// cannot use hidraw (containers, CI, tests). The device listens with Listen
// and Serve; a host connects with Dial and uses hid.NewClient on the result.
package socket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/vauth/vauth/hid"
)

type config struct {
	logger *slog.Logger
}

// Option configures a Listener or a dialled connection.
type Option func(*config)

// WithLogger sets where dropped messages and accept errors are logged (at
// debug and warning level). By default nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

func newConfig(opts []Option) config {
	c := config{logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// Listener is a listening virtual cable.
type Listener struct {
	l    *net.UnixListener
	path string
	file os.FileInfo // the socket file, to remove only our own on Close
	cfg  config

	closeOnce sync.Once
	closeErr  error
}

// Listen creates the socket at path, readable and writable by the owner
// only (mode 0600). A stale socket file that nobody listens on is replaced;
// if a process listens on path, or path is not a socket, Listen fails.
func Listen(path string, opts ...Option) (*Listener, error) {
	if err := checkStale(path); err != nil {
		return nil, err
	}
	// Bind in a private directory and rename into place, so the socket is
	// never reachable with looser permissions than 0600.
	dir, err := os.MkdirTemp(filepath.Dir(path), ".vs")
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "s")
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: tmp, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("socket: listen: %w", err)
	}
	l.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("socket: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		l.Close()
		return nil, fmt.Errorf("socket: %w", err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("socket: %w", err)
	}
	return &Listener{l: l, path: path, file: fi, cfg: newConfig(opts)}, nil
}

// checkStale makes path free for a new socket: absent, or a socket file
// that refuses connections, which it removes.
func checkStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("socket: %s exists and is not a socket", path)
	}
	c, err := net.Dial("unixpacket", path)
	if err == nil {
		c.Close()
		return fmt.Errorf("socket: another process is listening on %s", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("socket: probing %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("socket: removing stale %s: %w", path, err)
	}
	return nil
}

// Path returns the socket's path.
func (l *Listener) Path() string { return l.path }

// Accept waits for the next host and returns its connection.
func (l *Listener) Accept() (hid.Transport, error) {
	c, err := l.l.AcceptUnix()
	if err != nil {
		return nil, err
	}
	return newConn(c, l.cfg), nil
}

// Close stops listening and removes the socket file, unless another socket
// has replaced it meanwhile. Connections already accepted stay open.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() {
		l.closeErr = l.l.Close()
		if fi, err := os.Lstat(l.path); err == nil && os.SameFile(fi, l.file) {
			if err := os.Remove(l.path); err != nil && l.closeErr == nil {
				l.closeErr = err
			}
		}
	})
	return l.closeErr
}

// Dial connects to the virtual cable at path.
func Dial(path string, opts ...Option) (hid.Transport, error) {
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	return newConn(c, newConfig(opts)), nil
}

// Serve serves every connection l accepts with d, several at once, until
// ctx ends, and then returns nil. It closes l before it returns, and returns
// only once every connection's Serve has (they end with ctx, or when their
// host hangs up). An accept error other than running out of descriptors
// ends Serve with that error.
func Serve(ctx context.Context, l *Listener, d *hid.Device) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	defer l.Close() // waits for the Close that ctx started, if any
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var delay time.Duration
	for {
		t, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of descriptors: wait for some to be closed.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				l.cfg.logger.Warn("socket: accept failed; retrying", "err", err, "delay", delay)
				select {
				case <-time.After(delay):
					continue
				case <-ctx.Done():
					return nil
				}
			}
			return fmt.Errorf("socket: accept: %w", err)
		}
		delay = 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.Serve(ctx, t); err != nil {
				l.cfg.logger.Warn("socket: connection ended", "err", err)
			}
		}()
	}
}

// conn is one end of a connection, as a hid.Transport.
type conn struct {
	c    *net.UnixConn
	log  *slog.Logger
	rbuf [hid.ReportSize + 1]byte // one byte more shows an oversized message
}

func newConn(c *net.UnixConn, cfg config) *conn {
	return &conn{c: c, log: cfg.logger}
}

// ReadReport returns the next 64-byte message; messages of another size
// are logged and dropped. The slice is valid until the next ReadReport. A
// zero-length message reads as the end of the connection: the kernel reports
// both alike.
func (c *conn) ReadReport() ([]byte, error) {
	for {
		n, err := c.c.Read(c.rbuf[:])
		if err != nil {
			if errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) {
				return nil, io.EOF
			}
			return nil, err
		}
		switch {
		case n < hid.ReportSize:
			c.log.Debug("socket: dropped message shorter than a report", "size", n)
			continue
		case n > hid.ReportSize:
			c.log.Debug("socket: dropped message longer than a report")
			continue
		}
		return c.rbuf[:n], nil
	}
}

// WriteReport sends report as one message.
func (c *conn) WriteReport(report []byte) error {
	if len(report) != hid.ReportSize {
		return fmt.Errorf("socket: report of %d bytes, want %d", len(report), hid.ReportSize)
	}
	_, err := c.c.Write(report)
	return err
}

func (c *conn) Close() error { return c.c.Close() }
