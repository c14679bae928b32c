//go:build !linux

package main

import (
	"errors"

	"github.com/vauth/vauth/hid"
)

func openHidraw(string) (hid.Transport, error) {
	return nil, errors.New("hidraw nodes are Linux's: use --device unix:PATH")
}
