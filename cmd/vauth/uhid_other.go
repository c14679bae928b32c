//go:build !linux

package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/vauth/vauth/internal/daemon"
)

func serveUHID(context.Context, *daemon.Daemon, uhidFlags, *slog.Logger) error {
	return errors.New("the uhid transport needs Linux: use --transport unix:PATH")
}

// uhidMaxMsgSize matches the Linux build; the uhid transport is refused here.
const uhidMaxMsgSize = 1200
