package presence

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/vauth/vauth/ctap2"
)

const nameTerminal = "terminal"

// maxAnswerBytes bounds one line of terminal input; longer lines are cut and
// count as "no".
const maxAnswerBytes = 256

// answer is one line read from the terminal and when it arrived.
type answer struct {
	text string
	at   time.Time
}

// terminal asks on a text stream; see Terminal.
type terminal struct {
	in      io.Reader
	out     io.Writer
	timeout time.Duration

	turn    chan struct{} // holds a token while nobody is prompting
	startRd sync.Once
	answers chan answer // fed by the one reader goroutine; closed at end of input
}

// Terminal asks on a text stream: it writes a line naming the operation, the
// site and the account to out, ending in the question "Allow?" with the
// choices y/N, and reads the answer from in ("y" or "yes" approves, anything
// else denies). It returns ctap2.ErrTimeout when no answer comes within
// timeout (zero means DefaultTimeout), and ctx.Err() as soon as ctx is
// cancelled. Prompts are shown one at a time.
//
// One goroutine reads in, line by line, for the Terminal's whole life (a
// blocked Read cannot be interrupted), and ends at end of input. A line that
// arrived before a prompt was shown, such as a late answer to a prompt that
// timed out, is discarded rather than taken as the answer to the next one.
// After end of input every prompt is denied.
func Terminal(in io.Reader, out io.Writer, timeout time.Duration) ctap2.Presence {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	t := &terminal{
		in:      in,
		out:     out,
		timeout: timeout,
		turn:    make(chan struct{}, 1),
		answers: make(chan answer),
	}
	t.turn <- struct{}{}
	return t
}

// Confirm shows one prompt and waits for its answer.
func (t *terminal) Confirm(ctx context.Context, req ctap2.PresenceRequest) error {
	deadline := time.NewTimer(t.timeout)
	defer deadline.Stop()
	select {
	case <-t.turn:
	case <-ctx.Done():
		return ctx.Err()
	case <-deadline.C:
		return ctap2.ErrTimeout
	}
	defer func() { t.turn <- struct{}{} }()
	t.startRd.Do(func() { go t.read() })

	shown := time.Now()
	t.printf("vauth: %s. Allow? [y/N] ", describe(req).oneLine())
	for {
		select {
		case a, ok := <-t.answers:
			switch {
			case !ok:
				t.printf("\nvauth: no more input; denied.\n")
				return ctap2.ErrDenied
			case a.at.Before(shown):
				continue // typed before this prompt existed
			case approves(a.text):
				t.printf("vauth: allowed.\n")
				return nil
			default:
				t.printf("vauth: denied.\n")
				return ctap2.ErrDenied
			}
		case <-deadline.C:
			t.printf("\nvauth: no answer in time; denied.\n")
			return ctap2.ErrTimeout
		case <-ctx.Done():
			t.printf("\nvauth: the request was cancelled.\n")
			return ctx.Err()
		}
	}
}

// printf writes to the prompt's output. A write error is not the user's
// answer, so it is dropped; the prompt still times out.
func (t *terminal) printf(format string, args ...any) {
	_, _ = fmt.Fprintf(t.out, format, args...)
}

// approves reports whether a typed line means yes.
func approves(line string) bool {
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

// read feeds t.answers with lines from t.in until end of input.
func (t *terminal) read() {
	defer close(t.answers)
	r := bufio.NewReaderSize(t.in, maxAnswerBytes)
	for {
		text, err := readAnswer(r)
		if err == nil || text != "" {
			t.answers <- answer{text: text, at: time.Now()}
		}
		if err != nil {
			return
		}
	}
}

// readAnswer reads one line, keeping at most maxAnswerBytes of it.
func readAnswer(r *bufio.Reader) (string, error) {
	line, err := r.ReadSlice('\n')
	text := string(line)
	for errors.Is(err, bufio.ErrBufferFull) {
		_, err = r.ReadSlice('\n') // skip the rest of an overlong line
	}
	return text, err
}
