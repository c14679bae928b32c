package presence

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/vauth/vauth/ctap2"
)

const namePinentry = "pinentry"

// Assuan limits and the libgpg-error codes pinentry answers with.
const (
	assuanMaxLine    = 1000 // bytes per line, without the newline
	gpgErrCodeMask   = 0xffff
	gpgErrTimeout    = 62
	pinentryExitWait = time.Second // grace for pinentry to exit after BYE
)

// pinentry asks through a pinentry program; see Pinentry.
type pinentry struct {
	path    string
	timeout time.Duration
}

// Pinentry asks through a pinentry program (the dialog GnuPG uses, in its
// GTK, Qt, GNOME or curses flavour) at path. It speaks Assuan to it: a
// CONFIRM dialog titled "vauth security key" that names the operation, the
// site and the account, with Allow and Deny buttons. OK approves; any ERR
// denies, except a timeout, which gives ctap2.ErrTimeout. The program is
// killed when ctx is cancelled or timeout (zero means DefaultTimeout) passes.
// Each request starts a fresh program, which finds its display or terminal
// in the environment ($DISPLAY, $WAYLAND_DISPLAY, $GPG_TTY or a terminal on
// standard input).
func Pinentry(path string, timeout time.Duration) ctap2.Presence {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &pinentry{path: path, timeout: timeout}
}

// Confirm runs one pinentry dialog.
func (p *pinentry) Confirm(ctx context.Context, req ctap2.PresenceRequest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cmd := exec.Command(p.path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("presence: pinentry: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("presence: pinentry: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("presence: starting pinentry: %w", err)
	}
	deadline := time.NewTimer(p.timeout)
	defer deadline.Stop()

	result := make(chan error, 1)
	go func() { result <- p.converse(stdin, bufio.NewReaderSize(stdout, assuanMaxLine+2), req) }()
	select {
	case err := <-result:
		_ = stdin.Close() // after BYE and end of input pinentry exits
		reap(cmd, pinentryExitWait)
		return err
	case <-deadline.C:
		err = ctap2.ErrTimeout
	case <-ctx.Done():
		err = ctx.Err()
	}
	_ = cmd.Process.Kill()
	// Closing our end unblocks converse even if something pinentry started
	// still holds the other end open.
	_ = stdout.Close()
	_ = stdin.Close()
	<-result
	_ = cmd.Wait()
	return err
}

// reap waits for cmd to exit, killing it when it takes longer than grace.
func reap(cmd *exec.Cmd, grace time.Duration) {
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case <-exited:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// converse runs the Assuan dialogue: greeting, options, texts, CONFIRM, BYE.
func (p *pinentry) converse(w io.Writer, r *bufio.Reader, req ctap2.PresenceRequest) error {
	if err := assuanResponse(r); err != nil {
		return fmt.Errorf("presence: pinentry greeting: %w", err)
	}
	// Options pinentry may not know; an ERR to them is harmless.
	for _, opt := range pinentryOptions() {
		if err := assuanCommand(w, r, "OPTION "+opt); err != nil && !isAssuanErr(err) {
			return err
		}
	}
	text := describe(req)
	desc := "vauth: " + text.Action
	if text.Site != "" {
		desc += "\nSite: " + text.Site
	}
	if text.Account != "" {
		desc += "\nAccount: " + text.Account
	}
	seconds := int((p.timeout + time.Second - 1) / time.Second)
	for _, c := range []string{
		"SETTITLE vauth security key",
		"SETDESC " + assuanEscape(desc),
		"SETOK Allow",
		"SETCANCEL Deny",
		"SETTIMEOUT " + strconv.Itoa(seconds),
	} {
		if err := assuanCommand(w, r, c); err != nil {
			return fmt.Errorf("presence: pinentry refused %q: %w", strings.Fields(c)[0], err)
		}
	}
	err := assuanCommand(w, r, "CONFIRM")
	var ae *assuanErr
	switch {
	case err == nil:
	case errors.As(err, &ae) && ae.code&gpgErrCodeMask == gpgErrTimeout:
		err = ctap2.ErrTimeout
	case errors.As(err, &ae):
		err = ctap2.ErrDenied // cancelled, not confirmed, or any other refusal
	default:
		return fmt.Errorf("presence: pinentry: %w", err)
	}
	_, _ = io.WriteString(w, "BYE\n")
	return err
}

// pinentryOptions tells a terminal pinentry which terminal to draw on; a
// graphical one finds its display in the environment it inherits.
func pinentryOptions() []string {
	var opts []string
	if tty := pinentryTTY(); tty != "" {
		opts = append(opts, "ttyname="+tty)
	}
	if term := os.Getenv("TERM"); term != "" {
		opts = append(opts, "ttytype="+term)
	}
	return opts
}

// assuanErr is an ERR line: a libgpg-error code and its description.
type assuanErr struct {
	code uint32
	text string
}

func (e *assuanErr) Error() string { return fmt.Sprintf("ERR %d %s", e.code, e.text) }

func isAssuanErr(err error) bool {
	var ae *assuanErr
	return errors.As(err, &ae)
}

// assuanCommand sends one command line and reads its response.
func assuanCommand(w io.Writer, r *bufio.Reader, line string) error {
	if len(line) > assuanMaxLine {
		return fmt.Errorf("assuan command too long (%d bytes)", len(line))
	}
	if _, err := io.WriteString(w, line+"\n"); err != nil {
		return err
	}
	return assuanResponse(r)
}

// assuanResponse reads lines up to the OK or ERR that ends a response.
// Status, data and comment lines are skipped; an INQUIRE, which none of our
// commands causes, is a protocol error.
func assuanResponse(r *bufio.Reader) error {
	for {
		raw, err := r.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return errors.New("assuan line too long")
			}
			if errors.Is(err, io.EOF) {
				return errors.New("pinentry closed the connection")
			}
			return err
		}
		line := strings.TrimSuffix(string(raw), "\n")
		word, rest, _ := strings.Cut(line, " ")
		switch word {
		case "OK":
			return nil
		case "ERR":
			codeText, desc, _ := strings.Cut(rest, " ")
			code, err := strconv.ParseUint(codeText, 10, 32)
			if err != nil {
				return fmt.Errorf("malformed assuan line %q", line)
			}
			return &assuanErr{code: uint32(code), text: desc}
		case "S", "D", "#":
		default:
			return fmt.Errorf("unexpected assuan line %q", line)
		}
	}
}

// assuanEscape percent-encodes what cannot appear raw in an Assuan parameter.
func assuanEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' || c < 0x20 || c == 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
