package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/hid/socket"
	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/internal/demo"
	"github.com/vauth/vauth/internal/presence"
)

// authFlags configure the authenticator itself, for run and demo alike.
type authFlags struct {
	keystore    string
	tpm         string
	attestation string
	aaguid      string
	uv          string
}

func (f *authFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.keystore, "keystore", "auto", "where keys live: tpm, soft, or auto (the TPM when one is usable when the store is created; a store keeps its backend)")
	cmd.Flags().StringVar(&f.tpm, "tpm", "", "the TPM: a device (default /dev/tpmrm0) or tcp:HOST:PORT (swtpm, simulators)")
	cmd.Flags().StringVar(&f.attestation, "attestation", "", "attestation: none, self (packed self attestation), packed (basic, x5c from vauth's CA) or tpm; default tpm on a TPM store, else packed")
	cmd.Flags().StringVar(&f.aaguid, "aaguid", attestation.FormatAAGUID(attestation.DefaultAAGUID), "the authenticator's AAGUID")
	cmd.Flags().StringVar(&f.uv, "uv", "never", "built-in user verification: never (none: getInfo has no uv), always (every verification succeeds: CI), prompt (ask on the terminal)")
}

// builtInUV is the ctap2.Config.UV of a --uv value.
func builtInUV(mode string) (ctap2.Presence, error) {
	switch mode {
	case "never":
		return nil, nil
	case "always":
		return presence.Always(), nil
	case "prompt":
		p, _, err := presence.New(string(presence.ModePrompt), presence.AutoOptions{})
		return p, err
	}
	return nil, fmt.Errorf("--uv %q: want never, always or prompt", mode)
}

func (f *authFlags) options(g *globals) (daemon.Options, error) {
	dir, err := g.storeDir()
	if err != nil {
		return daemon.Options{}, err
	}
	aaguid, err := attestation.ParseAAGUID(f.aaguid)
	if err != nil {
		return daemon.Options{}, usageError{fmt.Errorf("--aaguid: %w", err)}
	}
	uv, err := builtInUV(f.uv)
	if err != nil {
		return daemon.Options{}, usageError{err}
	}
	return daemon.Options{
		Store:       dir,
		Keystore:    f.keystore,
		TPM:         f.tpm,
		Attestation: f.attestation,
		AAGUID:      aaguid,
		UV:          uv,
		Logger:      g.logger(),
	}, nil
}

// uhidFlags name the USB identity of the uhid device.
type uhidFlags struct {
	vid, pid uint16
}

func newRunCmd(g *globals) *cobra.Command {
	var (
		af              authFlags
		uf              uhidFlags
		transport       string
		presenceMode    string
		presenceTimeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Serve the security key until stopped (Ctrl-C, SIGTERM)",
		Long: "Serve the authenticator until interrupted.\n\n" +
			"  --transport uhid        (default) a USB HID security key through /dev/uhid, seen by\n" +
			"                          browsers, libfido2, OpenSSH and python-fido2 like a hardware key\n" +
			"  --transport unix:PATH   the virtual cable: a Unix SOCK_SEQPACKET socket carrying\n" +
			"                          one 64-byte CTAPHID report per message",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			g.daemon = true
			opts, err := af.options(g)
			if err != nil {
				return err
			}
			socketPath, isSocket := strings.CutPrefix(transport, "unix:")
			if (isSocket && socketPath == "") || (!isSocket && transport != "uhid") {
				return usageError{fmt.Errorf("--transport %q: want uhid or unix:PATH", transport)}
			}
			p, kind, err := presence.New(presenceMode, presence.AutoOptions{Timeout: presenceTimeout})
			if err != nil {
				return usageError{err}
			}
			opts.Presence = p
			d, err := daemon.Open(opts)
			if err != nil {
				return err
			}
			defer d.Close()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log := opts.Logger.With("store", opts.Store, "keystore", d.Keystore.Backend(), "presence", kind)
			if isSocket {
				l, err := socket.Listen(socketPath)
				if err != nil {
					return err
				}
				defer l.Close()
				log.Info("serving", "transport", "unix", "socket", socketPath)
				err = socket.Serve(ctx, l, d.Device)
				if ctx.Err() == nil {
					return err
				}
			} else if err := serveUHID(ctx, d, uf, log); err != nil {
				return err
			}
			log.Info("stopped")
			return nil
		},
	}
	af.register(cmd)
	cmd.Flags().StringVar(&transport, "transport", "uhid", "where to serve: uhid or unix:PATH")
	cmd.Flags().Uint16Var(&uf.vid, "vid", 0, "USB vendor ID of the uhid device (default 0x1209, pid.codes)")
	cmd.Flags().Uint16Var(&uf.pid, "pid", 0, "USB product ID of the uhid device (default 0x0001)")
	cmd.Flags().StringVar(&presenceMode, "presence", "auto", "how to confirm user presence: auto (desktop notification, else pinentry, else terminal), prompt (terminal), always, never")
	cmd.Flags().DurationVar(&presenceTimeout, "presence-timeout", 30*time.Second, "how long a presence prompt waits")
	return cmd
}

func newDemoCmd(g *globals) *cobra.Command {
	var af authFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Register a passkey and sign in with it at an in-process relying party",
		Long: "Run a complete passkey registration and two sign-ins through the full stack\n" +
			"(CTAPHID framing, CTAP2, the keystore) against go-webauthn as the relying party,\n" +
			"and print what the relying party received and verified. Without --store the\n" +
			"demo uses a temporary soft store, so it never touches your credentials.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.store == "" {
				tmp, err := os.MkdirTemp("", "vauth-demo-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(tmp)
				g.store = tmp
				if !cmd.Flags().Changed("keystore") {
					af.keystore = "soft"
				}
			}
			opts, err := af.options(g)
			if err != nil {
				return err
			}
			opts.Presence = presence.Always()
			d, err := daemon.Open(opts)
			if err != nil {
				return err
			}
			defer d.Close()
			return demo.Run(cmd.Context(), cmd.OutOrStdout(), d)
		},
	}
	af.register(cmd)
	return cmd
}
