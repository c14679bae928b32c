// Package tpmtest gives tests a TPM to talk to: the go-tpm-tools simulator
// in-process, or swtpm serving a raw TCP command port, as keystore/tpm's
// Options.Device "tcp:HOST:PORT" expects. In the spirit of net/http/httptest.
package tpmtest

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/vauth/vauth/internal/testenv"
)

// Simulator starts a freshly manufactured TPM simulator (new seeds) and
// closes it when the test ends. Only one simulator exists at a time in a
// process: a second call waits until the first is closed.
func Simulator(tb testing.TB) transport.TPMCloser {
	tb.Helper()
	sim, err := simulator.Get()
	if err != nil {
		tb.Fatalf("simulator: %v", err)
	}
	tpm := transport.FromReadWriteCloser(sim)
	tb.Cleanup(func() {
		if !sim.IsClosed() {
			_ = tpm.Close()
		}
	})
	return tpm
}

// Swtpm is a swtpm process serving a TPM 2.0 on a raw TCP command port on
// 127.0.0.1.
type Swtpm struct {
	// Device names the TPM as keystore/tpm and `vauth run --tpm` take it:
	// "tcp:127.0.0.1:PORT".
	Device string
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartSwtpm starts swtpm with its state in stateDir (a new TPM if empty)
// and stops it when the test ends. Without swtpm installed the test is
// skipped, or fails when VAUTH_E2E_REQUIRED is set (as `make test` does),
// so that a missing tool cannot hide the TPM tests.
func StartSwtpm(tb testing.TB, stateDir string) *Swtpm {
	tb.Helper()
	bin, err := exec.LookPath("swtpm")
	testenv.Require(tb, err == nil, "swtpm (Debian packages swtpm swtpm-tools)")
	// A port found free may be taken before swtpm binds it: try again.
	for attempt := 0; ; attempt++ {
		s, err := tryStart(bin, stateDir)
		if err == nil {
			tb.Cleanup(s.Stop)
			return s
		}
		if attempt == 2 {
			tb.Fatalf("start swtpm: %v", err)
		}
	}
}

func tryStart(bin, stateDir string) (*Swtpm, error) {
	port, ctrl, err := freePorts()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "socket", "--tpm2",
		"--server", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port),
		"--ctrl", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", ctrl),
		"--tpmstate", "dir="+stateDir,
		"--flags", "not-need-init,startup-clear")
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s := &Swtpm{Device: "tcp:" + addr, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("swtpm exited: %v", cmd.ProcessState)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			return s, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	return nil, errors.New("swtpm did not start listening within 10 s")
}

// freePorts returns two TCP ports on 127.0.0.1 that were free a moment ago.
func freePorts() (int, int, error) {
	var ports [2]int
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, err
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports[0], ports[1], nil
}

// Stop ends swtpm (SIGTERM lets it save its state) and waits for it.
// Stopping twice is harmless.
func (s *Swtpm) Stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}
