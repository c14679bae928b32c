package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/spf13/cobra"

	"github.com/vauth/vauth/attestation"
	"github.com/vauth/vauth/ctap2"
	"github.com/vauth/vauth/hid/socket"
	"github.com/vauth/vauth/internal/control"
	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/internal/demo"
	"github.com/vauth/vauth/internal/presence"
	"github.com/vauth/vauth/keystore"
	"github.com/vauth/vauth/keystore/soft"
)

// authFlags configure the authenticator itself, for run and demo alike.
type authFlags struct {
	keystore    string
	tpm         string
	attestation string
	aaguid      string
	uv          string
	profile     string
	enterprise  []string
	algorithms  string
	rsaBits     int
	// aaguids is --aaguid of a command that takes it repeatedly (vauth
	// metadata --blob): the first is the authenticator's.
	aaguids      []string
	multiAAGUIDs bool
}

func (f *authFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.keystore, "keystore", "auto", "where keys live: tpm, soft, or auto (the TPM when one is usable when the store is created; a store keeps its backend)")
	cmd.Flags().StringVar(&f.tpm, "tpm", "", "the TPM: a device (default /dev/tpmrm0) or tcp:HOST:PORT (swtpm, simulators)")
	cmd.Flags().StringVar(&f.attestation, "attestation", "", "attestation: none, self (packed self attestation), packed (basic, x5c from vauth's CA) or tpm; default tpm on a TPM store, else packed")
	cmd.Flags().StringSliceVar(&f.enterprise, "enterprise-rp", nil, "offer enterprise attestation (ep) and give these RP IDs a uniquely identifying statement (repeatable; a platform enables ep through authenticatorConfig)")
	aaguidHelp := "the authenticator's AAGUID: a UUID or a preset test identity (" + strings.Join(attestation.PresetNames(), ", ") + "; vauth only borrows their AAGUIDs)"
	if f.multiAAGUIDs {
		cmd.Flags().StringSliceVar(&f.aaguids, "aaguid", []string{attestation.FormatAAGUID(attestation.DefaultAAGUID)}, aaguidHelp+"; repeatable: the BLOB's entries")
	} else {
		cmd.Flags().StringVar(&f.aaguid, "aaguid", attestation.FormatAAGUID(attestation.DefaultAAGUID), aaguidHelp)
	}
	cmd.Flags().StringVar(&f.algorithms, "algorithms", "", "offer only these credential algorithms, most preferred first: names ("+strings.Join(algorithmNames(keystore.Preferred()), ",")+") or COSE numbers, comma-separated (default: all the keystore makes, in that order)")
	cmd.Flags().IntVar(&f.rsaBits, "rsa-bits", soft.DefaultRSABits, "size of new RS256 and PS256 keys on the soft keystore: 2048 or 3072 (3072 makes longer credential IDs)")
	cmd.Flags().StringVar(&f.uv, "uv", "never", "built-in user verification: never (none: getInfo has no uv), always (every verification succeeds: CI), prompt (ask on the terminal)")
	cmd.Flags().StringVar(&f.profile, "profile", ctap2.ProfileCTAP21.String(), "the authenticator to behave as: ctap2.1, ctap2.0 (a CTAP 2.0 key) or u2f (a CTAP1/U2F-only key); the store is the same for all")
}

// algorithmNames names COSE algorithms as keystore.AlgorithmName does.
func algorithmNames(algs []int) []string {
	names := make([]string, len(algs))
	for i, alg := range algs {
		names[i] = keystore.AlgorithmName(alg)
	}
	return names
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
	a := f.aaguid
	if len(f.aaguids) > 0 {
		a = f.aaguids[0]
	}
	aaguid, err := attestation.ResolveAAGUID(a)
	if err != nil {
		return daemon.Options{}, usageError{fmt.Errorf("--aaguid: %w", err)}
	}
	uv, err := builtInUV(f.uv)
	if err != nil {
		return daemon.Options{}, usageError{err}
	}
	var profile ctap2.Profile // commands without --profile: the default
	if f.profile != "" {
		if profile, err = ctap2.ParseProfile(f.profile); err != nil {
			return daemon.Options{}, usageError{fmt.Errorf("--profile: %w", err)}
		}
	}
	var algs []int
	if f.algorithms != "" {
		if algs, err = keystore.ParseAlgorithms(f.algorithms); err != nil {
			return daemon.Options{}, usageError{fmt.Errorf("--algorithms: %w", err)}
		}
	}
	if f.rsaBits != 0 && f.rsaBits != soft.DefaultRSABits && f.rsaBits != soft.RSABits3072 { // 0: a command without the flag
		return daemon.Options{}, usageError{fmt.Errorf("--rsa-bits %d: want %d or %d", f.rsaBits, soft.DefaultRSABits, soft.RSABits3072)}
	}
	return daemon.Options{
		Store:       dir,
		Keystore:    f.keystore,
		TPM:         f.tpm,
		Attestation: f.attestation,
		AAGUID:      aaguid,
		UV:          uv,
		Profile:     profile,
		Logger:      g.logger(),
		Algorithms:  algs,
		RSABits:     f.rsaBits,

		EnterpriseRPIDs: f.enterprise,
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
		controlTCP      string
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
			opts.Presence, opts.AuditLog = p, true // the daemon writes the store's audit log
			if !isSocket {
				opts.MaxMsgSize = uhidMaxMsgSize
			}
			srv, err := control.Open(opts)
			if err != nil {
				return err
			}
			defer srv.Close()
			d := srv.Daemon()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log := opts.Logger.With("store", opts.Store, "keystore", d.Keystore.Backend(), "presence", kind)
			stopControl, err := serveControl(ctx, srv, opts.Store, controlTCP, log)
			if err != nil {
				return err
			}
			defer stopControl()
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
	cmd.Flags().StringVar(&controlTCP, "control-tcp", "", "also serve the control API on this loopback address (e.g. 127.0.0.1:8765), with a bearer token saved in the store's "+control.TCPFileName)
	return cmd
}

// serveControl serves the control API on the store's socket and, when
// tcpAddr is set, on TCP, until ctx ends or the returned function stops
// it.
func serveControl(ctx context.Context, srv *control.Server, store, tcpAddr string, log *slog.Logger) (stop func(), err error) {
	ux, err := control.ListenUnix(store)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	stop = func() {
		cancel()
		wg.Wait()
	}
	serve := func(l net.Listener, token string) {
		wg.Go(func() {
			if err := srv.Serve(ctx, l, token, log); err != nil {
				log.Error("control API stopped", "err", err)
			}
		})
	}
	serve(ux, "")
	log.Info("control API", "socket", ux.Addr().String())
	if tcpAddr != "" {
		l, ep, err := control.ListenTCP(store, tcpAddr)
		if err != nil {
			stop()
			return nil, usageError{err}
		}
		serve(l, ep.Token)
		log.Info("control API", "url", ep.URL, "token", filepath.Join(store, control.TCPFileName))
	}
	return stop, nil
}

func newDemoCmd(g *globals) *cobra.Command {
	var (
		af     authFlags
		serve  bool
		addr   string
		policy demo.Policy
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Register a passkey and sign in with it at an in-process relying party",
		Long: "Run a complete passkey registration and two sign-ins through the full stack\n" +
			"(CTAPHID framing, CTAP2, the keystore) against go-webauthn as the relying party,\n" +
			"and print what the relying party received and verified. Without --store the\n" +
			"demo uses a temporary soft store, so it never touches your credentials.\n\n" +
			"With --serve, serve a small WebAuthn relying party on localhost instead: a page to\n" +
			"open in a browser, which registers a passkey on your key (vauth run) and signs in.\n\n" +
			"Policy mode (--enforce-attestation, --allow-aaguid, --block-aaguid) plays a passkey\n" +
			"policy as Entra ID sets one: three registrations (this key, a key with a refused\n" +
			"AAGUID, a key whose attestation the metadata does not vouch for), each printing its\n" +
			"log line \"registration aaguid=... result=accepted|refused reason=...\". With --serve\n" +
			"the page has the same switches, and trusts the BLOB of the vauth running on --store.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := policy.Normalize(); err != nil {
				return usageError{fmt.Errorf("--allow-aaguid/--block-aaguid: %w", err)}
			}
			policyMode := cmd.Flags().Changed("enforce-attestation") || len(policy.Allow) > 0 || len(policy.Block) > 0
			if serve {
				return serveDemo(cmd, g, addr, policy)
			}
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
			if opts.Profile == ctap2.ProfileU2F {
				return usageError{errors.New("--profile u2f: the demo's client speaks CTAP2, which a U2F-only key does not")}
			}
			opts.Presence = presence.Always()
			d, err := daemon.Open(opts)
			if err != nil {
				return err
			}
			defer d.Close()
			if policyMode {
				return demo.RunPolicy(cmd.Context(), cmd.OutOrStdout(), d, policy)
			}
			return demo.Run(cmd.Context(), cmd.OutOrStdout(), d)
		},
	}
	af.register(cmd)
	cmd.Flags().BoolVar(&policy.EnforceAttestation, "enforce-attestation", false, "policy mode, as Entra ID's \"Enforce attestation\": the relying party trusts vauth's metadata BLOB and refuses attestation it does not vouch for")
	cmd.Flags().StringSliceVar(&policy.Allow, "allow-aaguid", nil, "policy mode, key restrictions: only these AAGUIDs (UUIDs or presets) may register (repeatable)")
	cmd.Flags().StringSliceVar(&policy.Block, "block-aaguid", nil, "policy mode, key restrictions: these AAGUIDs may not register (repeatable)")
	cmd.Flags().BoolVar(&serve, "serve", false, "serve the demo relying party's web page on localhost, for a browser")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "where --serve listens (a loopback address; the page is at http://localhost:PORT)")
	return cmd
}

// serveDemo serves the demo web page until interrupted. Browsers allow
// WebAuthn on http only for localhost, and an IP address is no RP ID, so
// the page's origin is http://localhost:PORT whatever loopback address it
// listens on.
//
// Its policy enforces attestation with the metadata BLOB of the vauth
// running on the store, fetched from its control socket at each
// registration, as a relying party fetches its MDS.
func serveDemo(cmd *cobra.Command, g *globals, addr string, policy demo.Policy) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usageError{fmt.Errorf("--addr %q: %w", addr, err)}
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return usageError{fmt.Errorf("--addr %q: the demo serves on a loopback address only", addr)}
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	origin := "http://localhost:" + port
	srv, err := demo.NewServer(origin)
	if err != nil {
		return err
	}
	store, err := g.storeDir()
	if err != nil {
		return err
	}
	if err := srv.SetPolicy(policy, runningMetadata(store), cmd.OutOrStdout()); err != nil {
		return usageError{err}
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		hs.Close()
	}()
	fmt.Fprintf(cmd.OutOrStdout(), "vauth demo: open %s/ in a browser (Ctrl-C stops)\n", origin)
	if err := hs.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// runningMetadata is the metadata of the vauth running on store: its BLOB
// verified against its BLOB root.
func runningMetadata(store string) demo.MetadataSource {
	return func(ctx context.Context) (metadata.Provider, error) {
		c, err := control.Dial(store)
		if err != nil {
			return nil, err
		}
		blob, err := c.MetadataBLOB(ctx, nil)
		if err != nil {
			return nil, err
		}
		root, err := c.MetadataRoot(ctx)
		if err != nil {
			return nil, err
		}
		return demo.LoadMetadata(blob, root)
	}
}
