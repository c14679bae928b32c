package presence

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/vauth/vauth/ctap2"
)

// DefaultTimeout is how long an interactive prompt waits for an answer when
// the caller does not say; browsers give up on their own after about a minute.
const DefaultTimeout = 30 * time.Second

// DefaultDedupeWindow is how long New lets an approval stand in for an
// identical retried request (see Dedupe).
const DefaultDedupeWindow = 2 * time.Second

// Always approves every request at once; it is meant for CI, where nobody is
// there to answer.
func Always() ctap2.Presence {
	return ctap2.PresenceFunc(func(context.Context, ctap2.PresenceRequest) error { return nil })
}

// Never denies every request at once; tests use it to exercise the denied
// path and it makes a read-only authenticator.
func Never() ctap2.Presence {
	return ctap2.PresenceFunc(func(context.Context, ctap2.PresenceRequest) error { return ctap2.ErrDenied })
}

// Mode is a value of the CLI's --presence flag.
type Mode string

// The modes --presence accepts.
const (
	ModeAlways Mode = "always" // approve everything (CI)
	ModeNever  Mode = "never"  // deny everything
	ModePrompt Mode = "prompt" // ask on the terminal (standard input and error)
	ModeAuto   Mode = "auto"   // notification, else pinentry, else terminal
)

// ParseMode checks a --presence value, so that the CLI can reject a bad flag
// before it opens any device.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeAlways, ModeNever, ModePrompt, ModeAuto:
		return m, nil
	}
	return "", fmt.Errorf("presence: unknown mode %q (want %s, %s, %s or %s)",
		s, ModeAlways, ModeNever, ModePrompt, ModeAuto)
}

// AutoOptions configures Auto and New. The zero value prompts on os.Stdin and
// os.Stderr with DefaultTimeout.
type AutoOptions struct {
	Timeout time.Duration // how long one prompt waits; zero means DefaultTimeout
	In      *os.File      // where terminal answers are read; nil means os.Stdin
	Out     io.Writer     // where terminal prompts are written; nil means os.Stderr
}

func (o AutoOptions) withDefaults() AutoOptions {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.In == nil {
		o.In = os.Stdin
	}
	if o.Out == nil {
		o.Out = os.Stderr
	}
	return o
}

// New builds the Presence for a --presence value and returns the name of what
// it built, for the log. The interactive modes (prompt, auto) are wrapped in
// Dedupe with DefaultDedupeWindow, so browser retries do not prompt twice.
func New(mode string, opts AutoOptions) (ctap2.Presence, string, error) {
	m, err := ParseMode(mode)
	if err != nil {
		return nil, "", err
	}
	opts = opts.withDefaults()
	switch m {
	case ModeAlways:
		return Always(), string(ModeAlways), nil
	case ModeNever:
		return Never(), string(ModeNever), nil
	case ModePrompt:
		return Dedupe(Terminal(opts.In, opts.Out, opts.Timeout), DefaultDedupeWindow), nameTerminal, nil
	default: // ModeAuto
		p, name, err := Auto(opts)
		if err != nil {
			return nil, "", err
		}
		return Dedupe(p, DefaultDedupeWindow), name, nil
	}
}

// maxFieldRunes bounds each piece of request text shown to the user; it also
// keeps a pinentry command under the Assuan line limit.
const maxFieldRunes = 64

// promptText is what every prompt shows, already safe to display.
type promptText struct {
	Action  string // what will happen, e.g. "sign in"
	Site    string // the RP ID, or "" when there is none
	Account string // the user name, or "" when unknown
}

// actions names the CTAP operations in words a person understands.
var actions = map[string]string{
	"makeCredential":   "register a new credential",
	"getAssertion":     "sign in",
	"userVerification": "verify that it is you",
	"reset":            "reset the authenticator, deleting every credential",
	"selection":        "select this security key",
}

// describe turns a request into display text. RPID and User come from the
// relying party, so they are cleaned before anyone prints them.
func describe(req ctap2.PresenceRequest) promptText {
	action, ok := actions[req.Op]
	if !ok {
		action = clean(req.Op)
		if action == "" {
			action = "confirm presence"
		}
	}
	return promptText{Action: action, Site: clean(req.RPID), Account: clean(req.User)}
}

// details lists the site and the account, e.g. "site example.com, account
// alice"; it is empty when neither is known.
func (p promptText) details() string {
	var parts []string
	if p.Site != "" {
		parts = append(parts, "site "+p.Site)
	}
	if p.Account != "" {
		parts = append(parts, "account "+p.Account)
	}
	return strings.Join(parts, ", ")
}

// oneLine is the request as a single line: "sign in — site example.com,
// account alice".
func (p promptText) oneLine() string {
	if d := p.details(); d != "" {
		return p.Action + " — " + d
	}
	return p.Action
}

// clean replaces every character that is not printable (control characters,
// bidi overrides and other format characters that could disguise a site's
// name or move a terminal's cursor) with U+FFFD and shortens the result.
func clean(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxFieldRunes {
			b.WriteRune('…')
			break
		}
		if !unicode.IsGraphic(r) {
			r = unicode.ReplacementChar
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
