package ctap1

import (
	"context"
	"log/slog"
	"slices"
	"testing"
)

// FuzzAPDU sends request APDUs. The seeds in testdata/fuzz/FuzzAPDU are
// requests of every instruction in both encodings; more seeds made here use
// a key handle of this very authenticator, so the fuzzer reaches the
// signing paths. Whatever arrives, the answer is data and a status word of
// U2F, never SW_NO_PRECISE_DIAGNOSIS (what a panic or an unexpected error
// becomes), with data only on success; and VERSION still works afterwards.
func FuzzAPDU(f *testing.F) {
	d := newTestU2F(f)
	d.a.log = slog.New(slog.DiscardHandler) // keep the fuzzer's memory flat
	reg := d.register("https://example.com")
	app := appParam("https://example.com")
	for _, p1 := range []byte{AuthCheckOnly, AuthEnforceUserPresence, AuthDontEnforceUserPresence} {
		f.Add(extended(InsAuthenticate, p1, authenticateData(testChallenge, app, reg.keyHandle)))
	}
	f.Add(short(InsAuthenticate, AuthEnforceUserPresence, authenticateData(testChallenge, app, reg.keyHandle)))
	f.Add(extended(InsRegister, 0, slices.Concat(testChallenge[:], app[:])))

	known := []StatusWord{SWNoError, SWConditionsNotSatisfied, SWWrongData, SWWrongLength, SWCLANotSupported, SWINSNotSupported}
	version := extended(InsVersion, 0, nil)
	f.Fuzz(func(t *testing.T, apdu []byte) {
		resp := d.a.Handle(context.Background(), apdu)
		_, sw := splitResponse(t, resp)
		if !slices.Contains(known, sw) {
			t.Fatalf("%v for %x", sw, apdu)
		}
		if data, sw := splitResponse(t, d.a.Handle(context.Background(), version)); sw != SWNoError || string(data) != Version {
			t.Fatalf("U2F_VERSION after %x: %q %v", apdu, data, sw)
		}
	})
}
