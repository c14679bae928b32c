package hid

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// pipeDepth is how many reports each direction of a Pipe buffers: more than
// the 129 packets of a largest message, so that neither side blocks on a
// whole message while the other is still writing.
const pipeDepth = 256

// Pipe returns the two ends of an in-memory transport: what one end writes,
// the other reads. Close on either end makes both ends' ReadReport return
// io.EOF once the reports already written have been read, and WriteReport
// fail. Reports are copied into buffers the pipe reuses, so it allocates
// nothing per report; the slice ReadReport returns is valid until the next
// ReadReport on the same end, and each end is meant for one reader at a
// time. A whole message crosses in one hand-off (writeMessage uses
// WriteReports), and the reader takes every report waiting at once.
func Pipe() (host, device Transport) {
	toDevice, toHost := newPipeQueue(), newPipeQueue()
	s := &pipeState{done: make(chan struct{})}
	return &pipeEnd{in: toHost, out: toDevice, state: s},
		&pipeEnd{in: toDevice, out: toHost, state: s}
}

// pipeState is shared by both ends: closed once, by whichever end first.
type pipeState struct {
	done chan struct{}
	once sync.Once
}

// pipeQueue is one direction of a Pipe: the reports written and not yet
// taken by the reader.
type pipeQueue struct {
	mu      sync.Mutex
	reports [][ReportSize]byte
	n       atomic.Int32  // len(reports), for polling without the lock
	ready   chan struct{} // signalled after a write
	room    chan struct{} // signalled after the reader took reports
}

func newPipeQueue() *pipeQueue {
	return &pipeQueue{
		reports: make([][ReportSize]byte, 0, pipeDepth),
		ready:   make(chan struct{}, 1),
		room:    make(chan struct{}, 1),
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

type pipeEnd struct {
	in, out *pipeQueue
	state   *pipeState
	taken   [][ReportSize]byte // reports taken from in, served from next on
	next    int
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
	if e.next < len(e.taken) || e.take() {
		return e.serve(), nil
	}
	for deadline := time.Now().Add(pollFor); time.Now().Before(deadline); runtime.Gosched() {
		if e.in.n.Load() > 0 && e.take() {
			return e.serve(), nil
		}
	}
	for {
		// Reports written before Close are still delivered: look at the
		// queue before looking at done.
		if e.take() {
			return e.serve(), nil
		}
		select {
		case <-e.in.ready:
		case <-e.state.done:
			if e.take() {
				return e.serve(), nil
			}
			return nil, io.EOF
		}
	}
}

// serve returns the next report taken.
func (e *pipeEnd) serve() []byte {
	e.next++
	return e.taken[e.next-1][:]
}

// take moves every report waiting in e.in to e.taken, handing the buffer
// of the reports already served back to the writer, and reports whether
// there were any.
func (e *pipeEnd) take() bool {
	q := e.in
	q.mu.Lock()
	if len(q.reports) == 0 {
		q.mu.Unlock()
		return false
	}
	e.taken, q.reports = q.reports, e.taken[:0]
	q.n.Store(0)
	q.mu.Unlock()
	e.next = 0
	signal(q.room)
	return true
}

func (e *pipeEnd) WriteReport(report []byte) error {
	if len(report) != ReportSize {
		return fmt.Errorf("hid: report of %d bytes, want %d", len(report), ReportSize)
	}
	return e.WriteReports(report)
}

// WriteReports implements reportsWriter: the reports of one message, queued
// together. It blocks while the queue is too full to take them all (a
// batch longer than the queue goes in once it is empty).
func (e *pipeEnd) WriteReports(reports []byte) error {
	if len(reports)%ReportSize != 0 {
		return fmt.Errorf("hid: %d bytes is not a whole number of reports", len(reports))
	}
	q, k := e.out, len(reports)/ReportSize
	for {
		select {
		case <-e.state.done:
			return errPipeClosed
		default:
		}
		q.mu.Lock()
		if len(q.reports) == 0 || len(q.reports)+k <= pipeDepth {
			for r := range k {
				q.reports = append(q.reports, [ReportSize]byte(reports[r*ReportSize:]))
			}
			q.n.Store(int32(len(q.reports)))
			q.mu.Unlock()
			signal(q.ready)
			return nil
		}
		q.mu.Unlock()
		select {
		case <-q.room:
		case <-e.state.done:
			return errPipeClosed
		}
	}
}

func (e *pipeEnd) Close() error {
	e.state.once.Do(func() { close(e.state.done) })
	return nil
}
