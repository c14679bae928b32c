package hid

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"
)

// pipeDepth is how many reports each direction of a Pipe buffers: more than
// the 129 packets of a largest message, so that neither side blocks on a
// whole message while the other is still writing.
const pipeDepth = 256

// Pipe returns the two ends of an in-memory transport: what one end writes,
// the other reads. Close on either end makes both ends' ReadReport return
// io.EOF once the reports already written have been read, and WriteReport
// fail. Reports are copied by value, so the pipe allocates nothing per
// report; the slice ReadReport returns is valid until the next ReadReport on
// the same end, and each end is meant for one reader at a time.
func Pipe() (host, device Transport) {
	toDevice := make(chan [ReportSize]byte, pipeDepth)
	toHost := make(chan [ReportSize]byte, pipeDepth)
	s := &pipeState{done: make(chan struct{})}
	return &pipeEnd{in: toHost, out: toDevice, state: s},
		&pipeEnd{in: toDevice, out: toHost, state: s}
}

// pipeState is shared by both ends: closed once, by whichever end first.
type pipeState struct {
	done chan struct{}
	once sync.Once
}

type pipeEnd struct {
	in    <-chan [ReportSize]byte
	out   chan<- [ReportSize]byte
	state *pipeState
	rbuf  [ReportSize]byte
}

var errPipeClosed = errors.New("hid: pipe closed")

// pollFor is how long ReadReport polls an empty pipe before it parks. The
// peer of a pipe is a goroutine of the same process that usually answers
// within tens of microseconds; waking a parked goroutine on another CPU can
// cost as much (a futex wake, more under virtualisation), and a request
// crosses the pipe twice. Polling briefly keeps the framing's cost near its
// CPU cost; an idle pipe still parks.
const pollFor = 100 * time.Microsecond

func (e *pipeEnd) ReadReport() ([]byte, error) {
	// Reports written before Close are still delivered: look at the queue
	// before looking at done.
	for deadline := time.Now().Add(pollFor); ; runtime.Gosched() {
		select {
		case e.rbuf = <-e.in:
			return e.rbuf[:], nil
		default:
		}
		if time.Now().After(deadline) {
			break
		}
	}
	select {
	case e.rbuf = <-e.in:
		return e.rbuf[:], nil
	case <-e.state.done:
		return nil, io.EOF
	}
}

func (e *pipeEnd) WriteReport(report []byte) error {
	if len(report) != ReportSize {
		return fmt.Errorf("hid: report of %d bytes, want %d", len(report), ReportSize)
	}
	select {
	case <-e.state.done:
		return errPipeClosed
	default:
	}
	// Single-case selects with a default are cheap; block on both channels
	// only when the queue is full.
	select {
	case e.out <- [ReportSize]byte(report):
		return nil
	default:
	}
	select {
	case e.out <- [ReportSize]byte(report):
		return nil
	case <-e.state.done:
		return errPipeClosed
	}
}

func (e *pipeEnd) Close() error {
	e.state.once.Do(func() { close(e.state.done) })
	return nil
}
