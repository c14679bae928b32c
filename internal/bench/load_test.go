package bench

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/vauth/vauth/hid"
	"github.com/vauth/vauth/hid/socket"
	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/internal/presence"
)

// envLoadTime sets how long each load run lasts (make soak lengthens it).
const envLoadTime = "VAUTH_LOAD_TIME"

// loadClients is how many clients the load tests run at once.
const loadClients = 4

func loadTime(t *testing.T, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(envLoadTime)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", envLoadTime, v, err)
	}
	return d
}

// checkLoad fails the test on any error other than a busy device, and
// when nothing was answered.
func checkLoad(t *testing.T, r LoadResult) {
	t.Helper()
	t.Log(r)
	for _, err := range r.Errors {
		t.Error(err)
	}
	if r.Requests < r.Clients {
		t.Errorf("only %d requests answered for %d clients", r.Requests, r.Clients)
	}
}

// TestLoadDaemon runs clients on separate CTAPHID channels against a
// `vauth run` child over the virtual cable: no error but CHANNEL_BUSY, and
// no growth of the daemon's memory (RSS after a warm-up and after the run).
func TestLoadDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	bin, err := Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d, err := StartDaemon(bin, filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	ctx := t.Context()
	checkLoad(t, Load(ctx, d.Dial, loadClients, time.Second)) // warm-up
	before, err := d.Memory()
	if err != nil {
		t.Fatal(err)
	}
	r := Load(ctx, d.Dial, loadClients, loadTime(t, 5*time.Second))
	checkLoad(t, r)
	after, err := d.Memory()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("daemon RSS %v after the warm-up, %v after the run", before, after)
	if after.RSS > before.RSS+16<<20 || after.Anon > before.Anon+16<<20 {
		t.Errorf("daemon memory grew from %v to %v under load", before, after)
	}
	if strings.Contains(d.Log(), "level=ERROR") {
		t.Errorf("the daemon logged errors:\n%s", d.Log())
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// TestLoadGoroutines runs the load in rounds against an authenticator
// served on a socket in this process: after each round, once the clients
// have hung up, the goroutines are back to what they were and the heap has
// not grown.
func TestLoadGoroutines(t *testing.T) {
	d, err := daemon.Open(daemon.Options{Store: filepath.Join(t.TempDir(), "store"), Keystore: daemon.BackendSoft, Attestation: "none", Presence: presence.Always()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	path := filepath.Join(t.TempDir(), "vauth.sock")
	l, err := socket.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- socket.Serve(ctx, l, d.Device) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()
	dial := func() (*hid.Client, error) {
		tr, err := socket.Dial(path)
		if err != nil {
			return nil, err
		}
		return hid.NewClient(tr)
	}
	checkLoad(t, Load(ctx, dial, loadClients, time.Second)) // warm-up
	goroutines, heap := settle(t, 0)
	for round := range 3 {
		checkLoad(t, Load(ctx, dial, loadClients, loadTime(t, time.Second)))
		g, h := settle(t, goroutines)
		t.Logf("round %d: %d goroutines (%d before), heap %.2f MiB (%.2f MiB before)", round, g, goroutines, mib(int64(h)), mib(int64(heap)))
		if g > goroutines {
			var dump strings.Builder
			pprof.Lookup("goroutine").WriteTo(&dump, 1)
			t.Fatalf("round %d: %d goroutines after the clients left, %d before:\n%s", round, g, goroutines, dump.String())
		}
		if h > heap+4<<20 {
			t.Errorf("round %d: heap grew from %.2f MiB to %.2f MiB", round, mib(int64(heap)), mib(int64(h)))
		}
	}
}

// settle waits up to 5 s for the goroutines to come down to want (0: to
// stop changing), then collects garbage, and returns the goroutines and
// the live heap.
func settle(t *testing.T, want int) (int, uint64) {
	t.Helper()
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		m := runtime.NumGoroutine()
		if (want > 0 && m <= want) || (want == 0 && m == n) {
			n = m
			break
		}
		n = m
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return n, ms.HeapAlloc
}
