package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/hid"
	"github.com/vauth/vauth/hid/socket"
)

// Build builds the vauth binary into dir and returns its path. It is built
// as users get it (no race detector), so that its start-up time and memory
// are the real ones.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "vauth")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/vauth/vauth/cmd/vauth").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building vauth: %v\n%s", err, out)
	}
	return bin, nil
}

// Daemon is a `vauth run` child process serving the virtual cable, as the
// load, soak and scale runs measure it.
type Daemon struct {
	cmd    *exec.Cmd
	Socket string
	// StartUp is how long the daemon took from exec to a socket that
	// answers a CTAPHID_INIT.
	StartUp time.Duration
	log     logBuffer
	exited  chan struct{}
}

// logBuffer collects the daemon's output, written by exec's goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// StartDaemon runs `bin run` on the soft store in dir, serving the virtual
// cable in a socket beside it, with presence always approved, and waits
// until the socket answers.
func StartDaemon(bin, store string, args ...string) (*Daemon, error) {
	d := &Daemon{Socket: store + ".sock", exited: make(chan struct{})}
	os.Remove(d.Socket)
	d.cmd = exec.Command(bin, append([]string{"run", "--store", store, "--keystore", "soft", "--transport", "unix:" + d.Socket, "--presence", "always"}, args...)...)
	d.cmd.Stdout, d.cmd.Stderr = &d.log, &d.log
	start := time.Now()
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = d.cmd.Wait()
		close(d.exited)
	}()
	deadline := start.Add(2 * time.Minute)
	for {
		if c, err := d.Dial(); err == nil {
			d.StartUp = time.Since(start)
			c.Close()
			return d, nil
		}
		select {
		case <-d.exited:
			return nil, fmt.Errorf("vauth run ended before serving:\n%s", d.log.String())
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.Stop()
			return nil, fmt.Errorf("vauth run did not serve within 2 minutes:\n%s", d.log.String())
		}
	}
}

// StartDaemonMedian starts the daemon three times, as StartDaemon does,
// and returns the last one, still running, with the median start-up time
// of the three as its StartUp: one start is at the mercy of the machine's
// other work.
func StartDaemonMedian(bin, store string, args ...string) (*Daemon, error) {
	var starts []time.Duration
	for {
		d, err := StartDaemon(bin, store, args...)
		if err != nil {
			return nil, err
		}
		if starts = append(starts, d.StartUp); len(starts) == 3 {
			slices.Sort(starts)
			d.StartUp = starts[1]
			return d, nil
		}
		if err := d.Stop(); err != nil {
			return nil, err
		}
	}
}

// Dial connects a CTAPHID client on a channel of its own.
func (d *Daemon) Dial() (*hid.Client, error) {
	t, err := socket.Dial(d.Socket)
	if err != nil {
		return nil, err
	}
	return hid.NewClient(t)
}

// DialCTAP2 connects a CTAP2 client, with the CTAPHID client it runs on
// (close that).
func (d *Daemon) DialCTAP2() (*client.Client, *hid.Client, error) {
	hc, err := d.Dial()
	if err != nil {
		return nil, nil, err
	}
	return client.New(hc), hc, nil
}

// Pid is the daemon's process ID.
func (d *Daemon) Pid() int { return d.cmd.Process.Pid }

// Log is what the daemon wrote so far.
func (d *Daemon) Log() string { return d.log.String() }

// Memory is the daemon's resident memory now.
func (d *Daemon) Memory() (Memory, error) { return ReadMemory(d.Pid()) }

// Stop ends the daemon with SIGTERM, as a user does, and waits for it.
func (d *Daemon) Stop() error {
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-d.exited
	return nil
}

// Memory is a process's resident memory in bytes: all of it (VmRSS), and
// its anonymous part (RssAnon) — RSS without the file pages mapped in,
// which are the binary and the store's database (bbolt maps it; the
// kernel can drop those pages at will).
type Memory struct {
	RSS, Anon int64
}

func (m Memory) String() string {
	return fmt.Sprintf("%.1f MiB (anon %.1f MiB)", float64(m.RSS)/(1<<20), float64(m.Anon)/(1<<20))
}

// ReadMemory reads a process's resident memory from /proc/PID/status.
func ReadMemory(pid int) (Memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	defer f.Close()
	var m Memory
	fields := map[string]*int64{"VmRSS:": &m.RSS, "RssAnon:": &m.Anon}
	found := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), "\t")
		dst := fields[name]
		if !ok || dst == nil {
			continue
		}
		kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("/proc/%d/status: %s %q: %w", pid, name, v, err)
		}
		*dst = kib * 1024
		found++
	}
	if err := sc.Err(); err != nil {
		return Memory{}, err
	}
	if found != len(fields) {
		return Memory{}, fmt.Errorf("/proc/%d/status lacks VmRSS or RssAnon", pid)
	}
	return m, nil
}
