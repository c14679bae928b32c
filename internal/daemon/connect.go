package daemon

import (
	"context"

	"github.com/vauth/vauth/hid"
)

// Connect serves the device on an in-memory CTAPHID pipe until ctx ends
// and returns the host side, a client that talks to the device through
// the real CTAPHID framing, as the test fixture and the demo do.
func (d *Daemon) Connect(ctx context.Context) (*hid.Client, error) {
	host, dev := hid.Pipe()
	go func() {
		_ = d.Device.Serve(ctx, dev)
	}()
	go func() {
		<-ctx.Done()
		host.Close()
	}()
	return hid.NewClient(host)
}
