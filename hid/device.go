package hid

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"
)

// Defaults of the Device timing options.
const (
	// DefaultMessageTimeout is how long the device waits for the next packet
	// of a request before it abandons the request with ERR_MSG_TIMEOUT.
	DefaultMessageTimeout = 500 * time.Millisecond
	// DefaultKeepaliveInterval is the period of CTAPHID_KEEPALIVE while a
	// command runs; the spec asks for at least one every 100 ms.
	DefaultKeepaliveInterval = 50 * time.Millisecond
)

// maxChannels bounds the channel table. Allocating past it reuses the least
// recently used channel, so hosts that never give their channels back (they
// cannot: CTAPHID has no command for it) do not grow the device's memory.
const maxChannels = 1024

type config struct {
	major, minor, build byte
	messageTimeout      time.Duration
	keepaliveInterval   time.Duration
	logger              *slog.Logger
}

// Option configures a Device.
type Option func(*config)

// WithVersion sets the device version (major, minor, build) that
// CTAPHID_INIT reports.
func WithVersion(major, minor, build byte) Option {
	return func(c *config) { c.major, c.minor, c.build = major, minor, build }
}

// WithMessageTimeout sets how long the device waits between the packets of
// a request before answering ERR_MSG_TIMEOUT (default
// DefaultMessageTimeout). Values <= 0 are ignored.
func WithMessageTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.messageTimeout = d
		}
	}
}

// WithKeepaliveInterval sets the CTAPHID_KEEPALIVE period while a command
// runs (default DefaultKeepaliveInterval). Values <= 0 are ignored.
func WithKeepaliveInterval(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.keepaliveInterval = d
		}
	}
}

// WithLogger sets where the device logs protocol errors and dropped input
// (at debug level) and handler faults (at error level). By default it logs
// nothing.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// Device is the device side of CTAPHID: it allocates channels, reassembles
// requests, runs one transaction at a time and frames the responses. Serve
// it on one or more transports at once; each transport is one host
// connection and owns the channels allocated through it.
type Device struct {
	handler      Handler
	msg          MsgHandler // nil: CTAPHID_MSG answers ERR_INVALID_CMD
	winker       Winker     // nil: CTAPHID_WINK answers ERR_INVALID_CMD
	cfg          config
	capabilities byte
	log          *slog.Logger

	mu          sync.Mutex
	channels    map[uint32]*channel
	useCount    uint64           // ticks on every use of a channel, for LRU reuse
	maxChannels int              // maxChannels; tests lower it
	now         func() time.Time // clock of CTAPHID_LOCK; tests replace it
	tx          *transaction     // the transaction in progress; nil when idle
	rxTimer     *time.Timer      // fires ERR_MSG_TIMEOUT for a request being received
	rxArmed     bool             // rxTimer is set to run
	lockCID     uint32           // channel holding CTAPHID_LOCK; 0 if none
	lockUntil   time.Time        // when that lock lapses
}

// channel is an allocated CID: the connection it belongs to and when it was
// last used.
type channel struct {
	conn     *conn
	lastUsed uint64
}

type txState int

const (
	receiving txState = iota // packets of the request are arriving
	running                  // the request is complete and being processed
)

// transaction is the one request the device is busy with.
type transaction struct {
	conn     *conn
	cid      uint32
	cmd      byte
	state    txState
	data     []byte    // the request payload, len(data) <= need
	need     int       // BCNT of the request
	seq      byte      // next expected continuation sequence number
	deadline time.Time // receiving: when ERR_MSG_TIMEOUT is due

	// running: the context CTAPHID_CANCEL cancels and the keepalive status.
	ctx    context.Context
	cancel context.CancelFunc
	status byte
}

// conn is one transport being served.
type conn struct {
	d         *Device
	t         Transport
	ctx       context.Context
	work      chan *transaction // commands for the handler, run in order
	done      chan struct{}     // closed when the command goroutine has ended
	keepalive *time.Timer

	wmu  sync.Mutex // serialises whole messages on t
	wbuf []byte
}

// reply is one message for the host.
type reply struct {
	cid  uint32
	cmd  byte
	data []byte
}

// errPayload[c] == c, so error replies need no allocation.
var errPayload = func() (b [256]byte) {
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

func errorReply(cid uint32, code ErrorCode) reply {
	return reply{cid: cid, cmd: cmdError, data: errPayload[code : code+1]}
}

// NewDevice returns a device that passes CTAPHID_CBOR messages to h, and
// CTAPHID_MSG and CTAPHID_WINK to h too when it implements MsgHandler and
// Winker.
func NewDevice(h Handler, opts ...Option) *Device {
	cfg := config{
		messageTimeout:    DefaultMessageTimeout,
		keepaliveInterval: DefaultKeepaliveInterval,
		logger:            slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(&cfg)
	}
	d := &Device{
		handler:      h,
		cfg:          cfg,
		log:          cfg.logger,
		capabilities: CapabilityCBOR,
		channels:     make(map[uint32]*channel),
		maxChannels:  maxChannels,
		now:          time.Now,
	}
	if m, ok := h.(MsgHandler); ok {
		d.msg = m
	} else {
		d.capabilities |= CapabilityNMSG
	}
	if w, ok := h.(Winker); ok {
		d.winker = w
		d.capabilities |= CapabilityWink
	}
	if c, ok := h.(CBORServer); ok && !c.ServesCBOR() {
		d.capabilities &^= CapabilityCBOR
	}
	return d
}

// Serve answers the host on t until ctx ends or t reports io.EOF, and then
// returns nil; other read errors are returned. Serve owns t: it closes t
// when ctx ends (to interrupt ReadReport) and before it returns. On return
// it cancels the command running for t's channels, frees those channels and
// releases a CTAPHID_LOCK held through them. Serve may run for several
// transports at once; the device still runs one transaction at a time.
//
// Serve reads t from one goroutine and keeps no report after handling it,
// so t may reuse its read buffer; t must not keep the slice passed to
// WriteReport after the call.
func (d *Device) Serve(ctx context.Context, t Transport) error {
	ctx, cancel := context.WithCancel(ctx)
	c := &conn{
		d:    d,
		t:    t,
		ctx:  ctx,
		work: make(chan *transaction, 1),
		done: make(chan struct{}),
	}
	c.keepalive = time.AfterFunc(time.Hour, c.keepaliveTick)
	c.keepalive.Stop()
	stopClose := context.AfterFunc(ctx, func() { t.Close() })
	go c.runCommands()
	defer func() {
		stopClose()
		d.drop(c)
		cancel()
		t.Close() // before waiting: it unblocks a handler's response stuck in a write
		close(c.work)
		<-c.done
		c.keepalive.Stop()
	}()
	for {
		r, err := t.ReadReport()
		if err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		if len(r) != ReportSize {
			d.log.Debug("ctaphid: dropped report of wrong size", "size", len(r))
			continue
		}
		if out, ok := d.receive(c, r); ok {
			c.send(out)
		}
	}
}

// drop forgets a connection that is going away: its transaction, its lock
// and its channels.
func (d *Device) drop(c *conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tx != nil && d.tx.conn == c {
		d.abort()
	}
	if ch := d.channels[d.lockCID]; ch != nil && ch.conn == c {
		d.lockCID = 0
	}
	for cid, ch := range d.channels {
		if ch.conn == c {
			delete(d.channels, cid)
		}
	}
}

// receive runs one report through the state machine and returns the reply
// to send on the same connection, if any.
func (d *Device) receive(c *conn, r []byte) (reply, bool) {
	cid := binary.BigEndian.Uint32(r)
	d.mu.Lock()
	defer d.mu.Unlock()
	if r[4]&typeInit == 0 {
		return d.continuation(c, cid, r[4], r[contHeader:])
	}
	cmd := r[4]
	bcnt := int(binary.BigEndian.Uint16(r[5:]))
	data := r[initHeader:]

	if cmd == cmdCancel {
		// The device never answers CTAPHID_CANCEL, whatever its channel.
		if ch := d.channels[cid]; ch != nil && ch.conn == c {
			d.cancel(cid)
		}
		return reply{}, false
	}
	switch cid {
	case 0:
		d.log.Debug("ctaphid: request on channel 0", "cmd", cmd)
		return errorReply(cid, ErrInvalidChannel), true
	case BroadcastCID:
		if cmd != cmdInit {
			d.log.Debug("ctaphid: non-INIT request on the broadcast channel", "cmd", cmd)
			return errorReply(cid, ErrInvalidChannel), true
		}
		// Allocation disturbs no transaction, so it is answered even while
		// the device is busy or locked.
		if bcnt != initNonceSize {
			return errorReply(cid, ErrInvalidLen), true
		}
		return reply{cid: cid, cmd: cmdInit, data: d.initResponse(data, d.allocate(c))}, true
	}
	// Channels are strict, as on OpenSK: only a CID this device allocated
	// to this connection is served. The table lives in memory, so after a
	// restart (a new Device, a new daemon on the same socket path) every
	// old CID is ERR_INVALID_CHANNEL, and a host recovers with CTAPHID_INIT
	// on the broadcast channel, as hid.Client does by itself.
	ch := d.channels[cid]
	if ch == nil || ch.conn != c {
		d.log.Debug("ctaphid: request on a channel not allocated to this host", "cid", cid, "cmd", cmd)
		return errorReply(cid, ErrInvalidChannel), true
	}
	d.useCount++
	ch.lastUsed = d.useCount

	if cmd == cmdInit {
		return d.resync(cid, bcnt, data)
	}
	if d.lockedOut(cid) {
		return errorReply(cid, ErrChannelBusy), true
	}
	if tx := d.tx; tx != nil {
		if tx.cid == cid && tx.state == receiving {
			// A new request before the last one was complete.
			d.abort()
			return errorReply(cid, ErrInvalidSeq), true
		}
		return errorReply(cid, ErrChannelBusy), true
	}
	if bcnt > MaxMessageSize {
		return errorReply(cid, ErrInvalidLen), true
	}
	if code := d.check(cmd, bcnt); code != 0 {
		return errorReply(cid, code), true
	}
	tx := &transaction{conn: c, cid: cid, cmd: cmd, need: bcnt, data: make([]byte, 0, bcnt)}
	tx.data = append(tx.data, data[:min(bcnt, len(data))]...)
	d.tx = tx
	if len(tx.data) == tx.need {
		return d.dispatch(tx)
	}
	d.armMessageTimeout(tx)
	return reply{}, false
}

// continuation adds a continuation packet to the request being received.
// Spurious continuation packets (for no request, or for a request on
// another channel) are ignored, as the spec says.
func (d *Device) continuation(c *conn, cid uint32, seq byte, data []byte) (reply, bool) {
	tx := d.tx
	if tx == nil || tx.state != receiving || tx.cid != cid || tx.conn != c {
		d.log.Debug("ctaphid: ignored spurious continuation packet", "cid", cid, "seq", seq)
		return reply{}, false
	}
	if seq != tx.seq {
		d.abort()
		return errorReply(cid, ErrInvalidSeq), true
	}
	tx.seq++
	tx.data = append(tx.data, data[:min(tx.need-len(tx.data), len(data))]...)
	if len(tx.data) == tx.need {
		return d.dispatch(tx)
	}
	d.armMessageTimeout(tx)
	return reply{}, false
}

// check answers whether the device takes command cmd with a BCNT of bcnt.
func (d *Device) check(cmd byte, bcnt int) ErrorCode {
	if cmd == cmdCBOR && d.capabilities&CapabilityCBOR == 0 {
		return ErrInvalidCmd // a U2F-only device (CBORServer)
	}
	switch cmd {
	case cmdPing:
		return 0
	case cmdCBOR:
		// CTAP 2.1 §11.2.9.1.2: BCNT 1..n+1, the CTAP command byte at least.
		if bcnt == 0 {
			return ErrInvalidLen
		}
		return 0
	case cmdMsg:
		if d.msg == nil {
			return ErrInvalidCmd
		}
		// §11.2.9.1.1: BCNT 1..n+1 too; an empty MSG carries no APDU to
		// answer with a status word.
		if bcnt == 0 {
			return ErrInvalidLen
		}
		return 0
	case cmdWink:
		if d.winker == nil {
			return ErrInvalidCmd
		}
		if bcnt != 0 {
			return ErrInvalidLen
		}
		return 0
	case cmdLock:
		if bcnt != 1 {
			return ErrInvalidLen
		}
		return 0
	default:
		// Includes KEEPALIVE and ERROR, which only a device sends, and the
		// vendor range, of which this device implements nothing.
		return ErrInvalidCmd
	}
}

// dispatch acts on a complete request. PING and LOCK are answered at once;
// WINK, CBOR and MSG go to the connection's command goroutine.
func (d *Device) dispatch(tx *transaction) (reply, bool) {
	switch tx.cmd {
	case cmdPing:
		d.tx = nil
		return reply{cid: tx.cid, cmd: cmdPing, data: tx.data}, true
	case cmdLock:
		d.tx = nil
		seconds := tx.data[0]
		switch {
		case seconds > maxLockSeconds:
			return errorReply(tx.cid, ErrInvalidPar), true
		case seconds == 0:
			if d.lockCID == tx.cid {
				d.lockCID = 0
			}
		default:
			d.lockCID = tx.cid
			d.lockUntil = d.now().Add(time.Duration(seconds) * time.Second)
		}
		return reply{cid: tx.cid, cmd: cmdLock}, true
	}
	tx.state = running
	tx.status = StatusProcessing
	tx.ctx, tx.cancel = context.WithCancel(tx.conn.ctx)
	select {
	case tx.conn.work <- tx:
		return reply{}, false
	default:
		// The command goroutine is still in a handler abandoned by a resync
		// and has another command queued already.
		d.tx = nil
		tx.cancel()
		return errorReply(tx.cid, ErrChannelBusy), true
	}
}

// resync answers CTAPHID_INIT on an allocated channel: it aborts the
// channel's transaction and lock and confirms the channel.
func (d *Device) resync(cid uint32, bcnt int, nonce []byte) (reply, bool) {
	if bcnt != initNonceSize {
		return errorReply(cid, ErrInvalidLen), true
	}
	if d.lockedOut(cid) || (d.tx != nil && d.tx.cid != cid) {
		return errorReply(cid, ErrChannelBusy), true
	}
	if d.tx != nil {
		d.abort()
	}
	if d.lockCID == cid {
		d.lockCID = 0
	}
	return reply{cid: cid, cmd: cmdInit, data: d.initResponse(nonce, cid)}, true
}

// cancel handles CTAPHID_CANCEL on an allocated channel: a request being
// received is dropped, a running command's context is cancelled (its
// response, normally CTAP2_ERR_KEEPALIVE_CANCEL, still goes out), anything
// else is ignored.
func (d *Device) cancel(cid uint32) {
	tx := d.tx
	switch {
	case tx == nil || tx.cid != cid:
	case tx.state == receiving:
		d.abort()
	default:
		tx.cancel()
	}
}

// abort ends the transaction in progress without a response.
func (d *Device) abort() {
	if d.tx.cancel != nil {
		d.tx.cancel()
	}
	d.tx = nil
}

// lockedOut reports whether another channel than cid holds CTAPHID_LOCK.
func (d *Device) lockedOut(cid uint32) bool {
	if d.lockCID == 0 {
		return false
	}
	if !d.now().Before(d.lockUntil) {
		d.lockCID = 0
		return false
	}
	return d.lockCID != cid
}

// allocate gives connection c a fresh channel, reusing the least recently
// used one when the table is full.
func (d *Device) allocate(c *conn) uint32 {
	if len(d.channels) >= d.maxChannels {
		var victim uint32
		oldest := ^uint64(0)
		for cid, ch := range d.channels {
			inUse := cid == d.lockCID || (d.tx != nil && d.tx.cid == cid)
			if !inUse && ch.lastUsed < oldest {
				victim, oldest = cid, ch.lastUsed
			}
		}
		delete(d.channels, victim)
	}
	var cid uint32
	for {
		cid = rand.Uint32()
		if cid != 0 && cid != BroadcastCID && d.channels[cid] == nil {
			break
		}
	}
	d.useCount++
	d.channels[cid] = &channel{conn: c, lastUsed: d.useCount}
	return cid
}

// initResponse is the CTAPHID_INIT response payload.
func (d *Device) initResponse(nonce []byte, cid uint32) []byte {
	b := make([]byte, initResponseSize)
	copy(b, nonce[:initNonceSize])
	binary.BigEndian.PutUint32(b[8:], cid)
	b[12] = ProtocolVersion
	b[13], b[14], b[15] = d.cfg.major, d.cfg.minor, d.cfg.build
	b[16] = d.capabilities
	return b
}

// armMessageTimeout (re)starts the wait for the next packet of tx. The
// timer is only moved when it is not running: a run that comes before the
// deadline sets itself again for the rest.
func (d *Device) armMessageTimeout(tx *transaction) {
	tx.deadline = time.Now().Add(d.cfg.messageTimeout)
	switch {
	case d.rxTimer == nil:
		d.rxTimer = time.AfterFunc(d.cfg.messageTimeout, d.messageTimeout)
	case !d.rxArmed:
		d.rxTimer.Reset(d.cfg.messageTimeout)
	}
	d.rxArmed = true
}

// messageTimeout abandons a request whose next packet is overdue.
func (d *Device) messageTimeout() {
	d.mu.Lock()
	tx := d.tx
	if tx == nil || tx.state != receiving {
		d.rxArmed = false
		d.mu.Unlock()
		return
	}
	if wait := time.Until(tx.deadline); wait > 0 {
		d.rxTimer.Reset(wait)
		d.mu.Unlock()
		return
	}
	d.rxArmed = false
	d.tx = nil
	d.mu.Unlock()
	d.log.Debug("ctaphid: request timed out", "cid", tx.cid, "received", len(tx.data), "expected", tx.need)
	tx.conn.send(errorReply(tx.cid, ErrMsgTimeout))
}

// send writes one message to the connection's transport.
func (c *conn) send(r reply) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.write(r)
}

// write is send with c.wmu held.
func (c *conn) write(r reply) {
	if err := writeMessage(c.t, &c.wbuf, r.cid, r.cmd, r.data); err != nil {
		c.d.log.Debug("ctaphid: write failed", "cid", r.cid, "err", err)
	}
}

// runCommands runs the connection's WINK, CBOR and MSG commands, one at a
// time, until Serve closes c.work.
func (c *conn) runCommands() {
	defer close(c.done)
	for tx := range c.work {
		c.run(tx)
	}
}

func (c *conn) run(tx *transaction) {
	d := c.d
	defer tx.cancel()
	d.mu.Lock()
	abandoned := d.tx != tx
	d.mu.Unlock()
	if abandoned {
		return // resynchronised or cancelled before it started
	}
	out := reply{cid: tx.cid, cmd: tx.cmd}
	ok := c.call(tx, &out.data)
	if !ok || (tx.cmd != cmdWink && (len(out.data) == 0 || len(out.data) > MaxMessageSize)) {
		if ok {
			d.log.Error("ctaphid: handler response cannot be sent", "cmd", tx.cmd, "size", len(out.data))
		}
		out = errorReply(tx.cid, ErrOther)
	}
	// The device goes idle before the response is written, so that a host
	// may send its next request as soon as it has read this one; c.wmu keeps
	// any later message on c behind the response.
	c.wmu.Lock()
	defer c.wmu.Unlock()
	d.mu.Lock()
	current := d.tx == tx
	if current {
		d.tx = nil
	}
	d.mu.Unlock()
	if current {
		c.write(out)
	}
}

// call runs the handler for tx, with keepalives for CBOR and MSG, and stores
// its response in resp. A handler that panics is logged and reported as not
// ok (the named result stays false), so that one bad request does not take
// the device down.
func (c *conn) call(tx *transaction, resp *[]byte) (ok bool) {
	d := c.d
	defer func() {
		c.keepalive.Stop()
		if p := recover(); p != nil {
			d.log.Error("ctaphid: handler panicked", "cmd", tx.cmd, "panic", p, "stack", string(debug.Stack()))
		}
	}()
	switch tx.cmd {
	case cmdWink:
		d.winker.Wink()
	case cmdCBOR:
		c.keepalive.Reset(d.cfg.keepaliveInterval)
		*resp = d.handler.HandleCBOR(tx.ctx, tx.data, c.keepaliveFunc(tx))
	case cmdMsg:
		c.keepalive.Reset(d.cfg.keepaliveInterval)
		*resp = d.msg.HandleMsg(tx.ctx, tx.data, c.keepaliveFunc(tx))
	}
	return true
}

// keepaliveFunc is the Keepalive given to the handler running tx: it
// records the status, which the next periodic CTAPHID_KEEPALIVE carries. It
// sends nothing itself, so a user presence answered at once (CI, or a
// presence cached in a token) never shows the host UPNEEDED.
func (c *conn) keepaliveFunc(tx *transaction) Keepalive {
	return func(status byte) {
		c.d.mu.Lock()
		tx.status = status
		c.d.mu.Unlock()
	}
}

// keepaliveTick sends the periodic CTAPHID_KEEPALIVE while a command runs.
func (c *conn) keepaliveTick() {
	if c.sendKeepalive() {
		c.keepalive.Reset(c.d.cfg.keepaliveInterval)
	}
}

// sendKeepalive sends CTAPHID_KEEPALIVE for the device's transaction if it
// is a running CBOR or MSG command of this connection, and reports whether
// it was.
func (c *conn) sendKeepalive() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	d := c.d
	d.mu.Lock()
	tx := d.tx
	ok := tx != nil && tx.conn == c && tx.state == running && tx.cmd != cmdWink
	var cid uint32
	var status byte
	if ok {
		cid, status = tx.cid, tx.status
	}
	d.mu.Unlock()
	if ok {
		c.write(reply{cid: cid, cmd: cmdKeepalive, data: []byte{status}})
	}
	return ok
}
