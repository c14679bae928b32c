package presence

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/internal/testenv"
)

// busConfig is a session bus like --session's, but without the system's
// service files, so that no real notification daemon can be auto-started
// into a test.
const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// startBus runs a private dbus-daemon for one test and returns its address.
func startBus(t *testing.T) string {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	testenv.Require(t, err == nil, "dbus-daemon (Debian package dbus-daemon), for the desktop notification tests")
	dir := t.TempDir()
	config := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(busConfig, filepath.Join(dir, "bus"))), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daemon, "--config-file="+config, "--nofork", "--print-address")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // even if the test binary dies
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting dbus-daemon: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		addr <- strings.TrimSpace(line)
	}()
	select {
	case a := <-addr:
		if a == "" {
			t.Fatal("dbus-daemon printed no address")
		}
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("dbus-daemon did not start")
		return ""
	}
}

// connect opens a connection to the bus, closed at the end of the test.
func connect(t *testing.T, addr string) *dbus.Conn {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("connecting to the test bus: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// notifyCall is what a Notify call carried.
type notifyCall struct {
	App, Icon, Summary, Body string
	Actions                  []string
	Hints                    map[string]dbus.Variant
	Timeout                  int32
}

// fakeNotifier is a small org.freedesktop.Notifications server. After each
// Notify it runs react with the new notification's id.
type fakeNotifier struct {
	conn  *dbus.Conn
	caps  []string
	react func(f *fakeNotifier, id uint32)

	mu       sync.Mutex
	nextID   uint32
	calls    []notifyCall
	closed   []uint32
	notified chan uint32
}

// serveNotifications exports a fakeNotifier on the bus at addr.
func serveNotifications(t *testing.T, addr string, caps []string, react func(*fakeNotifier, uint32)) *fakeNotifier {
	t.Helper()
	f := &fakeNotifier{conn: connect(t, addr), caps: caps, react: react, nextID: 1, notified: make(chan uint32, 16)}
	if err := f.conn.Export(f, notifyPath, notifyIface); err != nil {
		t.Fatal(err)
	}
	reply, err := f.conn.RequestName(notifyName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("RequestName = %v, %v", reply, err)
	}
	return f
}

func (f *fakeNotifier) GetCapabilities() ([]string, *dbus.Error) { return f.caps, nil }

func (f *fakeNotifier) GetServerInformation() (string, string, string, string, *dbus.Error) {
	return "fake", "vauth tests", "1", "1.2", nil
}

func (f *fakeNotifier) Notify(app string, _ uint32, icon, summary, body string, actions []string, hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	f.mu.Lock()
	id := f.nextID
	f.nextID++
	f.calls = append(f.calls, notifyCall{app, icon, summary, body, actions, hints, timeout})
	f.mu.Unlock()
	if f.react != nil {
		f.react(f, id)
	}
	f.notified <- id
	return id, nil
}

func (f *fakeNotifier) CloseNotification(id uint32) *dbus.Error {
	f.mu.Lock()
	f.closed = append(f.closed, id)
	f.mu.Unlock()
	f.emit(notifyClosedSig, id, uint32(3))
	return nil
}

func (f *fakeNotifier) emit(name string, args ...any) {
	_ = f.conn.Emit(notifyPath, name, args...)
}

func (f *fakeNotifier) snapshot() ([]notifyCall, []uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls), slices.Clone(f.closed)
}

// Reactions a test can script. The ones that run in a goroutine answer
// after Notify has replied, as a person would; the others answer before.
func later(fn func(*fakeNotifier, uint32)) func(*fakeNotifier, uint32) {
	return func(f *fakeNotifier, id uint32) { go fn(f, id) }
}

func action(key string) func(*fakeNotifier, uint32) {
	return func(f *fakeNotifier, id uint32) { f.emit(notifyActionSig, id, key) }
}

func closedBy(reason uint32) func(*fakeNotifier, uint32) {
	return func(f *fakeNotifier, id uint32) { f.emit(notifyClosedSig, id, reason) }
}

var allCaps = []string{"actions", "body", "persistence"}

func TestNotification(t *testing.T) {
	req := ctap2.PresenceRequest{Op: "getAssertion", RPID: "example.com", User: "alice@example.com"}
	tests := []struct {
		name      string
		react     func(*fakeNotifier, uint32)
		timeout   time.Duration
		want      error
		wantClose bool // vauth withdrew the notification
	}{
		{name: "allow", react: later(action("allow")), want: nil, wantClose: true},
		{name: "allow before the reply", react: action("allow"), want: nil, wantClose: true},
		{name: "deny", react: later(action("deny")), want: ctap2.ErrDenied, wantClose: true},
		{name: "dismissed", react: later(closedBy(2)), want: ctap2.ErrDenied},
		{name: "expired by the server", react: later(closedBy(1)), want: ctap2.ErrTimeout},
		{name: "body click decides nothing", react: later(func(f *fakeNotifier, id uint32) {
			f.emit(notifyActionSig, id, "default")
			f.emit(notifyActionSig, id, "deny")
		}), want: ctap2.ErrDenied, wantClose: true},
		{name: "another notification's answer is ignored", react: later(func(f *fakeNotifier, id uint32) {
			f.emit(notifyActionSig, id+100, "allow")
		}), timeout: 80 * time.Millisecond, want: ctap2.ErrTimeout, wantClose: true},
		{name: "timeout", timeout: 50 * time.Millisecond, want: ctap2.ErrTimeout, wantClose: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := startBus(t)
			f := serveNotifications(t, addr, allCaps, tc.react)
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 10 * time.Second
			}
			p, err := Notification(connect(t, addr), timeout)
			if err != nil {
				t.Fatalf("Notification: %v", err)
			}
			if err := p.Confirm(context.Background(), req); !errors.Is(err, tc.want) {
				t.Fatalf("Confirm = %v, want %v", err, tc.want)
			}
			calls, closed := f.snapshot()
			if len(calls) != 1 {
				t.Fatalf("%d Notify calls, want 1", len(calls))
			}
			c := calls[0]
			if c.App != "vauth" || c.Summary != "vauth: sign in on example.com" || c.Body != "Account: alice@example.com" {
				t.Errorf("Notify(app %q, summary %q, body %q)", c.App, c.Summary, c.Body)
			}
			if want := []string{"allow", "Allow", "deny", "Deny"}; !slices.Equal(c.Actions, want) {
				t.Errorf("actions = %q, want %q", c.Actions, want)
			}
			if u, ok := c.Hints["urgency"].Value().(byte); !ok || u != 2 {
				t.Errorf("urgency hint = %v, want byte 2 (critical)", c.Hints["urgency"])
			}
			if c.Timeout != int32(timeout.Milliseconds()) {
				t.Errorf("expire timeout = %d ms, want %d", c.Timeout, timeout.Milliseconds())
			}
			if got := slices.Contains(closed, 1); got != tc.wantClose {
				t.Errorf("CloseNotification called: %v, want %v (closed %v)", got, tc.wantClose, closed)
			}
		})
	}
}

func TestNotificationCancel(t *testing.T) {
	addr := startBus(t)
	f := serveNotifications(t, addr, allCaps, nil)
	p, err := Notification(connect(t, addr), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Confirm(ctx, ctap2.PresenceRequest{Op: "makeCredential", RPID: "example.com"}) }()
	id := <-f.notified
	cancel()
	if err := result(t, done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Confirm = %v, want context.Canceled", err)
	}
	if _, closed := f.snapshot(); !slices.Equal(closed, []uint32{id}) {
		t.Errorf("closed notifications %v, want [%d]", closed, id)
	}
}

// TestNotificationSpoofedSignal checks that another program on the bus cannot
// answer for the notification server.
func TestNotificationSpoofedSignal(t *testing.T) {
	addr := startBus(t)
	spoofer := connect(t, addr)
	// Another user of vauth's connection subscribes to every notification
	// signal, so the bus's own sender filter no longer keeps the forgery out.
	conn := connect(t, addr)
	if err := conn.AddMatchSignal(dbus.WithMatchInterface(notifyIface)); err != nil {
		t.Fatal(err)
	}
	serveNotifications(t, addr, allCaps, later(func(_ *fakeNotifier, id uint32) {
		_ = spoofer.Emit(notifyPath, notifyActionSig, id, "allow")
	}))
	p, err := Notification(conn, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Confirm(context.Background(), siteReq); !errors.Is(err, ctap2.ErrTimeout) {
		t.Fatalf("Confirm = %v, want ErrTimeout (a forged Allow must not count)", err)
	}
}

func TestNotificationMarkup(t *testing.T) {
	addr := startBus(t)
	f := serveNotifications(t, addr, append([]string{"body-markup"}, allCaps...), later(action("deny")))
	p, err := Notification(connect(t, addr), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Confirm(context.Background(), ctap2.PresenceRequest{Op: "getAssertion", RPID: "example.com", User: "<b>a&b</b>"})
	calls, _ := f.snapshot()
	if len(calls) != 1 || calls[0].Body != "Account: &lt;b&gt;a&amp;b&lt;/b&gt;" {
		t.Fatalf("Notify calls %+v, want the account escaped for markup", calls)
	}
}

func TestNotificationUnavailable(t *testing.T) {
	tests := []struct {
		name    string
		caps    []string // nil: no server at all
		wantMsg string
	}{
		{name: "no actions capability", caps: []string{"body", "body-markup"}, wantMsg: `no "actions" capability`},
		{name: "no server", wantMsg: "no desktop notification server"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := startBus(t)
			if tc.caps != nil {
				serveNotifications(t, addr, tc.caps, nil)
			}
			p, err := Notification(connect(t, addr), time.Second)
			if err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("Notification = %v, %v; want an error containing %q", p, err, tc.wantMsg)
			}
		})
	}
}

func TestNotificationConcurrent(t *testing.T) {
	addr := startBus(t)
	// Allow the first notification, deny the second: each Confirm must get
	// the answer to its own notification.
	f := serveNotifications(t, addr, allCaps, nil)
	p, err := Notification(connect(t, addr), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	reqs := []ctap2.PresenceRequest{
		{Op: "getAssertion", RPID: "a.example"},
		{Op: "getAssertion", RPID: "b.example"},
	}
	results := make([]chan error, len(reqs))
	for i, r := range reqs {
		results[i] = make(chan error, 1)
		go func() { results[i] <- p.Confirm(context.Background(), r) }()
	}
	ids := []uint32{<-f.notified, <-f.notified}
	calls, _ := f.snapshot()
	answer := map[string]string{"vauth: sign in on a.example": "allow", "vauth: sign in on b.example": "deny"}
	for i, id := range ids {
		f.emit(notifyActionSig, id, answer[calls[i].Summary])
	}
	for i, want := range []error{nil, ctap2.ErrDenied} {
		if err := result(t, results[i]); !errors.Is(err, want) {
			t.Errorf("Confirm(%s) = %v, want %v", reqs[i].RPID, err, want)
		}
	}
}
