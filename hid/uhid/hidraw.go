//go:build linux

package uhid

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vauth/vauth/hid"
)

// sysClassHidraw lists the kernel's hidraw nodes; each entry's device/uevent
// describes the HID device behind it.
const sysClassHidraw = "/sys/class/hidraw"

// hidrawPollInterval is how often WaitHidraw looks for the node.
const hidrawPollInterval = 5 * time.Millisecond

// hidIdentity is how the kernel's uevent of a HID device names it.
type hidIdentity struct {
	bus              uint16
	vendor, product  uint32
	name, phys, uniq string
}

// identity is what the kernel reports for a device created with c.
func (c Config) identity() hidIdentity {
	return hidIdentity{bus: busUSB, vendor: uint32(c.VendorID), product: uint32(c.ProductID), name: c.Name, phys: c.Phys, uniq: c.Uniq}
}

// parseUevent reads the HID_ID, HID_NAME, HID_PHYS and HID_UNIQ lines of a
// HID device's uevent file. HID_ID is "BBBB:VVVVVVVV:PPPPPPPP" in hex.
func parseUevent(uevent []byte) (hidIdentity, error) {
	var id hidIdentity
	haveID := false
	sc := bufio.NewScanner(bytes.NewReader(uevent))
	for sc.Scan() {
		key, value, _ := strings.Cut(sc.Text(), "=")
		switch key {
		case "HID_ID":
			parts := strings.Split(value, ":")
			if len(parts) != 3 {
				return hidIdentity{}, fmt.Errorf("uhid: bad HID_ID %q", value)
			}
			bus, err1 := strconv.ParseUint(parts[0], 16, 16)
			vendor, err2 := strconv.ParseUint(parts[1], 16, 32)
			product, err3 := strconv.ParseUint(parts[2], 16, 32)
			if err := errors.Join(err1, err2, err3); err != nil {
				return hidIdentity{}, fmt.Errorf("uhid: bad HID_ID %q: %w", value, err)
			}
			id.bus, id.vendor, id.product = uint16(bus), uint32(vendor), uint32(product)
			haveID = true
		case "HID_NAME":
			id.name = value
		case "HID_PHYS":
			id.phys = value
		case "HID_UNIQ":
			id.uniq = value
		}
	}
	if err := sc.Err(); err != nil {
		return hidIdentity{}, fmt.Errorf("uhid: read uevent: %w", err)
	}
	if !haveID {
		return hidIdentity{}, errors.New("uhid: uevent has no HID_ID")
	}
	return id, nil
}

// findHidraw returns the /dev paths of the hidraw nodes whose HID device is
// want, by the kernel's sysfs description.
func findHidraw(want hidIdentity) ([]string, error) {
	entries, err := os.ReadDir(sysClassHidraw)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // no hidraw node at all yet
	}
	if err != nil {
		return nil, fmt.Errorf("uhid: list hidraw nodes: %w", err)
	}
	var paths []string
	for _, e := range entries {
		uevent, err := os.ReadFile(filepath.Join(sysClassHidraw, e.Name(), "device", "uevent"))
		if err != nil {
			continue // removed meanwhile
		}
		if id, err := parseUevent(uevent); err == nil && id == want {
			paths = append(paths, filepath.Join("/dev", e.Name()))
		}
	}
	return paths, nil
}

// WaitHidraw returns the path of the /dev/hidrawN node the kernel created for
// the device, waiting until both its sysfs entry and its device node exist
// or ctx ends. No node appears unless a HID driver (hid-generic) binds the
// device; on a desktop udev loads it.
func (d *Device) WaitHidraw(ctx context.Context) (string, error) {
	want := d.cfg.identity()
	tick := time.NewTicker(hidrawPollInterval)
	defer tick.Stop()
	for {
		paths, err := findHidraw(want)
		if err != nil {
			return "", err
		}
		if len(paths) > 1 {
			return "", fmt.Errorf("uhid: several hidraw nodes (%s) have this device's IDs, name and serial %q", strings.Join(paths, ", "), want.uniq)
		}
		if len(paths) == 1 {
			if _, err := os.Stat(paths[0]); err == nil {
				return paths[0], nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("uhid: no hidraw node for the device (is the hid-generic module loaded?): %w", context.Cause(ctx))
		case <-d.closed:
			return "", fmt.Errorf("uhid: wait for hidraw node: %w", os.ErrClosed)
		case <-tick.C:
		}
	}
}

// hidraw is the host side of a FIDO device: a /dev/hidrawN node.
type hidraw struct {
	f *os.File
}

// OpenHidraw opens a hidraw node as a host, as libfido2 does, after checking
// that its report descriptor is that of a CTAPHID device with 64-byte
// reports (ErrNotFIDO otherwise). The returned transport's ReadReport
// returns the device's input reports and io.EOF once the device is gone;
// WriteReport writes output reports.
func OpenHidraw(path string) (hid.Transport, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("uhid: open %s: %w", path, err)
	}
	if err := checkFIDO(fd); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("uhid: %s: %w", path, err)
	}
	return &hidraw{f: os.NewFile(uintptr(fd), path)}, nil
}

// checkFIDO reads the report descriptor of an open hidraw node and checks
// that it describes a FIDO device.
func checkFIDO(fd int) error {
	size, err := unix.IoctlGetUint32(fd, unix.HIDIOCGRDESCSIZE)
	if err != nil {
		return fmt.Errorf("read report descriptor size: %w", err)
	}
	var rd unix.HIDRawReportDescriptor
	if size > uint32(len(rd.Value)) {
		return fmt.Errorf("report descriptor of %d bytes: %w", size, ErrNotFIDO)
	}
	rd.Size = size
	if err := unix.IoctlHIDGetDesc(fd, &rd); err != nil {
		return fmt.Errorf("read report descriptor: %w", err)
	}
	info, err := parseDescriptor(rd.Value[:size])
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotFIDO, err)
	}
	if !info.isFIDO() {
		return fmt.Errorf("%w: usage page %#04x, usage %#02x, input %d bits, output %d bits, report IDs %t",
			ErrNotFIDO, info.usagePage, info.usage, info.inputBits, info.outputBits, info.numbered)
	}
	return nil
}

// ReadReport returns the next input report. hidraw hands out one report per
// read, without a report ID for a device that has none.
func (h *hidraw) ReadReport() ([]byte, error) {
	report := make([]byte, hid.ReportSize)
	if _, err := h.f.Read(report); err != nil {
		// EIO: the device went away (hidraw reports that to readers).
		if errors.Is(err, os.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, unix.EIO) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("uhid: read %s: %w", h.f.Name(), err)
	}
	return report, nil
}

// WriteReport writes report as an output report, preceded by report ID 0 as
// hidraw expects for a device without report IDs.
func (h *hidraw) WriteReport(report []byte) error {
	if len(report) != hid.ReportSize {
		return fmt.Errorf("uhid: report is %d bytes, want %d", len(report), hid.ReportSize)
	}
	buf := make([]byte, 1+hid.ReportSize)
	copy(buf[1:], report)
	if _, err := h.f.Write(buf); err != nil {
		return fmt.Errorf("uhid: write %s: %w", h.f.Name(), err)
	}
	return nil
}

// Close closes the hidraw node; a ReadReport blocked in another goroutine
// returns io.EOF.
func (h *hidraw) Close() error {
	return h.f.Close()
}
