package presence

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pinentryDir returns a directory holding the fake pinentry under each of
// names, for use as PATH.
func pinentryDir(t *testing.T, names ...string) string {
	t.Helper()
	exe, _ := fakePinentryPath(t, "allow")
	dir := t.TempDir()
	for _, name := range names {
		if err := os.Symlink(exe, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// noSession clears what Auto looks at in the environment.
func noSession(t *testing.T) {
	t.Helper()
	for _, v := range []string{"DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY", "GPG_TTY"} {
		t.Setenv(v, "")
	}
	t.Setenv("PATH", t.TempDir())
}

func TestAuto(t *testing.T) {
	// Each setup prepares the session and returns the name Auto should give
	// and, when the prompt needs a person, what the person does.
	tests := []struct {
		name  string
		setup func(t *testing.T, opts *AutoOptions) (want string, person func())
	}{
		{
			name: "notification when the server shows buttons",
			setup: func(t *testing.T, opts *AutoOptions) (string, func()) {
				addr := startBus(t)
				serveNotifications(t, addr, allCaps, later(action("allow")))
				noSession(t)
				t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
				return "notification", nil
			},
		},
		{
			name: "pinentry when the server has no buttons",
			setup: func(t *testing.T, opts *AutoOptions) (string, func()) {
				addr := startBus(t)
				serveNotifications(t, addr, []string{"body"}, nil)
				noSession(t)
				dir := pinentryDir(t, "pinentry")
				t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
				t.Setenv("DISPLAY", ":99")
				t.Setenv("PATH", dir)
				return "pinentry (" + filepath.Join(dir, "pinentry") + ")", nil
			},
		},
		{
			name: "pinentry when the bus is unreachable",
			setup: func(t *testing.T, opts *AutoOptions) (string, func()) {
				noSession(t)
				dir := pinentryDir(t, "pinentry-gnome3", "pinentry-curses")
				t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "gone"))
				t.Setenv("WAYLAND_DISPLAY", "wayland-0")
				t.Setenv("PATH", dir)
				return "pinentry (" + filepath.Join(dir, "pinentry-gnome3") + ")", nil
			},
		},
		{
			name: "terminal when nothing else",
			setup: func(t *testing.T, opts *AutoOptions) (string, func()) {
				noSession(t)
				master, slave := openPTY(t)
				opts.In = slave
				watch(master)
				out := &transcript{}
				opts.Out = out
				return "terminal", func() {
					waitFor(t, func() bool { return out.prompts() == 1 })
					if _, err := master.WriteString("y\n"); err != nil {
						t.Fatal(err)
					}
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := AutoOptions{Timeout: 10 * time.Second}
			want, person := tc.setup(t, &opts)
			p, name, err := Auto(opts)
			if err != nil {
				t.Fatalf("Auto: %v", err)
			}
			if name != want {
				t.Fatalf("Auto chose %q, want %q", name, want)
			}
			done := confirmAsync(context.Background(), p, siteReq)
			if person != nil {
				person()
			}
			if err := result(t, done); err != nil {
				t.Fatalf("Confirm through %s = %v, want approval", name, err)
			}
		})
	}
}

func TestAutoNothingAvailable(t *testing.T) {
	noSession(t)
	t.Setenv("DISPLAY", ":99") // a display, but no pinentry on PATH
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	_, _, err = Auto(AutoOptions{In: r})
	if err == nil {
		t.Fatal("Auto succeeded with no way to ask")
	}
	for _, want := range []string{"DBUS_SESSION_BUS_ADDRESS is not set", "none found on PATH", "not a terminal", "--presence always"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestConnectBusSilent checks that a bus that accepts but never answers does
// not stall Auto.
func TestConnectBusSilent(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "silent")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
		}
	}()
	start := time.Now()
	conn, err := connectBus("unix:path="+sock, 100*time.Millisecond)
	if err == nil {
		conn.Close()
		t.Fatal("connectBus succeeded against a silent bus")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("connectBus took %v to give up", d)
	}
}
