package uhid

import "errors"

// Errors a caller (the CLI) tells apart with errors.Is to print what to do.
var (
	// ErrNotFound means /dev/uhid does not exist: the kernel lacks the uhid
	// module or has not loaded it.
	ErrNotFound = errors.New("/dev/uhid not found; load the uhid kernel module (modprobe uhid) or run with --transport unix:PATH")
	// ErrPermission means /dev/uhid exists but this user may not open it.
	ErrPermission = errors.New("no read-write access to /dev/uhid; install vauth's udev rule and join its group, or run with --transport unix:PATH")
	// ErrConfig is wrapped by the errors Create returns for an invalid Config.
	ErrConfig = errors.New("invalid uhid device configuration")
	// ErrNotFIDO means a hidraw node is not a CTAPHID device with 64-byte
	// reports, so OpenHidraw refuses to send it CTAPHID packets.
	ErrNotFIDO = errors.New("not a FIDO CTAPHID device with 64-byte reports")
)
