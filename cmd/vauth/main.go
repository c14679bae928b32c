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
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// usageError marks a mistake in the command line rather than a failure.
type usageError struct{ error }

func main() {
	root := newRootCmd()
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "vauth:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(exitUsage)
		}
		os.Exit(exitError)
	}
	os.Exit(exitOK)
}
