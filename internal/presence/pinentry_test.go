package presence

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/internal/testenv"
)

// fakePinentryPath sets up the fake pinentry for one test and returns its
// path and the file it logs to.
func fakePinentryPath(t *testing.T, mode string) (path, log string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	log = filepath.Join(t.TempDir(), "pinentry.log")
	t.Setenv(fakePinentryEnv, mode)
	t.Setenv(fakePinentryLog, log)
	t.Setenv("GPG_TTY", "/dev/pts/test")
	t.Setenv("TERM", "xterm")
	// A race-enabled test binary otherwise lingers a second at exit.
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	return exe, log
}

// pinentryLog returns the fake's pid and the commands it received.
func pinentryLog(t *testing.T, log string) (int, []string) {
	t.Helper()
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	pid, err := strconv.Atoi(strings.TrimPrefix(lines[0], "pid "))
	if err != nil {
		t.Fatalf("log starts with %q", lines[0])
	}
	return pid, lines[1:]
}

func TestPinentry(t *testing.T) {
	req := ctap2.PresenceRequest{Op: "getAssertion", RPID: "example.com", User: "alice%bob"}
	tests := []struct {
		mode    string
		timeout time.Duration
		want    error
		wantMsg string // for errors that are not sentinels
	}{
		{mode: "allow", timeout: 10 * time.Second},
		{mode: "deny", timeout: 10 * time.Second, want: ctap2.ErrDenied},
		{mode: "notconfirmed", timeout: 10 * time.Second, want: ctap2.ErrDenied},
		{mode: "timeout", timeout: 10 * time.Second, want: ctap2.ErrTimeout},
		{mode: "hang", timeout: 80 * time.Millisecond, want: ctap2.ErrTimeout},
		{mode: "garbage", timeout: 10 * time.Second, wantMsg: `unexpected assuan line "HELLO there"`},
		{mode: "exit", timeout: 10 * time.Second, wantMsg: "pinentry closed the connection"},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			path, log := fakePinentryPath(t, tc.mode)
			err := Pinentry(path, tc.timeout).Confirm(context.Background(), req)
			switch {
			case tc.wantMsg != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
					t.Fatalf("Confirm = %v, want an error containing %q", err, tc.wantMsg)
				}
			case !errors.Is(err, tc.want):
				t.Fatalf("Confirm = %v, want %v", err, tc.want)
			}
			if fi, err := os.Stat(log); tc.mode == "hang" && (err != nil || fi.Size() == 0) {
				return // killed on time before it even started; TestPinentryCancel checks the kill
			}
			pid, cmds := pinentryLog(t, log)
			seconds := strconv.Itoa(int((tc.timeout + time.Second - 1) / time.Second))
			wantCmds := []string{
				"OPTION ttyname=/dev/pts/test",
				"OPTION ttytype=xterm",
				"SETTITLE vauth security key",
				"SETDESC vauth: sign in%0ASite: example.com%0AAccount: alice%25bob",
				"SETOK Allow",
				"SETCANCEL Deny",
				"SETTIMEOUT " + seconds,
				"CONFIRM",
			}
			// A pinentry that never answers may be killed before it has
			// read everything; the others must have seen the whole dialogue.
			if len(cmds) < len(wantCmds) && tc.mode != "hang" {
				t.Fatalf("pinentry got %q, want it to start with %q", cmds, wantCmds)
			}
			for i, got := range cmds[:min(len(cmds), len(wantCmds))] {
				if got != wantCmds[i] {
					t.Errorf("command %d = %q, want %q", i, got, wantCmds[i])
				}
			}
			if tc.mode == "allow" || tc.mode == "deny" {
				if rest := cmds[len(wantCmds):]; len(rest) != 1 || rest[0] != "BYE" {
					t.Errorf("after CONFIRM pinentry got %q, want BYE", rest)
				}
			}
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("pinentry %d still exists after Confirm returned (kill 0: %v)", pid, err)
			}
		})
	}
}

func TestPinentryCancel(t *testing.T) {
	path, log := fakePinentryPath(t, "hang")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Pinentry(path, time.Minute).Confirm(ctx, ctap2.PresenceRequest{Op: "makeCredential", RPID: "example.com"})
	}()
	// Cancel once the dialog is up, as CTAPHID_CANCEL would.
	waitFor(t, func() bool {
		data, _ := os.ReadFile(log)
		return strings.Contains(string(data), "CONFIRM")
	})
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Confirm = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Confirm did not return after cancel")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Confirm took %v to return after cancel", d)
	}
	pid, _ := pinentryLog(t, log)
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("pinentry %d was not killed (kill 0: %v)", pid, err)
	}
}

func TestPinentryNotFound(t *testing.T) {
	err := Pinentry(filepath.Join(t.TempDir(), "no-such-pinentry"), time.Second).Confirm(context.Background(), ctap2.PresenceRequest{Op: "reset"})
	if err == nil || errors.Is(err, ctap2.ErrDenied) || !strings.Contains(err.Error(), "starting pinentry") {
		t.Fatalf("Confirm = %v, want a start error", err)
	}
}

func TestAssuanEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"100%", "100%25"},
		{"a\nb\rc", "a%0Ab%0Dc"},
		{"tab\there\x7f", "tab%09here%7F"},
		{"ünïcode", "ünïcode"},
	}
	for _, tc := range tests {
		if got := assuanEscape(tc.in); got != tc.want {
			t.Errorf("assuanEscape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 5s")
}

// TestPinentryCurses drives the real pinentry-curses on a pseudo-terminal,
// pressing keys as a person would.
func TestPinentryCurses(t *testing.T) {
	path, err := exec.LookPath("pinentry-curses")
	testenv.Require(t, err == nil, "pinentry-curses (Debian package pinentry-curses)")
	tests := []struct {
		name   string
		keys   string // typed once the dialog is drawn; "" cancels instead
		want   error
		screen []string
	}{
		{name: "enter allows", keys: "\r", screen: []string{"vauth: sign in", "Site: example.com", "Account: alice", "<Allow>", "<Deny>"}},
		{name: "deny button", keys: "\t\r", want: ctap2.ErrDenied},
		{name: "cancel", want: context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			master, slave := openPTY(t)
			t.Setenv("GPG_TTY", slave.Name())
			t.Setenv("TERM", "xterm")
			scr := watch(master)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				done <- Pinentry(path, 30*time.Second).Confirm(ctx, ctap2.PresenceRequest{Op: "getAssertion", RPID: "example.com", User: "alice"})
			}()
			waitFor(t, func() bool { return scr.contains("<Deny>") })
			if tc.keys == "" {
				cancel()
			} else if _, err := master.WriteString(tc.keys); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if !errors.Is(err, tc.want) {
					t.Fatalf("Confirm = %v, want %v", err, tc.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Confirm did not return")
			}
			for _, s := range tc.screen {
				if !scr.contains(s) {
					t.Errorf("dialog does not show %q", s)
				}
			}
		})
	}
}
