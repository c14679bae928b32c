package main

import (
	"github.com/vauth/vauth/hid"
	"github.com/vauth/vauth/hid/uhid"
)

// openHidraw opens a hidraw node of a FIDO device.
func openHidraw(path string) (hid.Transport, error) { return uhid.OpenHidraw(path) }
