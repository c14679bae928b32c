// Command vauth is a software FIDO2 security key: `vauth run` serves it to
// the operating system or over the virtual cable, `vauth demo` shows a
// passkey ceremony end to end, and the other commands inspect it.
package main

import (
	"errors"
	"fmt"
	"os"
)

// Exit statuses, documented in the README.
const (
	exitOK       = 0
	exitError    = 1
	exitUsage    = 2
	exitNotFound = 3 // no such credential
	exitPIN      = 4 // a PIN is needed and none was given, or it is wrong or blocked
	exitInUse    = 5 // a running vauth holds the store and its control socket does not answer
)

// usageError marks a mistake in the command line rather than a failure.
type usageError struct{ error }

// statusError is a failure that scripts tell apart by its exit status.
type statusError struct {
	status int
	err    error
}

func (e statusError) Error() string { return e.err.Error() }
func (e statusError) Unwrap() error { return e.err }

// exitStatus is the exit status of a command's error.
func exitStatus(err error) int {
	var ue usageError
	var se statusError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &se):
		return se.status
	}
	return exitError
}

func main() {
	root := newRootCmd()
	err := root.Execute()
	if err != nil {
		fmt.Fprintln(os.Stderr, "vauth:", err)
	}
	os.Exit(exitStatus(err))
}
