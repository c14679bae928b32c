package bench

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/vauth/vauth/ctap2/client"
	"github.com/vauth/vauth/hid"
	"github.com/vauth/vauth/internal/cose"
)

// LoadResult is what a load run measured.
type LoadResult struct {
	Clients  int
	Elapsed  time.Duration
	Requests int // requests answered with CTAP2_OK
	// Busy counts ERR_CHANNEL_BUSY answers: the device serves one channel
	// at a time and the others retry, as CTAPHID says.
	Busy int
	// Errors are every other failure.
	Errors []error
	// Latency percentiles of the answered requests, from the first try to
	// the answer (waiting out busy answers included).
	P50, P99, Max time.Duration
}

func (r LoadResult) String() string {
	return fmt.Sprintf("%d clients, %v: %d requests (%.0f/s), %d CHANNEL_BUSY retried, %d errors; latency p50 %v, p99 %v, max %v",
		r.Clients, r.Elapsed.Round(time.Millisecond), r.Requests, float64(r.Requests)/r.Elapsed.Seconds(), r.Busy, len(r.Errors),
		r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond))
}

// Load runs clients CTAP2 clients at once, each on a connection and
// CTAPHID channel of its own (dial makes one), for the given time: each
// registers a non-discoverable credential, then signs in with it over and
// over, with a getInfo every tenth request. A client that fails for
// another reason than a busy device stops.
func Load(ctx context.Context, dial func() (*hid.Client, error), clients int, duration time.Duration) LoadResult {
	var (
		mu        sync.Mutex
		latencies []time.Duration
		res       = LoadResult{Clients: clients}
		wg        sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	start := time.Now()
	for i := range clients {
		wg.Go(func() {
			lat, busy, err := loadClient(ctx, dial, i)
			mu.Lock()
			defer mu.Unlock()
			latencies = append(latencies, lat...)
			res.Busy += busy
			if err != nil {
				res.Errors = append(res.Errors, fmt.Errorf("client %d: %w", i, err))
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Requests = len(latencies)
	if len(latencies) > 0 {
		slices.Sort(latencies)
		res.P50 = latencies[len(latencies)/2]
		res.P99 = latencies[len(latencies)*99/100]
		res.Max = latencies[len(latencies)-1]
	}
	return res
}

// loadClient is one client of Load: the latencies of its answered
// requests, the busy answers it retried, and what stopped it other than
// the end of ctx.
func loadClient(ctx context.Context, dial func() (*hid.Client, error), n int) ([]time.Duration, int, error) {
	hc, err := dial()
	if err != nil {
		return nil, 0, err
	}
	defer hc.Close()
	c := client.New(hc)
	var (
		lat  []time.Duration
		busy int
	)
	// call runs one request, retrying while the device is busy with
	// another channel.
	call := func(f func(ctx context.Context) error) error {
		start := time.Now()
		for {
			err := f(ctx)
			if errors.Is(err, hid.ErrChannelBusy) {
				busy++
				time.Sleep(time.Duration(rand.Int64N(int64(time.Millisecond))))
				continue
			}
			if err == nil {
				lat = append(lat, time.Since(start))
			}
			return err
		}
	}
	cdh := sha256.Sum256(fmt.Appendf(nil, "load client %d", n))
	var id []byte
	err = call(func(ctx context.Context) error {
		resp, err := c.MakeCredential(ctx, &client.MakeCredentialRequest{
			ClientDataHash:   cdh[:],
			RP:               client.RPEntity{ID: "load.example"},
			User:             client.UserEntity{ID: []byte{byte(n)}, Name: "load"},
			PubKeyCredParams: []client.Algorithm{{Type: "public-key", Alg: cose.AlgES256}},
		})
		if err == nil {
			idLen := int(resp.AuthData[53])<<8 | int(resp.AuthData[54])
			id = resp.AuthData[55 : 55+idLen]
		}
		return err
	})
	for i := 0; err == nil; i++ {
		if i%10 == 9 {
			err = call(func(ctx context.Context) error {
				_, err := c.GetInfo(ctx)
				return err
			})
			continue
		}
		err = call(func(ctx context.Context) error {
			_, err := c.GetAssertion(ctx, &client.GetAssertionRequest{
				RPID: "load.example", ClientDataHash: cdh[:],
				AllowList: []client.CredentialDescriptor{{ID: id, Type: "public-key"}},
			})
			return err
		})
	}
	if ctx.Err() != nil {
		return lat, busy, nil // the run's time is up: a request cut short is no error
	}
	return lat, busy, err
}
