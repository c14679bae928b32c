package main

import (
	"context"
	"log/slog"

	"github.com/vauth/vauth/hid/uhid"
	"github.com/vauth/vauth/internal/daemon"
)

// uhidMaxMsgSize is the largest CTAP message vauth takes over uhid, as
// hardware keys commonly report. uhid has no flow control: the kernel keeps
// 32 output reports for the device and drops the rest of a faster burst, so
// messages are kept to at most 21 reports; platforms fragment large blobs
// and split credential lists by what getInfo reports.
const uhidMaxMsgSize = 1200

// serveUHID presents d as a USB HID security key until ctx ends, then
// destroys the device.
func serveUHID(ctx context.Context, d *daemon.Daemon, f uhidFlags, log *slog.Logger) error {
	serial, err := d.Serial()
	if err != nil {
		return err
	}
	dev, err := uhid.Create(uhid.Config{VendorID: f.vid, ProductID: f.pid, Uniq: serial})
	if err != nil {
		return err // its message says what to do: modprobe, the udev rule, or the socket
	}
	defer dev.Close()
	node, err := dev.WaitHidraw(ctx)
	if err != nil {
		return err
	}
	log.Info("serving", "transport", "uhid", "hidraw", node, "serial", serial)
	err = d.Device.Serve(ctx, dev)
	if ctx.Err() != nil {
		return nil
	}
	return err
}
