package presence

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// Environment of the fake pinentry: the test binary re-executed with
// fakePinentryEnv set acts as a pinentry instead of running the tests.
const (
	fakePinentryEnv = "VAUTH_FAKE_PINENTRY"     // what to answer CONFIRM
	fakePinentryLog = "VAUTH_FAKE_PINENTRY_LOG" // file that receives the pid and every command
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakePinentryEnv); mode != "" {
		os.Exit(fakePinentry(mode, os.Getenv(fakePinentryLog)))
	}
	os.Exit(m.Run())
}

// fakePinentry speaks the pinentry side of Assuan on stdin/stdout. mode says
// how it answers CONFIRM: allow, deny (cancelled), notconfirmed, timeout,
// hang (never answers), garbage (not Assuan), or exit (dies).
func fakePinentry(mode, logPath string) int {
	logf := func(string, ...any) {}
	if logPath != "" {
		f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return 2
		}
		defer f.Close()
		logf = func(format string, args ...any) { fmt.Fprintf(f, format+"\n", args...) }
	}
	logf("pid %d", os.Getpid())
	fmt.Println("# fake pinentry for vauth tests")
	fmt.Println("OK Pleased to meet you")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		line := in.Text()
		logf("%s", line)
		cmd, _, _ := strings.Cut(line, " ")
		switch cmd {
		case "OPTION":
			if strings.HasPrefix(line, "OPTION ttytype=") {
				fmt.Println("ERR 83886254 Unknown option <Pinentry>")
				continue
			}
		case "SETDESC":
			fmt.Println("S PROGRESS 0") // status lines must be skipped
		case "CONFIRM":
			switch mode {
			case "allow":
			case "deny":
				fmt.Println("ERR 83886179 Operation cancelled <Pinentry>")
				continue
			case "notconfirmed":
				fmt.Println("ERR 83886194 Not confirmed <Pinentry>")
				continue
			case "timeout":
				fmt.Println("ERR 83886142 Timeout <Pinentry>")
				continue
			case "hang":
				_, _ = io.Copy(io.Discard, os.Stdin)
				return 0
			case "garbage":
				fmt.Println("HELLO there")
				continue
			case "exit":
				return 1
			}
		case "BYE":
			fmt.Println("OK closing connection")
			return 0
		}
		fmt.Println("OK")
	}
	return 0
}
