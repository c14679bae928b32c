// Package e2e tests vauth as the operating system sees it: the real `vauth
// run` binary presents a USB HID security key through /dev/uhid, and the
// real clients use it through the kernel's hidraw nodes — libfido2's
// fido2-token, fido2-cred and fido2-assert, python-fido2's hidraw backend,
// and OpenSSH's ssh-keygen.
//
// The tests need read-write /dev/uhid. Without it they skip and say how to
// run them (`make vm-test`, which uses the VM from ../shared/tools/run-in-vm.sh
// on kernels without uhid); with VAUTH_E2E_REQUIRED=1, as `make test` sets,
// they fail instead. VAUTH_BIN names a prebuilt vauth binary (the VM runs
// one); otherwise TestMain builds one.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vauth/vauth/internal/testenv"
)

const (
	uhidPath = "/dev/uhid"
	// howToRun is what a skipped test tells the reader to do.
	howToRun = "run `make vm-test` from the project root (it uses /dev/uhid where it exists, else a VM: ../shared/tools/run-in-vm.sh)"
	// python is Debian's interpreter, which has python3-fido2.
	python = "/usr/bin/python3"
	// waitLimit bounds every wait for the device; the VM runs without KVM.
	waitLimit = 30 * time.Second
)

// vauthBin is the vauth binary under test.
var vauthBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if vauthBin = os.Getenv("VAUTH_BIN"); vauthBin != "" {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "vauth-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	vauthBin = filepath.Join(dir, "vauth")
	if out, err := exec.Command("go", "build", "-o", vauthBin, "github.com/vauth/vauth/cmd/vauth").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building vauth: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// requireUhid skips, or fails when required, unless this process may
// create uhid devices.
func requireUhid(t *testing.T) {
	t.Helper()
	err := unix.Access(uhidPath, unix.R_OK|unix.W_OK)
	if err == nil {
		return
	}
	testenv.Require(t, false, fmt.Sprintf("read-write %s (%v): %s", uhidPath, err, howToRun))
}

// requireTool returns the path of a client program, skipping (or failing,
// when required) if it is not installed.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	testenv.Require(t, false, fmt.Sprintf("%s (Debian package %s)", name, pkg))
	return ""
}

// syncBuffer collects a child's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// vauthProc is a running `vauth run` serving a uhid device.
type vauthProc struct {
	cmd    *exec.Cmd
	log    *syncBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's result, once done is closed
	hidraw string        // the device's node, e.g. /dev/hidraw0
	serial string        // the device's uniq, stable for a store
	// listed is the time from starting the process to fido2-token -L
	// listing its node.
	listed time.Duration
}

var (
	hidrawLog = regexp.MustCompile(`msg=serving .*transport=uhid hidraw=(/dev/hidraw[0-9]+) serial=([0-9a-f]+)`)
	tokenList = regexp.MustCompile(`(?m)^(/dev/hidraw[0-9]+): `)
)

// startVauth runs `vauth run` on store with the uhid transport and waits
// until libfido2 lists its device. The process is stopped when the test
// ends.
func startVauth(t *testing.T, store string, args ...string) *vauthProc {
	t.Helper()
	requireUhid(t)
	token := requireTool(t, "fido2-token", "fido2-tools")
	v := &vauthProc{log: &syncBuffer{}, done: make(chan struct{})}
	v.cmd = exec.Command(vauthBin, append([]string{"run", "--store", store, "--keystore", "soft",
		"--transport", "uhid", "--presence", "always"}, args...)...)
	v.cmd.Stdout, v.cmd.Stderr = v.log, v.log
	start := time.Now()
	if err := v.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		v.err = v.cmd.Wait()
		close(v.done)
	}()
	t.Cleanup(func() { v.stop(t) })

	for deadline := start.Add(waitLimit); ; time.Sleep(10 * time.Millisecond) {
		if v.hidraw == "" {
			if m := hidrawLog.FindStringSubmatch(v.log.String()); m != nil {
				v.hidraw, v.serial = m[1], m[2]
			}
		}
		if v.hidraw != "" && slices.Contains(listTokens(t, token), v.hidraw) {
			v.listed = time.Since(start)
			return v
		}
		select {
		case <-v.done:
			t.Fatalf("vauth run exited (%v) before its device was listed:\n%s", v.err, v.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("fido2-token -L did not list vauth's device within %v:\n%s", waitLimit, v.log)
		}
	}
}

// listTokens returns the hidraw nodes fido2-token -L lists.
func listTokens(t *testing.T, token string) []string {
	t.Helper()
	out, err := exec.Command(token, "-L").Output()
	if err != nil {
		t.Fatalf("fido2-token -L: %v", err)
	}
	var nodes []string
	for _, m := range tokenList.FindAllStringSubmatch(string(out), -1) {
		nodes = append(nodes, m[1])
	}
	return nodes
}

// stop sends SIGTERM, waits for the process to exit, and fails the test
// unless it exited with status 0 (a second stop only waits).
func (v *vauthProc) stop(t *testing.T) {
	t.Helper()
	select {
	case <-v.done:
		return
	default:
	}
	if err := v.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
	select {
	case <-v.done:
	case <-time.After(waitLimit):
		v.cmd.Process.Kill()
		<-v.done
		t.Errorf("vauth run did not stop within %v of SIGTERM:\n%s", waitLimit, v.log)
		return
	}
	if v.err != nil {
		t.Errorf("vauth run after SIGTERM: %v\n%s", v.err, v.log)
	}
}

// run runs a program with stdin and the environment env added to the
// test's, fails the test unless it exits 0, and returns its stdout.
func run(t *testing.T, stdin string, env []string, name string, args ...string) string {
	t.Helper()
	stdout, stderr, err := runResult(t, stdin, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout
}

// runResult runs a program like run does but returns its exit error
// instead of failing the test.
func runResult(t *testing.T, stdin string, env []string, name string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runIn(t, "", stdin, env, name, args...)
}

// runIn is runResult in the working directory dir ("" for the test's).
func runIn(t *testing.T, dir, stdin string, env []string, name string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), env...)
	// A session of its own has no controlling terminal, so that a client
	// asking for a PIN reads stdin (or askpass) instead of the user's tty.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", 2*waitLimit, err)
	}
	return out.String(), errOut.String(), err
}

// exitCode is the exit status in err from exec, or -1 when the program did
// not exit normally.
func exitCode(err error) int {
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}

// randomBytes returns n random bytes; they are test inputs, not secrets.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	return b
}
