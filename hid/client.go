package hid

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Client timing. A device must answer CTAPHID_INIT promptly, and must answer
// a cancelled command promptly too (with CTAP2_ERR_KEEPALIVE_CANCEL for
// CBOR); past these the client gives up and closes its transport, because a
// report it can no longer wait for could only be read as the answer to a
// later request.
const (
	initTimeout = 5 * time.Second
	cancelGrace = 5 * time.Second
)

// Client is the host side of CTAPHID on one channel of a device. It is meant
// for one goroutine at a time: each method sends a request and reads until
// its response. Close may be called from any goroutine, and interrupts a
// call in progress.
type Client struct {
	t            Transport
	cid          uint32
	protocol     byte
	version      [3]byte
	capabilities byte
	grace        time.Duration // cancelGrace; tests shorten it

	wmu    sync.Mutex // serialises writes: a request and a CANCEL sent from a context callback
	wbuf   []byte
	closed atomic.Bool // set by Close and by giving up on an answer
}

// ErrClientClosed is returned by calls on a closed Client.
var ErrClientClosed = errors.New("ctaphid: client closed")

// NewClient allocates a channel on the device at the other end of t with
// CTAPHID_INIT on the broadcast channel (random nonce, checked echo). The
// client owns t: Close closes it, and so does a failed NewClient.
func NewClient(t Transport) (*Client, error) {
	c := &Client{t: t, grace: cancelGrace}
	if err := c.init(); err != nil {
		t.Close()
		return nil, err
	}
	return c, nil
}

// init allocates a new channel with CTAPHID_INIT on the broadcast channel
// and records what the device reports about itself. On failure the client
// keeps the channel it had.
func (c *Client) init() (err error) {
	var nonce [initNonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), initTimeout)
	defer cancel()
	old := c.cid
	defer func() {
		if err != nil {
			c.cid = old
		}
	}()
	c.cid = BroadcastCID
	resp, err := c.transactOnce(ctx, cmdInit, nonce[:], nil, func(r []byte) bool {
		return len(r) >= initNonceSize && [initNonceSize]byte(r) == nonce
	})
	if err != nil {
		return fmt.Errorf("ctaphid: INIT: %w", err)
	}
	if len(resp) < initResponseSize {
		return fmt.Errorf("ctaphid: INIT response of %d bytes", len(resp))
	}
	cid := binary.BigEndian.Uint32(resp[8:])
	if cid == 0 || cid == BroadcastCID {
		return fmt.Errorf("ctaphid: device allocated channel 0x%08x", cid)
	}
	c.cid = cid
	c.protocol = resp[12]
	c.version = [3]byte(resp[13:16])
	c.capabilities = resp[16]
	return nil
}

// Channel returns the channel ID the device allocated to this client; it
// changes when the client re-initialises after ERR_INVALID_CHANNEL.
func (c *Client) Channel() uint32 { return c.cid }

// ProtocolVersion returns the CTAPHID protocol version the device reported.
func (c *Client) ProtocolVersion() byte { return c.protocol }

// DeviceVersion returns the device version the device reported.
func (c *Client) DeviceVersion() (major, minor, build byte) {
	return c.version[0], c.version[1], c.version[2]
}

// Capabilities returns the device's capability flags (CapabilityWink,
// CapabilityCBOR, CapabilityNMSG).
func (c *Client) Capabilities() byte { return c.capabilities }

// Ping sends data with CTAPHID_PING and returns what the device echoed.
func (c *Client) Ping(ctx context.Context, data []byte) ([]byte, error) {
	return c.transact(ctx, cmdPing, data, nil)
}

// CBOR sends a CTAPHID_CBOR request (CTAP command byte and parameters) and
// returns the response (status byte and CBOR). onKeepalive, if not nil, gets
// the status of every CTAPHID_KEEPALIVE meanwhile. If ctx ends first, CBOR
// sends CTAPHID_CANCEL and still returns the device's answer, normally the
// status CTAP2_ERR_KEEPALIVE_CANCEL. (Whatever the command, a device that
// has not answered 5 s after ctx ended is given up: the client closes and
// the call returns ctx's error.)
func (c *Client) CBOR(ctx context.Context, req []byte, onKeepalive func(status byte)) ([]byte, error) {
	return c.transact(ctx, cmdCBOR, req, onKeepalive)
}

// Msg sends a CTAPHID_MSG request (a U2F/CTAP1 APDU) and returns the
// response APDU. If ctx ends first it cancels like CBOR.
func (c *Client) Msg(ctx context.Context, apdu []byte) ([]byte, error) {
	return c.transact(ctx, cmdMsg, apdu, nil)
}

// Wink asks the device to identify itself (CTAPHID_WINK).
func (c *Client) Wink(ctx context.Context) error {
	_, err := c.transact(ctx, cmdWink, nil, nil)
	return err
}

// Lock reserves the device for this channel for seconds (at most 10; 0
// releases the lock) with CTAPHID_LOCK.
func (c *Client) Lock(ctx context.Context, seconds byte) error {
	_, err := c.transact(ctx, cmdLock, []byte{seconds}, nil)
	return err
}

// Close closes the transport; a call in progress returns an error.
func (c *Client) Close() error {
	c.closed.Store(true)
	return c.t.Close()
}

// transact sends one request and reads its response. A device that no
// longer knows the client's channel (it restarted behind a transport that
// survived, or gave the channel to another host when its table was full)
// answers ERR_INVALID_CHANNEL without acting on the request: the client
// then allocates a new channel and sends the request once more, as a host
// that re-initialises would (CTAP 2.1 §11.2.9.1.3).
func (c *Client) transact(ctx context.Context, cmd byte, data []byte, onKeepalive func(byte)) ([]byte, error) {
	resp, err := c.transactOnce(ctx, cmd, data, onKeepalive, nil)
	if !errors.Is(err, ErrInvalidChannel) {
		return resp, err
	}
	if ierr := c.init(); ierr != nil {
		return nil, fmt.Errorf("%w; allocating a new channel: %w", err, ierr)
	}
	return c.transactOnce(ctx, cmd, data, onKeepalive, nil)
}

// transactOnce sends one request on the client's channel and reads its
// response. accept, if not nil, filters responses (INIT on the broadcast
// channel may carry other hosts' answers); a response it rejects is
// skipped.
func (c *Client) transactOnce(ctx context.Context, cmd byte, data []byte, onKeepalive func(byte), accept func([]byte) bool) ([]byte, error) {
	if c.closed.Load() {
		return nil, ErrClientClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(data) > MaxMessageSize {
		return nil, fmt.Errorf("ctaphid: request of %d bytes exceeds %d", len(data), MaxMessageSize)
	}
	c.wmu.Lock()
	err := writeMessage(c.t, &c.wbuf, c.cid, cmd, data)
	c.wmu.Unlock()
	if err != nil {
		return nil, c.ioError(err)
	}
	if ctx.Done() != nil {
		w := c.watch(ctx, cmd)
		defer w.stop()
	}
	for {
		resp, err := c.readMessage(cmd, onKeepalive)
		if err != nil {
			if ctx.Err() != nil && c.closed.Load() {
				return nil, fmt.Errorf("ctaphid: no answer before the context ended: %w", ctx.Err())
			}
			return nil, err
		}
		if accept == nil || accept(resp) {
			return resp, nil
		}
	}
}

// watcher acts on the end of a request's context: it sends CTAPHID_CANCEL
// for CBOR and MSG, and closes the client if no answer comes within the
// grace period (at once for INIT, whose context is NewClient's own timeout).
type watcher struct {
	stopCtx func() bool
	fired   chan struct{} // closed when the context callback has finished
	grace   *time.Timer   // set by the callback
}

func (c *Client) watch(ctx context.Context, cmd byte) *watcher {
	grace := c.grace
	if cmd == cmdInit {
		grace = 0
	}
	w := &watcher{fired: make(chan struct{})}
	w.stopCtx = context.AfterFunc(ctx, func() {
		defer close(w.fired)
		w.grace = time.AfterFunc(grace, func() { c.Close() })
		if cmd == cmdCBOR || cmd == cmdMsg {
			c.wmu.Lock()
			_ = writeMessage(c.t, &c.wbuf, c.cid, cmdCancel, nil)
			c.wmu.Unlock()
		}
	})
	return w
}

// stop ends the watch. If the callback has started, stop waits for it, so
// that a CANCEL it sends cannot reach the device after the next request.
func (w *watcher) stop() {
	if w.stopCtx() {
		return // the callback never ran and never will
	}
	<-w.fired
	w.grace.Stop()
}

// readMessage reads reports until a complete response to cmd on the
// client's channel, skipping other channels' traffic and reporting
// keepalives.
func (c *Client) readMessage(cmd byte, onKeepalive func(byte)) ([]byte, error) {
	var (
		resp []byte
		seq  byte
	)
	for {
		r, err := c.t.ReadReport()
		if err != nil {
			return nil, c.ioError(err)
		}
		if len(r) != ReportSize || binary.BigEndian.Uint32(r) != c.cid {
			continue
		}
		if r[4]&typeInit == 0 {
			if resp == nil {
				continue // a continuation of nothing we asked for
			}
			if r[4] != seq {
				return nil, fmt.Errorf("ctaphid: response packet %d out of sequence, want %d", r[4], seq)
			}
			seq++
			resp = append(resp, r[contHeader:][:min(contData, cap(resp)-len(resp))]...)
			if len(resp) == cap(resp) {
				return resp, nil
			}
			continue
		}
		if resp != nil {
			return nil, fmt.Errorf("ctaphid: new message (command 0x%02x) inside a response", r[4])
		}
		n := int(binary.BigEndian.Uint16(r[5:]))
		switch r[4] {
		case cmdKeepalive:
			if onKeepalive != nil && n >= 1 {
				onKeepalive(r[initHeader])
			}
			continue
		case cmdError:
			if n < 1 {
				return nil, errors.New("ctaphid: empty ERROR response")
			}
			return nil, &Error{Code: ErrorCode(r[initHeader])}
		case cmd:
		default:
			return nil, fmt.Errorf("ctaphid: response command 0x%02x to request 0x%02x", r[4], cmd)
		}
		if n > MaxMessageSize {
			return nil, fmt.Errorf("ctaphid: response length %d exceeds %d", n, MaxMessageSize)
		}
		resp = make([]byte, 0, n)
		resp = append(resp, r[initHeader:][:min(initData, n)]...)
		if len(resp) == n {
			return resp, nil
		}
	}
}

// ioError turns a transport error into the client's error.
func (c *Client) ioError(err error) error {
	if c.closed.Load() {
		return fmt.Errorf("%w: %w", ErrClientClosed, err)
	}
	return fmt.Errorf("ctaphid: transport: %w", err)
}
