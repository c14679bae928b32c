package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// vauthBin is the vauth binary the tests run as users do.
var vauthBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vauth-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	vauthBin = filepath.Join(dir, "vauth")
	if out, err := exec.Command("go", "build", "-race", "-o", vauthBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building vauth: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemonProc is a `vauth run` child serving the virtual cable.
type daemonProc struct {
	cmd    *exec.Cmd
	socket string
	log    *bytes.Buffer
}

// startDaemon runs `vauth run` on store and waits until its socket accepts.
func startDaemon(t *testing.T, store string, args ...string) *daemonProc {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "vauth.sock")
	d := &daemonProc{socket: sock, log: &bytes.Buffer{}}
	d.cmd = exec.Command(vauthBin, append([]string{"run", "--store", store, "--transport", "unix:" + sock, "--presence", "always"}, args...)...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.kill(syscall.SIGKILL) })
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			return d
		}
		if d.cmd.ProcessState != nil || time.Now().After(deadline) {
			t.Fatalf("vauth run did not come up:\n%s", d.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends sig and waits for the process to end.
func (d *daemonProc) kill(sig syscall.Signal) {
	if d.cmd.ProcessState != nil {
		return
	}
	_ = d.cmd.Process.Signal(sig)
	_ = d.cmd.Wait()
}
