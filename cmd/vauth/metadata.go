package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/vauth/vauth/internal/control"
	"github.com/vauth/vauth/internal/daemon"
	"github.com/vauth/vauth/internal/mds"
	"github.com/vauth/vauth/internal/presence"
	"github.com/vauth/vauth/keystore"
)

// metadataSource is where `vauth metadata` gets its answers: a running
// vauth through its control socket, or the store opened here.
type metadataSource interface {
	statement(ctx context.Context) (*mds.Statement, error)
	// blob makes a BLOB for set; nil: the daemon's served settings, or
	// the store's own AAGUID.
	blob(ctx context.Context, set *mds.Settings) ([]byte, error)
	root(ctx context.Context) ([]byte, error)
	Close() error
}

func newMetadataCmd(g *globals) *cobra.Command {
	af := authFlags{multiAAGUIDs: true}
	var (
		blob, root bool
		statuses   []string
	)
	cmd := &cobra.Command{
		Use:   "metadata",
		Short: "Print FIDO MDS3 metadata for vauth: a metadata statement, a signed BLOB, or its root",
		Long: "Print the FIDO Metadata Service (MDS3) view of this authenticator, so that a relying\n" +
			"party under test can enforce attestation with vauth as with real keys:\n\n" +
			"  vauth metadata          the metadata statement of the configuration (JSON): its\n" +
			"                          getInfo, attestation types, the attestation CA as root\n" +
			"  vauth metadata --blob   a metadata BLOB (a JWS, as the FIDO MDS serves it) with an\n" +
			"                          entry per --aaguid and statuses from --status\n" +
			"  vauth metadata --root   the certificate (PEM) that BLOBs are signed under: the\n" +
			"                          relying party's MDS trust anchor\n\n" +
			"With a vauth running on the store, it answers for its configuration (its control\n" +
			"API also serves the BLOB: GET /v1/metadata/blob). The AAGUID presets are test\n" +
			"identities: the statement always says it describes vauth, not those products.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if blob && root {
				return usageError{errors.New("--blob and --root: choose one")}
			}
			if !blob && (len(statuses) > 0 || len(af.aaguids) > 1) {
				return usageError{errors.New("several --aaguid and --status are for --blob")}
			}
			var set *mds.Settings // neither --aaguid nor --status: the default BLOB
			if cmd.Flags().Changed("aaguid") || len(statuses) > 0 {
				set = &mds.Settings{}
			}
			if cmd.Flags().Changed("aaguid") {
				set.AAGUIDs = af.aaguids
			}
			for _, s := range statuses {
				if err := set.ParseStatus(s); err != nil {
					return usageError{err}
				}
			}
			opts, err := af.options(g)
			if err != nil {
				return err
			}
			// With its entries named, a BLOB's settings are checked here;
			// else the entry is the authenticator's own AAGUID, which a
			// running vauth knows and checks.
			if set != nil && len(set.AAGUIDs) > 0 {
				if err := set.Check(opts.AAGUID); err != nil {
					return usageError{err}
				}
			}
			ctx := cmd.Context()
			src, err := openMetadataSource(ctx, opts)
			if err != nil {
				return err
			}
			defer src.Close()
			out := cmd.OutOrStdout()
			switch {
			case root:
				pem, err := src.root(ctx)
				if err != nil {
					return err
				}
				_, err = out.Write(pem)
				return err
			case blob:
				b, err := src.blob(ctx, set)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(out, "%s\n", b)
				return err
			}
			st, err := src.statement(ctx)
			if err != nil {
				return err
			}
			return writeJSON(out, st)
		},
	}
	af.register(cmd)
	cmd.Flags().BoolVar(&blob, "blob", false, "print a metadata BLOB (JWS) instead of the statement")
	cmd.Flags().BoolVar(&root, "root", false, "print the BLOB root certificate (PEM)")
	cmd.Flags().StringArrayVar(&statuses, "status", nil, "with --blob: AAGUID=STATUS, the status report of an entry (e.g. REVOKED, FIDO_CERTIFIED_L1, USER_VERIFICATION_BYPASS; default "+mds.DefaultStatus+"); repeatable")
	return cmd
}

// openMetadataSource asks the daemon running on the store, else opens the
// store with the configuration of opts.
func openMetadataSource(ctx context.Context, opts daemon.Options) (metadataSource, error) {
	if c, err := control.Dial(opts.Store); err == nil {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if _, err := c.Info(ctx); err == nil {
			return daemonMetadata{c}, nil
		}
	}
	opts.Presence = presence.Always() // nothing is registered
	d, err := daemon.Open(opts)
	if errors.Is(err, keystore.ErrInUse) {
		return nil, statusError{exitInUse, fmt.Errorf("%w, and its control socket %s does not answer", err, filepath.Join(opts.Store, control.SocketName))}
	}
	if err != nil {
		return nil, err
	}
	return storeMetadata{d}, nil
}

// daemonMetadata asks a running vauth.
type daemonMetadata struct{ c *control.Client }

func (m daemonMetadata) statement(ctx context.Context) (*mds.Statement, error) {
	return m.c.MetadataStatement(ctx)
}

func (m daemonMetadata) blob(ctx context.Context, set *mds.Settings) ([]byte, error) {
	return m.c.MetadataBLOB(ctx, set)
}

func (m daemonMetadata) root(ctx context.Context) ([]byte, error) { return m.c.MetadataRoot(ctx) }

func (daemonMetadata) Close() error { return nil }

// storeMetadata answers from the store opened here.
type storeMetadata struct{ d *daemon.Daemon }

func (m storeMetadata) statement(ctx context.Context) (*mds.Statement, error) {
	return mds.ForDaemon(ctx, m.d)
}

func (m storeMetadata) blob(ctx context.Context, set *mds.Settings) ([]byte, error) {
	if set == nil {
		set = &mds.Settings{}
	}
	return mds.BLOB(ctx, m.d, *set, time.Now())
}

func (m storeMetadata) root(context.Context) ([]byte, error) {
	ca, err := mds.Root(m.d.Keystore)
	if err != nil {
		return nil, err
	}
	return ca.PEM(), nil
}

func (m storeMetadata) Close() error { return m.d.Close() }
