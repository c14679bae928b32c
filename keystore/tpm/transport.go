package tpm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
)

// DefaultDevice is the kernel's TPM resource manager, which lets several
// processes share the TPM and swaps their objects in and out.
const DefaultDevice = "/dev/tpmrm0"

// tcpPrefix marks a Device that is swtpm's raw command port or another
// simulator speaking bare TPM commands over TCP.
const tcpPrefix = "tcp:"

const (
	// headerSize is the size of a TPM command or response header: tag (2),
	// size (4), command or response code (4).
	headerSize = 10
	// maxResponseSize bounds what a TCP peer can make us allocate. TPM
	// responses are a few KiB (TPM_PT_MAX_RESPONSE_SIZE is 4 KiB on common
	// TPMs).
	maxResponseSize = 64 << 10
	// tcpCommandTimeout bounds one command round trip over TCP, so that a
	// peer that stops answering cannot hang the authenticator.
	tcpCommandTimeout = 30 * time.Second
)

// OpenDevice opens the TPM that device names, as Options.Device does: a
// device node such as DefaultDevice, or "tcp:HOST:PORT" for a raw TPM
// command port (swtpm). Errors say what to do (no TPM, no permission).
func OpenDevice(device string) (transport.TPMCloser, error) {
	if addr, ok := strings.CutPrefix(device, tcpPrefix); ok {
		return dialTCP(addr)
	}
	t, err := linuxtpm.Open(device)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w at %s (no TPM 2.0, or its driver is not loaded): use --keystore soft", ErrNoDevice, device)
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("%w: %s: add your user to group tss (sudo usermod -aG tss $USER, then log in again), or use --keystore soft", ErrDeviceAccess, device)
	case err != nil:
		return nil, fmt.Errorf("tpm: open %s: %w", device, err)
	}
	return t, nil
}

// tcpTPM sends raw TPM commands over a TCP connection, as swtpm's
// "--server type=tcp" port expects: the command bytes out, the response
// bytes back, framed only by the size in the TPM header. (go-tpm's tcp
// transport speaks the Microsoft simulator's framed protocol instead.) Not
// safe for concurrent use: the engine serialises its commands.
type tcpTPM struct {
	conn net.Conn
}

func dialTCP(addr string) (*tcpTPM, error) {
	conn, err := net.DialTimeout("tcp", addr, tcpCommandTimeout)
	if err != nil {
		return nil, fmt.Errorf("tpm: connect to %s: %w", addr, err)
	}
	return &tcpTPM{conn: conn}, nil
}

// Response codes that ask for the same command again (TPM 2.0 Part 2,
// 6.6.3); swtpm can answer TPM_RC_RETRY, e.g. to the first ECDSA signature
// after it starts. The kernel's TPM driver retries them for /dev/tpm*; on a
// TCP port the transport does, a bounded number of times.
var retryCodes = []tpm2.TPMRC{tpm2.TPMRCRetry, tpm2.TPMRCYielded, tpm2.TPMRCTesting}

const (
	maxRetries = 10
	firstRetry = time.Millisecond // doubled at each retry: 1 s in all at most
)

// Send implements transport.TPM.
func (t *tcpTPM) Send(cmd []byte) ([]byte, error) {
	delay := firstRetry
	for attempt := 0; ; attempt++ {
		rsp, err := t.roundTrip(cmd)
		if err != nil || attempt == maxRetries || !slices.Contains(retryCodes, tpm2.TPMRC(binary.BigEndian.Uint32(rsp[6:10]))) {
			return rsp, err
		}
		time.Sleep(delay)
		delay *= 2
	}
}

// roundTrip sends one command and reads its response.
func (t *tcpTPM) roundTrip(cmd []byte) ([]byte, error) {
	if err := t.conn.SetDeadline(time.Now().Add(tcpCommandTimeout)); err != nil {
		return nil, fmt.Errorf("tpm: tcp: %w", err)
	}
	if _, err := t.conn.Write(cmd); err != nil {
		return nil, fmt.Errorf("tpm: tcp: send command: %w", err)
	}
	hdr := make([]byte, headerSize)
	if _, err := io.ReadFull(t.conn, hdr); err != nil {
		return nil, fmt.Errorf("tpm: tcp: read response header: %w", err)
	}
	size := binary.BigEndian.Uint32(hdr[2:6])
	if size < headerSize || size > maxResponseSize {
		return nil, fmt.Errorf("tpm: tcp: bad response size %d", size)
	}
	rsp := make([]byte, size)
	copy(rsp, hdr)
	if _, err := io.ReadFull(t.conn, rsp[headerSize:]); err != nil {
		return nil, fmt.Errorf("tpm: tcp: read response: %w", err)
	}
	return rsp, nil
}

// Close implements transport.TPMCloser.
func (t *tcpTPM) Close() error { return t.conn.Close() }

// CommandCounts is how many commands of each command code were sent to the
// TPM, to show what an operation costs.
type CommandCounts map[tpm2.TPMCC]int

// Total is the number of commands of any code.
func (c CommandCounts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// Sub returns the commands sent since the snapshot before was taken.
func (c CommandCounts) Sub(before CommandCounts) CommandCounts {
	d := CommandCounts{}
	for cc, n := range c {
		if n -= before[cc]; n != 0 {
			d[cc] = n
		}
	}
	return d
}

// countingTPM counts the commands that pass through it by command code.
type countingTPM struct {
	next   transport.TPM
	mu     sync.Mutex
	counts CommandCounts
}

// Send implements transport.TPM.
func (c *countingTPM) Send(cmd []byte) ([]byte, error) {
	if len(cmd) >= headerSize {
		cc := tpm2.TPMCC(binary.BigEndian.Uint32(cmd[6:10]))
		c.mu.Lock()
		c.counts[cc]++
		c.mu.Unlock()
	}
	return c.next.Send(cmd)
}

func (c *countingTPM) snapshot() CommandCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := make(CommandCounts, len(c.counts))
	for cc, n := range c.counts {
		s[cc] = n
	}
	return s
}
