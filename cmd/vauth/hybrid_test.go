package main

import (
	"bufio"
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/vauth/vauth/hybrid"
	"github.com/vauth/vauth/internal/demo"
	"github.com/vauth/vauth/webauthn"
)

// startTunnelServer runs `vauth tunnel-server` on a loopback port and
// returns its URL.
func startTunnelServer(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(vauthBin, "tunnel-server", "--listen", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ws://127.0.0.1:") {
		t.Fatalf("tunnel-server said %q, %v", line, err)
	}
	return strings.TrimSpace(line)
}

// qrPNG writes text as a QR code image, as a browser shows it.
func qrPNG(t *testing.T, text string) string {
	t.Helper()
	m, err := qrcode.NewQRCodeWriter().Encode(text, gozxing.BarcodeFormat_QR_CODE, 400, 400, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "qr.png")
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestHybridCLI is the ceremony across processes: `vauth tunnel-server`
// relays, `vauth hybrid` is the phone (the QR code from a screenshot,
// then as text), the test is the browser, go-webauthn the relying party.
// The advert goes through a file: there is no Bluetooth here.
func TestHybridCLI(t *testing.T) {
	tunnel := startTunnelServer(t)
	store := t.TempDir()
	rp, err := demo.NewRP(demo.RPID, demo.Origin)
	if err != nil {
		t.Fatal(err)
	}
	u := &demo.User{ID: []byte("cli-user"), Name: "bob"}
	for _, step := range []struct {
		name    string
		reqType string
		image   bool
	}{
		{"register", hybrid.RequestMakeCredential, true},
		{"sign in", hybrid.RequestGetAssertion, false},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		pending, err := hybrid.NewPending(step.reqType)
		if err != nil {
			t.Fatal(err)
		}
		advert := filepath.Join(t.TempDir(), "advert")
		args := []string{"hybrid", "--store", store, "--presence", "always", "--tunnel-url", tunnel, "--advertise", "file:" + advert}
		if step.image {
			args = append(args, "--qr", qrPNG(t, pending.QR().String()))
		} else {
			args = append(args, pending.QR().String())
		}
		phone := exec.Command(vauthBin, args...)
		var log bytes.Buffer
		phone.Stdout, phone.Stderr = &log, &log
		if err := phone.Start(); err != nil {
			t.Fatal(err)
		}
		conn, err := pending.Connect(ctx, hybrid.ConnectOptions{Scanner: hybrid.FileRadio{Path: advert}, TunnelURL: tunnel})
		if err != nil {
			phone.Process.Kill()
			t.Fatalf("%s: %v\n%s", step.name, err, log.String())
		}
		c := webauthn.NewClient(conn, demo.Origin)
		if step.image {
			_, err = rp.Register(ctx, c, u)
			rp.Enroll(u)
		} else {
			_, _, err = rp.Login(ctx, c, u)
		}
		if err != nil {
			t.Fatalf("%s through vauth hybrid: %v\n%s", step.name, err, log.String())
		}
		conn.Close()
		if err := phone.Wait(); err != nil {
			t.Fatalf("%s: vauth hybrid: %v\n%s", step.name, err, log.String())
		}
		cancel()
	}
	audit, err := os.ReadFile(filepath.Join(store, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(audit), `"transport":"hybrid"`); n != 2 {
		t.Errorf("audit log has %d hybrid records, want 2 (registered, asserted):\n%s", n, audit)
	}
}

func TestHybridCLIUsage(t *testing.T) {
	pending, err := hybrid.NewPending(hybrid.RequestGetAssertion)
	if err != nil {
		t.Fatal(err)
	}
	qr := pending.QR().String()
	for _, args := range [][]string{
		{"hybrid"},
		{"hybrid", "nonsense"},
		{"hybrid", "FIDO:/999"},
		{"hybrid", "--qr", "/nonexistent.png"},
		{"hybrid", "--advertise", "radio", qr},
		{"hybrid", "--advertise", "file:", qr},
		{"hybrid", "--qr", "x.png", qr},
	} {
		if _, stderr, code := vauth(t, args...); code != 2 {
			t.Errorf("vauth %v: exit %d, want 2 (usage)\n%s", args, code, stderr)
		}
	}
}
