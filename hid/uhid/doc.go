// Package uhid presents vauth to the operating system as a USB FIDO security
// key through Linux /dev/uhid, and opens /dev/hidraw nodes from the host
// side.
//
// A Device created here is a kernel HID device with the FIDO report
// descriptor (usage page 0xF1D0, usage CTAPHID, 64-byte input and output
// reports, no report ID) on bus type USB, because libfido2 lists only USB
// devices. The kernel's hid-generic driver binds it and creates a
// /dev/hidrawN node that browsers, libfido2 and python-fido2 use exactly as
// they use a hardware key. Device and the host-side hidraw transport both
// implement hid.Transport: they move whole 64-byte reports and know nothing
// of CTAPHID.
//
// /dev/uhid needs root or a udev rule that grants a group access to it; the
// errors ErrNotFound and ErrPermission say which of the two is missing.
package uhid
