package main

import (
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/vauth/vauth/internal/daemon"
)

// globals are the flags every command shares.
type globals struct {
	store   string
	verbose bool
	daemon  bool // a long-running command: log its events at Info
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "vauth",
		Short:         "A software FIDO2 security key",
		Long:          "vauth is a software FIDO2/CTAP2 security key that browsers, libfido2, OpenSSH and\npython-fido2 use like a hardware key, and a test fixture for WebAuthn relying parties.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().StringVar(&g.store, "store", "", "store directory (default $XDG_DATA_HOME/vauth)")
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log every CTAP command and its status")
	root.AddCommand(newRunCmd(g), newDemoCmd(g), newInfoCmd(g), newCtlCmd(g), newVersionCmd())
	root.AddCommand(newHybridCmd(g), newTunnelServerCmd(g))
	root.AddCommand(newCredsCmd(g), newPINCmd(g), newResetCmd(g), newLogCmd(g), newDecodeCmd(), newMetadataCmd(g), newManCmd(root))
	return root
}

func (g *globals) storeDir() (string, error) {
	if g.store != "" {
		return g.store, nil
	}
	return daemon.DefaultStore()
}

func (g *globals) logger() *slog.Logger {
	level := slog.LevelWarn
	if g.daemon {
		level = slog.LevelInfo
	}
	if g.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}
