package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // screenshots come as PNG or JPEG
	_ "image/png"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/spf13/cobra"

	"github.com/vauth/vauth/hybrid"
	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/internal/presence"
)

func newHybridCmd(g *globals) *cobra.Command {
	var (
		af              authFlags
		qrImage         string
		tunnelURL       string
		domain          uint16
		advertise       string
		presenceMode    string
		presenceTimeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "hybrid ['FIDO:/...']",
		Short: "Be the phone in a cross-device (hybrid, caBLE v2) sign-in: serve the store to a QR code",
		Long: "Scan a hybrid QR code (its FIDO:/ text, or --qr with a screenshot), advertise over\n" +
			"Bluetooth, meet the browser through the tunnel server and answer its CTAP2 requests\n" +
			"with this store's credentials, presence prompt and audit log (transport \"hybrid\").\n\n" +
			"  --advertise bluez       (default) a BLE advert through BlueZ (D-Bus, hci0)\n" +
			"  --advertise file:PATH   write the advert to PATH, for a client on this machine\n" +
			"                          that reads it there (tests, CI without Bluetooth)",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			text, err := qrText(args, qrImage)
			if err != nil {
				return usageError{err}
			}
			qr, err := hybrid.ParseQR(text)
			if err != nil {
				return usageError{err}
			}
			adv, err := advertiser(advertise)
			if err != nil {
				return usageError{err}
			}
			opts, err := af.options(g)
			if err != nil {
				return err
			}
			p, _, err := presence.New(presenceMode, presence.AutoOptions{Timeout: presenceTimeout})
			if err != nil {
				return usageError{err}
			}
			opts.Presence, opts.AuditLog, opts.Transport = p, true, "hybrid"
			d, err := daemon.Open(opts)
			if err != nil {
				return err
			}
			defer d.Close()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			a := &hybrid.Authenticator{
				Handle: func(ctx context.Context, req []byte) []byte {
					return d.Authenticator.HandleCBOR(ctx, req, nil)
				},
				Advertiser: adv,
				TunnelURL:  tunnelURL,
				Domain:     domain,
				Logger:     opts.Logger,
			}
			opts.Logger.Info("hybrid: scanned", "request", qr.RequestType)
			return a.ServeQR(ctx, qr)
		},
	}
	af.register(cmd)
	cmd.Flags().StringVar(&qrImage, "qr", "", "read the QR code from this image (PNG or JPEG screenshot)")
	cmd.Flags().StringVar(&tunnelURL, "tunnel-url", "", "tunnel server base URL (ws:// or wss://); default: the server --domain names")
	cmd.Flags().Uint16Var(&domain, "domain", 0, "encoded tunnel server domain to advertise (0 cable.ua5v.com, 1 cable.auth.com, 256.. hashed)")
	cmd.Flags().StringVar(&advertise, "advertise", "bluez", "how to send the BLE advert: bluez or file:PATH")
	cmd.Flags().StringVar(&presenceMode, "presence", "auto", "how to confirm user presence: auto, prompt, always, never")
	cmd.Flags().DurationVar(&presenceTimeout, "presence-timeout", 30*time.Second, "how long a presence prompt waits")
	return cmd
}

// qrText is the QR code's text: the argument, or the code in the image.
func qrText(args []string, image string) (string, error) {
	switch {
	case len(args) == 1 && image != "":
		return "", errors.New("give the FIDO:/ text or --qr, not both")
	case len(args) == 1:
		return args[0], nil
	case image != "":
		return decodeQRImage(image)
	}
	return "", errors.New("no QR code: give its FIDO:/ text or --qr IMAGE")
}

func decodeQRImage(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return "", fmt.Errorf("--qr %s: %w", path, err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", fmt.Errorf("--qr %s: %w", path, err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		return "", fmt.Errorf("--qr %s: no QR code found: %w", path, err)
	}
	return res.GetText(), nil
}

func advertiser(spec string) (hybrid.Advertiser, error) {
	if path, ok := strings.CutPrefix(spec, "file:"); ok && path != "" {
		return hybrid.FileRadio{Path: path}, nil
	}
	if spec == "bluez" {
		return hybrid.BlueZ{}, nil
	}
	return nil, fmt.Errorf("--advertise %q: want bluez or file:PATH", spec)
}

func newTunnelServerCmd(g *globals) *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "tunnel-server",
		Short: "Serve a caBLE v2 tunnel server for hybrid sign-ins (tests, private deployments)",
		Long: "Relay hybrid transactions: /cable/new/<tunnel ID> for the authenticator,\n" +
			"/cable/connect/<routing ID>/<tunnel ID> for the client. The relay sees only\n" +
			"ciphertext. It speaks plain ws://: put TLS in front of it for wss://.\n" +
			"It prints the address it listens on.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			log := g.logger()
			srv := &http.Server{Handler: &hybrid.TunnelServer{Logger: log}, ReadHeaderTimeout: 10 * time.Second}
			fmt.Fprintf(cmd.OutOrStdout(), "ws://%s\n", l.Addr())
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			go func() {
				<-ctx.Done()
				srv.Close()
			}()
			if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8790", "address to listen on")
	return cmd
}
