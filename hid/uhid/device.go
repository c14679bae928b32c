//go:build linux

package uhid

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/vauth/vauth/hid"
)

// devicePath is the uhid character device of the Linux kernel.
const devicePath = "/dev/uhid"

// reportQueue is how many output reports wait for ReadReport before the
// device stops taking events from the kernel. uhid has no flow control: once
// the kernel's own 32-event queue is full it drops reports, so this queue
// holds two whole maximum-size CTAPHID messages (129 reports each) and the
// reader never stalls behind a busy handler.
const reportQueue = 2 * 129

// Device is a kernel HID device backed by /dev/uhid. It implements
// hid.Transport: ReadReport returns the output reports a host writes to the
// device's hidraw node, WriteReport sends input reports to the host.
//
// A goroutine reads the kernel's events from the moment Create returns, so
// the kernel's requests are answered and Opened stays current even while
// nobody calls ReadReport.
type Device struct {
	f   *os.File
	cfg Config

	reports  chan []byte
	closed   chan struct{} // closed by Close
	readDone chan struct{} // closed when readEvents returns
	readErr  error         // why readEvents returned; read after readDone

	opened atomic.Bool

	closeOnce sync.Once
	closeErr  error
}

var _ hid.Transport = (*Device)(nil)

// Create opens /dev/uhid and creates a HID device with the FIDO report
// descriptor on the USB bus, as cfg describes. The device exists until Close
// (or until the process exits). The kernel creates its hidraw node shortly
// after Create returns; WaitHidraw waits for it.
func Create(cfg Config) (*Device, error) {
	return create(cfg, reportDescriptor)
}

// create is Create with any report descriptor, so that tests can make
// devices that are not FIDO keys.
func create(cfg Config, descriptor []byte) (*Device, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	// Non-blocking, so that the runtime poller waits for events and Close
	// can interrupt a pending read.
	fd, err := unix.Open(devicePath, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, openError(err)
	}
	f := os.NewFile(uintptr(fd), devicePath)
	if _, err := f.Write(encodeCreate2(cfg, descriptor)); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("uhid: create device: %w", err)
	}
	d := &Device{
		f:        f,
		cfg:      cfg,
		reports:  make(chan []byte, reportQueue),
		closed:   make(chan struct{}),
		readDone: make(chan struct{}),
	}
	go d.readEvents()
	return d, nil
}

// openError explains why /dev/uhid could not be opened.
func openError(err error) error {
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENODEV), errors.Is(err, unix.ENXIO):
		return fmt.Errorf("uhid: %w (%w)", ErrNotFound, err)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return fmt.Errorf("uhid: %w (%w)", ErrPermission, err)
	}
	return fmt.Errorf("uhid: open %s: %w", devicePath, err)
}

// readEvents reads the kernel's events until Close: it queues output
// reports, tracks whether a host has the device open, and refuses the
// GET_REPORT and SET_REPORT requests at once so that the kernel does not wait
// for a reply (the device has no feature reports).
func (d *Device) readEvents() {
	defer close(d.readDone)
	var buf [eventSize]byte
	for {
		n, err := d.f.Read(buf[:])
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				d.readErr = err
			}
			return
		}
		clear(buf[n:]) // the kernel may write short events
		ev := decodeEvent(&buf)
		switch ev.typ {
		case eventOutput:
			report, ok := outputReport(ev)
			if !ok {
				continue
			}
			select {
			case d.reports <- report:
			case <-d.closed:
				return
			}
		case eventOpen:
			d.opened.Store(true)
		case eventClose, eventStop:
			// STOP: the HID driver let go of the device, so no host can
			// have it open any more.
			d.opened.Store(false)
		case eventGetReport, eventSetReport:
			reply := eventGetReportReply
			if ev.typ == eventSetReport {
				reply = eventSetReportReply
			}
			if _, err := d.f.Write(encodeReply(reply, ev.id, errEIO)); err != nil {
				if !errors.Is(err, os.ErrClosed) {
					d.readErr = err
				}
				return
			}
		}
	}
}

// Opened reports whether a host has the device's hidraw node open.
func (d *Device) Opened() bool {
	return d.opened.Load()
}

// ReadReport blocks until a host writes an output report and returns its
// hid.ReportSize bytes, without the report ID byte. It keeps blocking while
// no host has the device open. After Close it returns io.EOF.
func (d *Device) ReadReport() ([]byte, error) {
	select {
	case <-d.closed:
		return nil, io.EOF
	default:
	}
	select {
	case report := <-d.reports:
		return report, nil
	case <-d.closed:
		return nil, io.EOF
	case <-d.readDone:
		select {
		case report := <-d.reports:
			return report, nil
		default:
		}
		if d.readErr != nil {
			return nil, fmt.Errorf("uhid: read event: %w", d.readErr)
		}
		return nil, io.EOF
	}
}

// WriteReport sends report, which must be hid.ReportSize bytes, to the host
// as an input report. Without a host that has the device open, the kernel
// drops it.
func (d *Device) WriteReport(report []byte) error {
	if len(report) != hid.ReportSize {
		return fmt.Errorf("uhid: report is %d bytes, want %d", len(report), hid.ReportSize)
	}
	select {
	case <-d.closed:
		return fmt.Errorf("uhid: write report: %w", os.ErrClosed)
	default:
	}
	if _, err := d.f.Write(encodeInput2(report)); err != nil {
		return fmt.Errorf("uhid: write report: %w", err)
	}
	return nil
}

// Close destroys the HID device, which removes its hidraw node, and closes
// /dev/uhid. A ReadReport blocked in another goroutine returns io.EOF.
func (d *Device) Close() error {
	d.closeOnce.Do(func() {
		close(d.closed)
		var errs []error
		if _, err := d.f.Write(encodeDestroy()); err != nil {
			errs = append(errs, fmt.Errorf("uhid: destroy device: %w", err))
		}
		if err := d.f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("uhid: close: %w", err))
		}
		<-d.readDone
		d.closeErr = errors.Join(errs...)
	})
	return d.closeErr
}
