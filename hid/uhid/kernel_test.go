//go:build linux

package uhid

// Tests against the real kernel HID stack. They need /dev/uhid and the
// hid-generic driver, so on a kernel without uhid they skip; run them in a VM
// as the skip message says.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vauth/vauth/hid"
)

const vmHint = `run them in a VM whose kernel has uhid, from the project root: go test -exec "$PWD/../shared/tools/run-in-vm.sh" ./hid/uhid (see shared/docs/VM-E2E.md)`

// waitLimit bounds every wait for the kernel; the VM runs without KVM.
const waitLimit = 10 * time.Second

func requireUhid(t *testing.T) {
	t.Helper()
	if err := unix.Access(devicePath, unix.R_OK|unix.W_OK); err != nil {
		t.Skipf("these tests need %s (%v); %s", devicePath, err, vmHint)
	}
}

var serials atomic.Int32

// testSerial returns a serial number no other device of this process has.
func testSerial() string {
	return fmt.Sprintf("vauth-test-%d-%d", os.Getpid(), serials.Add(1))
}

// newDevice creates a device with descriptor, closed when the test ends, and
// returns it with its hidraw node and how long the node took to appear.
func newDevice(t *testing.T, cfg Config, descriptor []byte) (*Device, string, time.Duration) {
	t.Helper()
	requireUhid(t)
	if cfg.Uniq == "" {
		cfg.Uniq = testSerial()
	}
	start := time.Now()
	d, err := create(cfg, descriptor)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	path, err := d.WaitHidraw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return d, path, time.Since(start)
}

// openRaw opens a hidraw node as a plain file descriptor, to see the exact
// bytes a host like hidapi or python-fido2 writes and reads.
func openRaw(t *testing.T, path string) int {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// readRaw reads one input report from a hidraw descriptor opened by openRaw.
func readRaw(t *testing.T, fd int) []byte {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, int(waitLimit/time.Millisecond)); err != nil || n == 0 {
		t.Fatalf("poll hidraw: %d, %v", n, err)
	}
	buf := make([]byte, 256)
	n, err := unix.Read(fd, buf)
	if err != nil {
		t.Fatalf("read hidraw: %v", err)
	}
	return buf[:n]
}

type readResult struct {
	report []byte
	err    error
}

// readAsync calls ReadReport in a goroutine.
func readAsync(tr hid.Transport) <-chan readResult {
	c := make(chan readResult, 1)
	go func() {
		r, err := tr.ReadReport()
		c <- readResult{r, err}
	}()
	return c
}

func await(t *testing.T, c <-chan readResult) readResult {
	t.Helper()
	select {
	case r := <-c:
		return r
	case <-time.After(waitLimit):
		t.Fatal("ReadReport did not return")
		return readResult{}
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(waitLimit); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

func pattern(seed byte) []byte {
	r := make([]byte, hid.ReportSize)
	for i := range r {
		r[i] = seed + byte(i)*7
	}
	return r
}

func TestKernelIdentity(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"defaults", Config{}},
		{"custom", Config{VendorID: 0xfeed, ProductID: 0xbeef, Name: "Test Key", Phys: "vauth/test", Uniq: "SERIAL~!0", Version: 0x0210}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, path, took := newDevice(t, tc.cfg, reportDescriptor)
			t.Logf("%s appeared %v after Create", path, took)
			want := d.cfg
			fd := openRaw(t, path)

			info, err := unix.IoctlHIDGetRawInfo(fd)
			if err != nil {
				t.Fatal(err)
			}
			if info.Bustype != unix.BUS_USB || uint16(info.Vendor) != want.VendorID || uint16(info.Product) != want.ProductID {
				t.Errorf("HIDIOCGRAWINFO = bus %d %04x:%04x, want USB %04x:%04x", info.Bustype, uint16(info.Vendor), uint16(info.Product), want.VendorID, want.ProductID)
			}
			for _, s := range []struct {
				field string
				get   func(int) (string, error)
				want  string
			}{
				{"name", unix.IoctlHIDGetRawName, want.Name},
				{"phys", unix.IoctlHIDGetRawPhys, want.Phys},
				{"uniq", unix.IoctlHIDGetRawUniq, want.Uniq},
			} {
				if got, err := s.get(fd); err != nil || got != s.want {
					t.Errorf("hidraw %s = %q, %v; want %q", s.field, got, err, s.want)
				}
			}

			sysfs, err := os.ReadFile(filepath.Join(sysClassHidraw, filepath.Base(path), "device", "report_descriptor"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sysfs, reportDescriptor) {
				t.Errorf("report descriptor in sysfs = % x, want % x", sysfs, reportDescriptor)
			}
			if err := checkFIDO(fd); err != nil {
				t.Errorf("checkFIDO: %v", err)
			}
		})
	}
}

// TestKernelNodeLatency measures how long the kernel takes from Create to a
// usable hidraw node, polling more finely than WaitHidraw does.
func TestKernelNodeLatency(t *testing.T) {
	requireUhid(t)
	var took []time.Duration
	for range 5 {
		start := time.Now()
		d, err := Create(Config{Uniq: testSerial()})
		if err != nil {
			t.Fatal(err)
		}
		for {
			if paths, err := findHidraw(d.cfg.identity()); err == nil && len(paths) == 1 {
				if _, err := os.Stat(paths[0]); err == nil {
					break
				}
			}
			if time.Since(start) > waitLimit {
				t.Fatal("no hidraw node")
			}
			time.Sleep(100 * time.Microsecond)
		}
		took = append(took, time.Since(start))
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(took)
	t.Logf("Create to /dev/hidrawN: min %v, median %v, max %v", took[0], took[len(took)/2], took[len(took)-1])
}

func TestKernelReports(t *testing.T) {
	d, path, _ := newDevice(t, Config{}, reportDescriptor)
	if d.Opened() {
		t.Error("Opened before any host opened the node")
	}
	fd := openRaw(t, path)
	eventually(t, "Opened", d.Opened)

	// Output reports as hosts write them, and what the device must read.
	seq := pattern(1)
	writes := []struct {
		name  string
		write []byte
		want  []byte
	}{
		{"65 bytes with report ID 0 (hidapi, libfido2, python-fido2)", append([]byte{0}, seq...), seq},
		{"64 bytes without report ID, first byte non-zero", pattern(0xF0), pattern(0xF0)},
		{"64 bytes with report ID 0", append([]byte{0}, seq[:63]...), append(slices.Clone(seq[:63]), 0)},
	}
	for _, w := range writes {
		if n, err := unix.Write(fd, w.write); err != nil || n != len(w.write) {
			t.Fatalf("%s: write hidraw: %d, %v", w.name, n, err)
		}
		r := await(t, readAsync(d))
		if r.err != nil || !bytes.Equal(r.report, w.want) {
			t.Errorf("%s: ReadReport = %x, %v; want %x", w.name, r.report, r.err, w.want)
		}
	}

	in := pattern(0x42)
	if err := d.WriteReport(in); err != nil {
		t.Fatal(err)
	}
	if got := readRaw(t, fd); !bytes.Equal(got, in) {
		t.Errorf("hidraw read %x, want the 64-byte input report %x", got, in)
	}
	if err := d.WriteReport(in[:63]); err == nil {
		t.Error("WriteReport took a 63-byte report")
	}

	// With the host gone, ReadReport keeps waiting for the next host.
	unix.Close(fd)
	eventually(t, "not Opened", func() bool { return !d.Opened() })
	pending := readAsync(d)
	select {
	case r := <-pending:
		t.Fatalf("ReadReport returned %x, %v without a host", r.report, r.err)
	case <-time.After(100 * time.Millisecond):
	}
	fd = openRaw(t, path)
	if _, err := unix.Write(fd, append([]byte{0}, in...)); err != nil {
		t.Fatal(err)
	}
	if r := await(t, pending); r.err != nil || !bytes.Equal(r.report, in) {
		t.Errorf("ReadReport after reopening = %x, %v; want %x", r.report, r.err, in)
	}
}

// TestKernelReportRequestsRefused checks that the device answers the
// kernel's synchronous GET_REPORT and SET_REPORT at once with an error,
// instead of leaving the host's ioctl waiting for the kernel's 5 s timeout,
// and that HIDIOCSOUTPUT, which the kernel sends as an ordinary output report,
// arrives as one.
func TestKernelReportRequestsRefused(t *testing.T) {
	d, path, _ := newDevice(t, Config{}, reportDescriptor)
	fd := openRaw(t, path)
	// _IOC(_IOC_READ|_IOC_WRITE, 'H', nr, len) from include/uapi/linux/hidraw.h.
	ioc := func(nr, size uint) uintptr { return uintptr(3<<30 | size<<16 | 'H'<<8 | nr) }
	requests := []struct {
		name string
		nr   uint
		want unix.Errno
	}{
		{"HIDIOCSFEATURE", 0x06, unix.EIO},
		{"HIDIOCGFEATURE", 0x07, unix.EIO},
		{"HIDIOCGINPUT", 0x0A, unix.EIO},
		{"HIDIOCSOUTPUT", 0x0B, 0},
	}
	report := pattern(9)
	for _, r := range requests {
		buf := append([]byte{0}, report...) // report ID 0, then the report
		start := time.Now()
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), ioc(r.nr, uint(len(buf))), uintptr(unsafe.Pointer(&buf[0])))
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("%s took %v: the kernel waited for a reply", r.name, took)
		}
		if errno != r.want {
			t.Errorf("%s: errno %v, want %v", r.name, errno, r.want)
		}
	}
	if r := await(t, readAsync(d)); r.err != nil || !bytes.Equal(r.report, report) {
		t.Errorf("ReadReport after HIDIOCSOUTPUT = %x, %v; want %x", r.report, r.err, report)
	}
}

func TestKernelCloseRemovesNode(t *testing.T) {
	d, path, _ := newDevice(t, Config{}, reportDescriptor)
	host, err := OpenHidraw(path)
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	hostRead, devRead := readAsync(host), readAsync(d)
	time.Sleep(50 * time.Millisecond) // let both block

	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if r := await(t, devRead); r.err != io.EOF {
		t.Errorf("pending ReadReport after Close = %x, %v; want io.EOF", r.report, r.err)
	}
	if r := await(t, hostRead); r.err != io.EOF {
		t.Errorf("host ReadReport after the device went away = %x, %v; want io.EOF", r.report, r.err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s after Close: %v, want it gone", path, err)
	}
	if paths, err := findHidraw(d.cfg.identity()); err != nil || len(paths) != 0 {
		t.Errorf("sysfs still lists %v (%v)", paths, err)
	}
	if _, err := d.ReadReport(); err != io.EOF {
		t.Errorf("ReadReport after Close: %v, want io.EOF", err)
	}
	if err := d.WriteReport(pattern(0)); !errors.Is(err, os.ErrClosed) {
		t.Errorf("WriteReport after Close: %v, want os.ErrClosed", err)
	}
	if err := host.WriteReport(pattern(0)); err == nil {
		t.Error("host WriteReport to a removed device succeeded")
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestKernelOpenHidraw(t *testing.T) {
	d, path, _ := newDevice(t, Config{}, reportDescriptor)
	host, err := OpenHidraw(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		out, in := pattern(byte(i)), pattern(byte(i)+100)
		if err := host.WriteReport(out); err != nil {
			t.Fatal(err)
		}
		if r := await(t, readAsync(d)); r.err != nil || !bytes.Equal(r.report, out) {
			t.Fatalf("report %d: device read %x, %v; want %x", i, r.report, r.err, out)
		}
		if err := d.WriteReport(in); err != nil {
			t.Fatal(err)
		}
		if r := await(t, readAsync(host)); r.err != nil || !bytes.Equal(r.report, in) {
			t.Fatalf("report %d: host read %x, %v; want %x", i, r.report, r.err, in)
		}
	}
	if err := host.WriteReport(make([]byte, 65)); err == nil {
		t.Error("host WriteReport took a 65-byte report")
	}

	pending := readAsync(host)
	if err := host.Close(); err != nil {
		t.Fatal(err)
	}
	if r := await(t, pending); r.err != io.EOF {
		t.Errorf("pending host ReadReport after Close = %v, want io.EOF", r.err)
	}
	eventually(t, "not Opened after the host closed", func() bool { return !d.Opened() })
}

func TestKernelOpenHidrawRejectsOtherDevices(t *testing.T) {
	vendor := []byte{
		0x06, 0x00, 0xFF, 0x09, 0x01, 0xA1, 0x01, // Usage Page (vendor 0xFF00), Usage 1, Collection
		0x75, 0x08, 0x95, 0x40, 0x81, 0x02, 0x91, 0x02, 0xC0, // 64-byte input and output
	}
	_, path, _ := newDevice(t, Config{Name: "not a FIDO key"}, vendor)
	host, err := OpenHidraw(path)
	if err == nil {
		host.Close()
		t.Fatal("OpenHidraw opened a vendor-page device")
	}
	if !errors.Is(err, ErrNotFIDO) {
		t.Errorf("OpenHidraw error = %v, want ErrNotFIDO", err)
	}
	if _, err := OpenHidraw(filepath.Join(t.TempDir(), "hidraw-missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenHidraw of a missing node: %v, want ErrNotExist", err)
	}
}
