package soft

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vauth/vauth/keystore"
)

// The test binary re-executes itself as a child process for the tests that
// need two processes. The environment tells the child what to do.
const (
	envChild = "VAUTH_SOFT_TEST_CHILD" // "open", "hold" or "crash"
	envDir   = "VAUTH_SOFT_TEST_DIR"
)

// crashBlock is the counter block of the crash test: small, so that the
// kills often land near a reservation.
const crashBlock = 8

var crashRP = sha256.Sum256([]byte("crash.example"))

func TestMain(m *testing.M) {
	mode, dir := os.Getenv(envChild), os.Getenv(envDir)
	switch mode {
	case "":
		os.Exit(m.Run())
	case "open":
		childOpen(dir)
	case "hold":
		childHold(dir)
	case "crash":
		childCrash(dir)
	default:
		fmt.Fprintf(os.Stderr, "unknown child mode %q\n", mode)
		os.Exit(2)
	}
	os.Exit(0)
}

// childOpen tries to open the store once and reports the outcome.
func childOpen(dir string) {
	s, err := Open(dir, Options{})
	if err != nil {
		fmt.Printf("error inuse=%v %v\n", errors.Is(err, keystore.ErrInUse), err)
		return
	}
	fmt.Println("opened")
	s.Close()
}

// childHold opens the store and holds it until its stdin closes.
func childHold(dir string) {
	s, err := Open(dir, Options{})
	if err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(1)
	}
	fmt.Println("opened")
	io.Copy(io.Discard, os.Stdin)
	s.Close()
}

// childCrash creates credentials and takes counters until it is killed,
// printing each one after the store acknowledged it.
func childCrash(dir string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s, err := Open(dir, Options{CounterBlock: crashBlock})
	if err != nil {
		fail(err)
	}
	earlier, err := s.Discoverable(crashRP)
	if err != nil {
		fail(err)
	}
	nd, err := s.Create(keystore.CreateRequest{RPIDHash: crashRP, Algorithm: keystore.ES256})
	if err != nil {
		fail(err)
	}
	fmt.Printf("nd %x\n", nd.ID)
	// An RSA one, which the store keeps in its database.
	stored, err := s.Create(keystore.CreateRequest{RPIDHash: crashRP, Algorithm: keystore.RS256})
	if err != nil {
		fail(err)
	}
	fmt.Printf("nd %x\n", stored.ID)
	for i := 0; ; i++ {
		user := fmt.Sprintf("%d-%d", os.Getpid(), i)
		c, err := s.Create(keystore.CreateRequest{
			RPID: "crash.example", RPIDHash: crashRP, User: keystore.User{ID: []byte(user), Name: user},
			Algorithm: keystore.ES256, Discoverable: true,
		})
		if err != nil {
			fail(err)
		}
		fmt.Printf("cred %x\n", c.ID)
		targets := []*keystore.Credential{c, nd, stored}
		if len(earlier) > 0 {
			targets = append(targets, earlier[i%len(earlier)])
		}
		for _, target := range targets {
			for range 3 {
				n, err := s.NextCounter(target)
				if err != nil {
					fail(err)
				}
				fmt.Printf("ctr %x %d\n", target.ID, n)
			}
		}
	}
}

// child starts the test binary as a child in mode on dir.
func child(t *testing.T, mode, dir string) (*exec.Cmd, *bufio.Scanner, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"="+mode, envDir+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, bufio.NewScanner(stdout), stdin
}

// firstLine returns the first line a child prints.
func firstLine(t *testing.T, sc *bufio.Scanner) string {
	t.Helper()
	if !sc.Scan() {
		t.Fatalf("child printed nothing: %v", sc.Err())
	}
	return sc.Text()
}

func TestLockAcrossProcesses(t *testing.T) {
	dir := t.TempDir()

	// A child cannot open the store this process holds, and is told our pid.
	s := mustOpen(t, dir, Options{})
	cmd, out, _ := child(t, "open", dir)
	line := firstLine(t, out)
	cmd.Wait()
	if !strings.HasPrefix(line, "error inuse=true") || !strings.Contains(line, fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("child Open while the parent holds the store: %q, want ErrInUse naming pid %d", line, os.Getpid())
	}
	mustClose(t, s)
	cmd, out, _ = child(t, "open", dir)
	if line := firstLine(t, out); line != "opened" {
		t.Errorf("child Open after the parent closed: %q", line)
	}
	cmd.Wait()

	// This process cannot open the store a child holds, at once, and is told
	// the child's pid; once the child lets go, it can.
	cmd, out, stdin := child(t, "hold", dir)
	if line := firstLine(t, out); line != "opened" {
		t.Fatalf("holding child: %q", line)
	}
	start := time.Now()
	_, err := Open(dir, Options{})
	if !errors.Is(err, keystore.ErrInUse) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", cmd.Process.Pid)) {
		t.Errorf("Open while a child holds the store: %v, want ErrInUse naming pid %d", err, cmd.Process.Pid)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("Open took %v to fail, want at once", elapsed)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("holding child: %v", err)
	}
	mustClose(t, mustOpen(t, dir, Options{}))
}

// TestCrash kills a child with SIGKILL at several moments while it creates
// credentials and takes counters, and checks after each kill that every
// acknowledged credential survived and that every counter continues above
// the last value acknowledged, having jumped by at most one block.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	creds := map[string]bool{}  // hex ID -> discoverable
	last := map[string]uint32{} // hex ID -> last acknowledged counter
	// Lines to read before the kill; 0 kills the child as soon as it starts,
	// perhaps while it creates the store.
	for _, killAfter := range []int{0, 1, 2, 9, 40, 150, 600} {
		cmd, out, _ := child(t, "crash", dir)
		lines := 0
		kill := func() {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
		if killAfter == 0 {
			kill()
		}
		for out.Scan() {
			fields := strings.Fields(out.Text())
			switch {
			case len(fields) == 2 && fields[0] == "nd":
				creds[fields[1]] = false
			case len(fields) == 2 && fields[0] == "cred":
				creds[fields[1]] = true
			case len(fields) == 3 && fields[0] == "ctr":
				n, err := strconv.ParseUint(fields[2], 10, 32)
				if err != nil {
					t.Fatalf("child line %q: %v", out.Text(), err)
				}
				if uint32(n) <= last[fields[1]] && last[fields[1]] != 0 {
					t.Errorf("child counter for %s went from %d to %d", fields[1][:8], last[fields[1]], n)
				}
				last[fields[1]] = uint32(n)
			default:
				t.Fatalf("child line %q", out.Text())
			}
			lines++
			if lines == killAfter {
				kill()
			}
		}
		err := cmd.Wait()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("child (kill after %d lines) ended with %v, want SIGKILL", killAfter, err)
		}
		t.Logf("killed the child after %d acknowledged lines (asked %d)", lines, killAfter)

		s := mustOpen(t, dir, Options{CounterBlock: crashBlock})
		for id, discoverable := range creds {
			raw, _ := hex.DecodeString(id)
			c, err := s.Lookup(crashRP, raw)
			if err != nil {
				t.Fatalf("acknowledged credential %s (discoverable %v) after the kill: %v", id[:8], discoverable, err)
			}
			if prev, counted := last[id]; counted {
				n, err := s.NextCounter(c)
				if err != nil {
					t.Fatalf("NextCounter after the kill: %v", err)
				}
				// The child may have taken one value it did not get to print,
				// and reserved a block above it.
				if n <= prev || n > prev+1+crashBlock+1 {
					t.Errorf("counter of %s: last acknowledged %d, next after the kill %d; want in (%d, %d]",
						id[:8], prev, n, prev, prev+crashBlock+2)
				}
				last[id] = n
			}
		}
		mustClose(t, s)
	}
	if len(creds) < 10 {
		t.Errorf("only %d credentials acknowledged over all children; the test checked little", len(creds))
	}
}
