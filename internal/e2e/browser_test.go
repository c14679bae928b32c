package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// chromiumFlags start Debian's Chromium headless on a machine with a
// closed network (no sign-in, sync, updates or background requests), as
// root without a sandbox, as the VM runs it.
var chromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--remote-debugging-port=0", "--remote-allow-origins=*",
}

var (
	devtoolsLog = regexp.MustCompile(`DevTools listening on ws://(127\.0\.0\.1:[0-9]+)/`)
	demoURL     = regexp.MustCompile(`open (http://localhost:[0-9]+)/`)
)

// browserTimeout bounds the browser test's waits: Chromium takes one to
// two minutes to show a page in the VM without KVM.
const browserTimeout = 5 * time.Minute

// TestBrowser registers a passkey on the uhid device with headless
// Chromium at the demo page (`vauth demo --serve`) and signs in with it by
// user name: the real browser's WebAuthn stack finds vauth through hidraw,
// runs CTAP2 (built-in user verification, packed attestation), and the
// page's relying party (go-webauthn) verifies both ceremonies.
//
// A sign-in with a passkey and no user name (empty allowCredentials) is
// not tested: headless Chromium reaches the key and gets the assertion,
// then waits for its account chooser, which a headless browser cannot
// show (docs/browser.md).
func TestBrowser(t *testing.T) {
	chromium := requireTool(t, "chromium", "chromium")
	ctx, cancel := context.WithTimeout(t.Context(), browserTimeout)
	defer cancel()
	startVauth(t, t.TempDir(), "--uv", "always", "--attestation", "packed")

	demo := exec.CommandContext(ctx, vauthBin, "demo", "--serve", "--addr", "127.0.0.1:0")
	page := waitForLine(ctx, t, demo, true, demoURL)
	start := time.Now()
	profile, err := os.MkdirTemp("", "vauth-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeAll(profile) }) // after Chromium is gone (cleanups run last first)
	browser := exec.CommandContext(ctx, chromium, append(chromiumFlags, "--user-data-dir="+profile, "about:blank")...)
	devtools := waitForLine(ctx, t, browser, false, devtoolsLog)
	cdp := dialPage(ctx, t, devtools)
	defer cdp.Close()
	cdp.call(t, "Page.enable", nil)
	cdp.call(t, "Runtime.enable", nil)
	// A navigation while the browser still starts up can be lost: ask
	// again until the page is there.
	for last := (time.Time{}); cdp.evaluate(ctx, t, "typeof register") != "function"; time.Sleep(200 * time.Millisecond) {
		if time.Since(last) > 20*time.Second {
			t.Logf("Chromium shows %s; navigating to the demo page", cdp.evaluate(ctx, t, "location.href + ' ' + document.readyState"))
			cdp.call(t, "Page.navigate", map[string]any{"url": page + "/"})
			last = time.Now()
		}
	}
	t.Logf("Chromium shows the demo page %s after %v", page, time.Since(start).Round(time.Second))
	lastLine := `.then(() => document.getElementById("log").firstChild.textContent)`
	for _, tc := range []struct{ script, want string }{
		{`register()` + lastLine, `registered: {"username":"alice","credentialId":"`},
		{`login(true)` + lastLine, `signed in: {"username":"alice","credentialId":"`},
	} {
		start := time.Now()
		got := cdp.evaluate(ctx, t, tc.script)
		t.Logf("%s: %s (%v)", tc.script, got, time.Since(start).Round(time.Millisecond))
		if !strings.HasPrefix(got, tc.want) {
			t.Fatalf("%s: the page says %q, want %q…", tc.script, got, tc.want)
		}
		for _, flag := range []string{`"flags":["UP","UV"]`} {
			if !strings.Contains(got, flag) {
				t.Errorf("%s: %s lacks %s", tc.script, got, flag)
			}
		}
	}
}

// waitForLine starts cmd and returns the first submatch of re in its
// standard output (or error), failing the test after browserTimeout.
func waitForLine(ctx context.Context, t *testing.T, cmd *exec.Cmd, stdout bool, re *regexp.Regexp) string {
	t.Helper()
	var r io.ReadCloser
	var err error
	if stdout {
		r, err = cmd.StdoutPipe()
	} else {
		r, err = cmd.StderrPipe()
	}
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Chromium's helpers are its group
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(r)
		for s.Scan() {
			if m := re.FindStringSubmatch(s.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, r) // keep the pipe drained
	}()
	select {
	case m := <-found:
		return m
	case <-ctx.Done():
		t.Fatalf("%s did not print %s in time", cmd.Path, re)
		return ""
	}
}

// removeAll removes a directory that a dying process may still write to
// for a moment.
func removeAll(dir string) {
	for range 50 {
		if os.RemoveAll(dir) == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// devtoolsConn is a DevTools protocol connection to one page.
type devtoolsConn struct {
	*websocket.Conn
	id int
}

// dialPage connects to the first page target of the browser at addr,
// waiting for the browser to have one.
func dialPage(ctx context.Context, t *testing.T, addr string) *devtoolsConn {
	t.Helper()
	for {
		var targets []struct{ Type, WebSocketDebuggerURL string }
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/json/list", nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := http.DefaultClient.Do(req); err == nil { // not up yet otherwise
			_ = json.NewDecoder(resp.Body).Decode(&targets)
			resp.Body.Close()
		}
		for _, target := range targets {
			if target.Type != "page" {
				continue
			}
			ws, err := websocket.Dial(target.WebSocketDebuggerURL, "", "http://localhost/")
			if err != nil {
				t.Fatal(err)
			}
			if deadline, ok := ctx.Deadline(); ok {
				_ = ws.SetDeadline(deadline)
			}
			return &devtoolsConn{Conn: ws}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the browser at %s shows no page: %v", addr, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// call sends a DevTools command and returns its result, skipping events.
func (c *devtoolsConn) call(t *testing.T, method string, params any) json.RawMessage {
	t.Helper()
	c.id++
	if err := websocket.JSON.Send(c.Conn, map[string]any{"id": c.id, "method": method, "params": params}); err != nil {
		t.Fatalf("DevTools %s: %v", method, err)
	}
	for {
		var m struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := websocket.JSON.Receive(c.Conn, &m); err != nil {
			t.Fatalf("DevTools %s: %v", method, err)
		}
		if m.ID != c.id {
			continue
		}
		if m.Error != nil {
			t.Fatalf("DevTools %s: %s", method, m.Error)
		}
		return m.Result
	}
}

// evaluate runs a script in the page, awaiting its promise, and returns
// its value as a string; a thrown error fails the test.
func (c *devtoolsConn) evaluate(ctx context.Context, t *testing.T, script string) string {
	t.Helper()
	raw := c.call(t, "Runtime.evaluate", map[string]any{"expression": script, "awaitPromise": true, "returnByValue": true})
	var r struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	if r.ExceptionDetails != nil {
		t.Fatalf("%s threw %s", script, r.ExceptionDetails.Exception.Description)
	}
	if ctx.Err() != nil {
		t.Fatal(ctx.Err())
	}
	return fmt.Sprint(r.Result.Value)
}
