package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/ctap2/client"
)

// Environment variables that carry PINs for scripts.
const (
	pinEnv    = "VAUTH_PIN"     // the PIN (the new one for pin set)
	newPINEnv = "VAUTH_NEW_PIN" // the new PIN for pin change
)

// pinSource gives a PIN: from a file, from the environment, or asked on
// the terminal (without echo). Without any, a PIN is an exitPIN error, so
// that a script never hangs at a prompt.
type pinSource struct {
	file string // --pin-file
	env  string // the environment variable's value
	in   io.Reader
	out  io.Writer
}

// get returns the PIN; prompt is what the terminal shows.
func (s *pinSource) get(prompt string) (string, error) {
	switch {
	case s.file != "":
		return readPINFile(s.file)
	case s.env != "":
		return s.env, nil
	}
	return s.ask(prompt)
}

// available reports whether a PIN can be had without asking.
func (s *pinSource) available() bool { return s.file != "" || s.env != "" }

// isTerminal reports whether the input is a terminal to ask on.
func (s *pinSource) isTerminal() bool {
	f, ok := s.in.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// ask reads a PIN on the terminal without echo.
func (s *pinSource) ask(prompt string) (string, error) {
	if !s.isTerminal() {
		return "", statusError{exitPIN, fmt.Errorf("a PIN is needed: give --pin-file or set %s (no terminal to ask on)", pinEnv)}
	}
	f := s.in.(*os.File)
	fmt.Fprint(s.out, prompt)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(s.out)
	if err != nil {
		return "", fmt.Errorf("reading the PIN: %w", err)
	}
	return string(b), nil
}

// readPINFile reads the first line of a file.
func readPINFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("--pin-file: %w", err)
	}
	defer f.Close()
	line, err := bufio.NewReader(io.LimitReader(f, 1024)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("--pin-file: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// newPIN gets a new PIN: from the source when it has one, else asked twice
// on the terminal.
func newPIN(s *pinSource) (string, error) {
	if s.available() {
		return s.get("")
	}
	first, err := s.ask("New PIN: ")
	if err != nil {
		return "", err
	}
	again, err := s.ask("New PIN again: ")
	if err != nil {
		return "", err
	}
	if first != again {
		return "", usageError{errors.New("the two PINs differ")}
	}
	return first, nil
}

// errWrongPIN: the authenticator says the PIN is wrong.
var errWrongPIN = errors.New("wrong PIN")

// pinError gives the PIN-related CTAP statuses their exit status and a
// message that says what to do.
func pinError(err error) error {
	var se *ctap2.StatusError
	if !errors.As(err, &se) {
		return err
	}
	switch se.Status {
	case ctap2.CTAP2ErrPinInvalid:
		return statusError{exitPIN, errWrongPIN}
	case ctap2.CTAP2ErrPinAuthBlocked:
		return statusError{exitPIN, errors.New("three wrong PINs in a row: unplug and replug the key (restart vauth run) before trying again")}
	case ctap2.CTAP2ErrPinBlocked:
		return statusError{exitPIN, errors.New("the PIN is blocked after too many wrong PINs: only a reset (vauth reset) makes the key usable again, erasing it")}
	case ctap2.CTAP2ErrPinNotSet:
		return statusError{exitPIN, errors.New("no PIN is set: set one with `vauth pin set`")}
	case ctap2.CTAP2ErrPinPolicyViolation:
		return usageError{errors.New("the PIN breaks the key's rules (length in code points, at most 63 bytes)")}
	case ctap2.CTAP2ErrPUATRequired:
		return statusError{exitPIN, fmt.Errorf("the key needs a PIN for this: %w", err)}
	}
	return err
}

// withRetries adds the attempts left, as retries tells them, to a
// wrong-PIN error.
func withRetries(ctx context.Context, retries func(context.Context) (int, error), err error) error {
	if !errors.Is(err, errWrongPIN) {
		return err
	}
	if left, rerr := retries(ctx); rerr == nil {
		return statusError{exitPIN, fmt.Errorf("%w: %s left before the PIN is blocked", errWrongPIN, plural(left, "attempt"))}
	}
	return err
}

// ctapRetries is withRetries' retries for an authenticator spoken to over
// CTAP2 (getPINRetries).
func ctapRetries(c *client.Client) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		left, _, err := c.PINRetries(ctx)
		return left, err
	}
}

func newPINCmd(g *globals) *cobra.Command {
	var tf targetFlags
	cmd := &cobra.Command{
		Use:   "pin",
		Short: "Set, change or inspect the authenticator's PIN",
		Long: "Set, change or inspect the PIN (CTAP2 clientPIN). PINs come from --pin-file, from\n" +
			pinEnv + " (and " + newPINEnv + " for the new PIN of pin change), or are asked on the terminal.",
	}
	tf.register(cmd)

	var asJSON bool
	status := &cobra.Command{
		Use:   "status",
		Short: "Show whether a PIN is set and the retries left",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := tf.open(cmd, g, false)
			if err != nil {
				return err
			}
			defer t.Close()
			st, err := t.pinStatus(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), st)
			}
			printPINStatus(cmd.OutOrStdout(), st)
			return nil
		},
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	set := &cobra.Command{
		Use:   "set",
		Short: "Set the first PIN (from --pin-file, " + pinEnv + ", or asked twice)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pin, err := newPIN(tf.pins(cmd))
			if err != nil {
				return err
			}
			t, err := tf.open(cmd, g, false)
			if err != nil {
				return err
			}
			defer t.Close()
			if st, err := t.pinStatus(cmd.Context()); err != nil {
				return err
			} else if st.Set {
				return usageError{errors.New("a PIN is already set: use `vauth pin change`")}
			}
			if err := t.setPIN(cmd.Context(), pin); err != nil {
				return pinError(err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "PIN set on %s\n", t.where())
			return nil
		},
	}

	change := &cobra.Command{
		Use:   "change",
		Short: "Change the PIN (the current one from --pin-file or " + pinEnv + ", the new one from " + newPINEnv + ", or asked)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src := tf.pins(cmd)
			old, err := src.get("Current PIN: ")
			if err != nil {
				return err
			}
			pin, err := newPIN(&pinSource{env: os.Getenv(newPINEnv), in: src.in, out: src.out})
			if err != nil {
				return err
			}
			t, err := tf.open(cmd, g, false)
			if err != nil {
				return err
			}
			defer t.Close()
			if err := t.changePIN(cmd.Context(), old, pin); err != nil {
				return pinError(err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "PIN changed on %s\n", t.where())
			return nil
		},
	}
	cmd.AddCommand(status, set, change)
	return cmd
}

func printPINStatus(w io.Writer, st pinStatus) {
	row := func(k, v string) { fmt.Fprintf(w, "%-22s %s\n", k, v) }
	if !st.Set {
		row("PIN", "not set")
	} else {
		row("PIN", "set")
		left := fmt.Sprintf("%d", st.Retries)
		switch {
		case st.Retries == 0:
			left += " (blocked: only a reset helps)"
		case st.PowerCycleRequired:
			left += " (replug the key before the next attempt)"
		}
		row("retries left", left)
		if st.ForceChange {
			row("change required", "yes: the PIN must be changed before it is used")
		}
	}
	row("minimum length", fmt.Sprintf("%d", st.MinLength))
	if st.UVRetries != nil {
		row("UV retries left", fmt.Sprintf("%d", *st.UVRetries))
	}
	if st.AlwaysUV {
		row("alwaysUv", "on")
	}
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
