package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vauth/vauth/internal/control"
	"github.com/vauth/vauth/keystore"
)

// ctl is how `vauth ctl` reaches the daemon: its store's control socket
// (--store), or a TCP control API with a bearer token.
type ctl struct {
	g     *globals
	url   string
	token string
}

func (f *ctl) client() (*control.Client, error) {
	if f.url != "" {
		token := f.token
		if token == "" {
			token = os.Getenv("VAUTH_CONTROL_TOKEN")
		}
		return control.DialTCP(f.url, token), nil
	}
	dir, err := f.g.storeDir()
	if err != nil {
		return nil, err
	}
	return control.Dial(dir)
}

// run makes a command's RunE of an operation on the daemon.
func (f *ctl) run(op func(ctx context.Context, cmd *cobra.Command, c *control.Client, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := f.client()
		if err != nil {
			return err
		}
		err = op(cmd.Context(), cmd, c, args)
		if errors.Is(err, control.ErrNotFound) {
			return statusError{exitNotFound, err}
		}
		return err
	}
}

// show makes a command's RunE that prints what get returns.
func (f *ctl) show(get func(ctx context.Context, c *control.Client) (any, error)) func(*cobra.Command, []string) error {
	return f.run(func(ctx context.Context, cmd *cobra.Command, c *control.Client, _ []string) error {
		v, err := get(ctx, c)
		if err != nil {
			return err
		}
		return printJSON(cmd, v)
	})
}

// printJSON writes v to the command's output as indented JSON.
func printJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newCtlCmd(g *globals) *cobra.Command {
	f := &ctl{g: g}
	cmd := &cobra.Command{
		Use:   "ctl",
		Short: "Control a running vauth: credentials, presence, PIN, reset, faults, events",
		Long: "Control a running `vauth run` through its control API, as WebDriver's virtual\n" +
			"authenticator and Chromium's virtual device let browser tests do. The daemon is the\n" +
			"one serving --store (its " + control.SocketName + "), or the TCP API that\n" +
			"`vauth run --control-tcp` serves (--control-url, with --token or $VAUTH_CONTROL_TOKEN;\n" +
			"both are in the store's " + control.TCPFileName + "). Answers are JSON.",
	}
	cmd.PersistentFlags().StringVar(&f.url, "control-url", "", "the TCP control API, e.g. http://127.0.0.1:8765 (default: the store's control socket)")
	cmd.PersistentFlags().StringVar(&f.token, "token", "", "the bearer token of the TCP control API (default $VAUTH_CONTROL_TOKEN)")
	run, show := f.run, f.show

	cmd.AddCommand(&cobra.Command{
		Use:   "info",
		Short: "Describe the authenticator (AAGUID, keystore, user verification, PIN state, profile)",
		Args:  cobra.NoArgs,
		RunE:  show(func(ctx context.Context, c *control.Client) (any, error) { return c.Info(ctx) }),
	})
	cmd.AddCommand(newCtlCredsCmd(f), newCtlPresenceCmd(f), newCtlPINCmd(f), newCtlFaultsCmd(f))
	cmd.AddCommand(&cobra.Command{
		Use:   "uv true|false",
		Short: "Set whether built-in user verification succeeds (WebDriver's Set User Verified)",
		Args:  cobra.ExactArgs(1),
		RunE: run(func(ctx context.Context, _ *cobra.Command, c *control.Client, args []string) error {
			v, err := strconv.ParseBool(args[0])
			if err != nil {
				return usageError{fmt.Errorf("uv %q: want true or false", args[0])}
			}
			return c.SetUserVerified(ctx, v)
		}),
	})
	var allAlgorithms bool
	algorithms := &cobra.Command{
		Use:   "algorithms [LIST | --all]",
		Short: "Show or set the credential algorithms offered, most preferred first (names or COSE numbers, comma-separated)",
		Args:  cobra.MaximumNArgs(1),
		RunE: run(func(ctx context.Context, cmd *cobra.Command, c *control.Client, args []string) error {
			switch {
			case allAlgorithms && len(args) > 0:
				return usageError{errors.New("algorithms: give a list or --all, not both")}
			case allAlgorithms:
				return c.SetAlgorithms(ctx, nil)
			case len(args) == 1:
				return c.SetAlgorithms(ctx, strings.Split(args[0], ","))
			}
			v, err := c.Algorithms(ctx)
			if err != nil {
				return err
			}
			return printJSON(cmd, v)
		}),
	}
	algorithms.Flags().BoolVar(&allAlgorithms, "all", false, "offer every algorithm the keystore makes again")
	cmd.AddCommand(algorithms)
	cmd.AddCommand(&cobra.Command{
		Use:   "reset",
		Short: "Erase every credential, the PIN and the settings, as authenticatorReset does, without asking",
		Args:  cobra.NoArgs,
		RunE: run(func(ctx context.Context, _ *cobra.Command, c *control.Client, _ []string) error {
			return c.Reset(ctx)
		}),
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "power-cycle",
		Short: "Do what unplugging and plugging in the key again does (tokens void, PIN block lifted)",
		Args:  cobra.NoArgs,
		RunE: run(func(ctx context.Context, _ *cobra.Command, c *control.Client, _ []string) error {
			return c.PowerCycle(ctx)
		}),
	})
	var since uint64
	var follow bool
	var wait time.Duration
	events := &cobra.Command{
		Use:   "events",
		Short: "Print credential events (registered, asserted, deleted, reset, added), one JSON object per line",
		Long: "Print the credential events after --since: those kept so far, or with --wait the\n" +
			"next ones within that time (a long-poll), or with --follow every one until interrupted.",
		Args: cobra.NoArgs,
		RunE: run(func(ctx context.Context, cmd *cobra.Command, c *control.Client, _ []string) error {
			out := json.NewEncoder(cmd.OutOrStdout())
			if follow {
				return c.Watch(ctx, since, func(e control.Event) error { return out.Encode(e) })
			}
			ev, err := c.Events(ctx, since, wait)
			if err != nil {
				return err
			}
			for _, e := range ev.Events {
				if err := out.Encode(e); err != nil {
					return err
				}
			}
			return nil
		}),
	}
	events.Flags().Uint64Var(&since, "since", 0, "only events after this sequence number")
	events.Flags().BoolVar(&follow, "follow", false, "keep printing events as they happen")
	events.Flags().DurationVar(&wait, "wait", 0, "wait up to this long for an event when there is none yet")
	cmd.AddCommand(events)
	return cmd
}

func newCtlCredsCmd(f *ctl) *cobra.Command {
	run, show := f.run, f.show
	cmd := &cobra.Command{
		Use:   "creds",
		Short: "Add, list, rename and remove credentials (WebDriver's Add/Get/Remove Credential)",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the discoverable credentials, newest first",
		Args:  cobra.NoArgs,
		RunE: show(func(ctx context.Context, c *control.Client) (any, error) {
			creds, err := c.Credentials(ctx)
			return control.Credentials{Credentials: creds}, err
		}),
	})
	var (
		cred        control.Credential
		keyFile     string
		userHandle  string
		credProtect uint8
		algorithm   string
	)
	add := &cobra.Command{
		Use:   "add --rp-id RP --key FILE [--resident --user-handle B64URL]",
		Short: "Import a credential from a PKCS#8 private key (PEM or DER; - reads standard input)",
		Long: "Import a credential whose private key (ECDSA P-256, P-384 or P-521, Ed25519, or RSA\n" +
			"with e = 65537: PKCS#8 in PEM or DER) the test holds, as WebDriver's Add Credential\n" +
			"does; an RSA key is RS256 unless --algorithm ps256. vauth gives it its credential ID,\n" +
			"printed with the credential. A TPM keystore refuses: its keys are born in the TPM.",
		Args: cobra.NoArgs,
		RunE: run(func(ctx context.Context, cmd *cobra.Command, c *control.Client, _ []string) error {
			key, err := readPrivateKey(cmd.InOrStdin(), keyFile)
			if err != nil {
				return usageError{err}
			}
			cred.PrivateKey, cred.CredProtect = key, credProtect
			if algorithm != "" {
				if cred.Algorithm, err = keystore.ParseAlgorithm(algorithm); err != nil {
					return usageError{fmt.Errorf("--algorithm: %w", err)}
				}
			}
			if userHandle != "" {
				if cred.UserHandle, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(userHandle, "=")); err != nil {
					return usageError{fmt.Errorf("--user-handle: want base64url: %w", err)}
				}
			}
			added, err := c.AddCredential(ctx, cred)
			if err != nil {
				return err
			}
			return printJSON(cmd, added)
		}),
	}
	add.Flags().StringVar(&cred.RPID, "rp-id", "", "the relying party ID (required)")
	add.Flags().StringVar(&keyFile, "key", "", "the PKCS#8 private key file, PEM or DER (required; - for standard input)")
	add.Flags().BoolVar(&cred.IsResidentCredential, "resident", false, "make it discoverable (a passkey)")
	add.Flags().StringVar(&userHandle, "user-handle", "", "the user handle, base64url (required with --resident)")
	add.Flags().StringVar(&cred.UserName, "user-name", "", "the user name")
	add.Flags().StringVar(&cred.UserDisplayName, "user-display-name", "", "the user's display name")
	add.Flags().Uint32Var(&cred.SignCount, "sign-count", 0, "the signature counter's current value")
	add.Flags().Uint8Var(&credProtect, "cred-protect", 0, "the credProtect level, 1 to 3")
	add.Flags().StringVar(&algorithm, "algorithm", "", "the credential's algorithm, when the key allows more than one (rs256 or ps256 for RSA; default: the key's usual one)")
	_ = add.MarkFlagRequired("rp-id")
	_ = add.MarkFlagRequired("key")
	cmd.AddCommand(add)
	cmd.AddCommand(&cobra.Command{
		Use:   "remove ID",
		Short: "Delete a discoverable credential (its ID in base64url)",
		Args:  cobra.ExactArgs(1),
		RunE: run(func(ctx context.Context, _ *cobra.Command, c *control.Client, args []string) error {
			id, err := parseCredentialID(args[0])
			if err != nil {
				return err
			}
			return c.RemoveCredential(ctx, id)
		}),
	})
	var rename control.UpdateUser
	var userName, userDisplayName string
	renameCmd := &cobra.Command{
		Use:   "rename ID [--user-name N] [--user-display-name D]",
		Short: "Rename the user of a discoverable credential (its ID in base64url), as updateUserInformation does",
		Args:  cobra.ExactArgs(1),
		RunE: run(func(ctx context.Context, cmd *cobra.Command, c *control.Client, args []string) error {
			id, err := parseCredentialID(args[0])
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("user-name") {
				rename.UserName = &userName
			}
			if cmd.Flags().Changed("user-display-name") {
				rename.UserDisplayName = &userDisplayName
			}
			if rename.UserName == nil && rename.UserDisplayName == nil {
				return usageError{errors.New("give --user-name, --user-display-name or both")}
			}
			return c.UpdateUser(ctx, id, rename)
		}),
	}
	renameCmd.Flags().StringVar(&userName, "user-name", "", "the new user name (\"\" removes it)")
	renameCmd.Flags().StringVar(&userDisplayName, "user-display-name", "", "the new display name (\"\" removes it)")
	cmd.AddCommand(renameCmd)
	cmd.AddCommand(&cobra.Command{
		Use:   "remove-all",
		Short: "Delete every discoverable credential (the PIN stays; see reset)",
		Args:  cobra.NoArgs,
		RunE: run(func(ctx context.Context, _ *cobra.Command, c *control.Client, _ []string) error {
			return c.RemoveAllCredentials(ctx)
		}),
	})
	return cmd
}

// parseCredentialID reads a credential ID in base64url (padding allowed).
func parseCredentialID(s string) ([]byte, error) {
	id, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, usageError{fmt.Errorf("credential ID %q: want base64url: %w", s, err)}
	}
	return id, nil
}

// readPrivateKey reads a PKCS#8 key, PEM ("PRIVATE KEY") or DER, from a
// file or standard input ("-").
func readPrivateKey(stdin io.Reader, path string) ([]byte, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(io.LimitReader(stdin, 1<<20))
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("--key: %w", err)
	}
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("--key: a PEM %q block; want PKCS#8 (\"PRIVATE KEY\"), e.g. from openssl pkcs8 -topk8 -nocrypt", block.Type)
		}
		return block.Bytes, nil
	}
	return data, nil
}

func newCtlPresenceCmd(f *ctl) *cobra.Command {
	run, show := f.run, f.show
	cmd := &cobra.Command{
		Use:   "presence",
		Short: "Show or steer user presence: the policy and the requests waiting for an answer",
		Args:  cobra.NoArgs,
		RunE:  show(func(ctx context.Context, c *control.Client) (any, error) { return c.Presence(ctx) }),
	}
	var uv bool
	policy := &cobra.Command{
		Use:   "policy prompt|approve|deny|wait",
		Short: "Set how presence (or, with --uv, built-in user verification) is answered",
		Long: "  prompt   ask the configured prompt (--presence, --uv); the API can answer meanwhile\n" +
			"  approve  approve every request at once\n" +
			"  deny     refuse every request at once\n" +
			"  wait     hold every request until `vauth ctl presence approve|deny` answers it",
		Args: cobra.ExactArgs(1),
		RunE: run(func(ctx context.Context, _ *cobra.Command, c *control.Client, args []string) error {
			p, err := control.ParsePolicy(args[0])
			if err != nil {
				return usageError{err}
			}
			kind := control.KindPresence
			if uv {
				kind = control.KindUV
			}
			return c.SetPolicy(ctx, kind, p)
		}),
	}
	policy.Flags().BoolVar(&uv, "uv", false, "set the policy of built-in user verification instead")
	cmd.AddCommand(policy)
	for _, verb := range []string{"approve", "deny"} {
		var a control.Answer
		var wait time.Duration
		answer := &cobra.Command{
			Use:   verb,
			Short: "Answer a pending request: " + verb + " it (the oldest, or --id)",
			Args:  cobra.NoArgs,
			RunE: run(func(ctx context.Context, cmd *cobra.Command, c *control.Client, _ []string) error {
				a.Wait = control.Duration(wait)
				pr, err := c.Answer(ctx, a, verb == "approve")
				if err != nil {
					return err
				}
				return printJSON(cmd, pr)
			}),
		}
		answer.Flags().Uint64Var(&a.ID, "id", 0, "the request to answer (default: the oldest)")
		answer.Flags().DurationVar(&wait, "wait", 0, "wait up to this long for a request when none is pending yet")
		cmd.AddCommand(answer)
	}
	return cmd
}

func newCtlPINCmd(f *ctl) *cobra.Command {
	run, show := f.run, f.show
	cmd := &cobra.Command{
		Use:   "pin",
		Short: "Show, set or change the PIN state (PIN, retry counters, forced change)",
		Args:  cobra.NoArgs,
		RunE:  show(func(ctx context.Context, c *control.Client) (any, error) { return c.PIN(ctx) }),
	}
	var (
		pin               string
		pinRetries        int
		uvRetries         int
		forceChange, none bool
	)
	set := &cobra.Command{
		Use:   "set [--pin PIN | --none] [--pin-retries N] [--uv-retries N] [--force-change]",
		Short: "Change the PIN state; what is not given stays",
		Args:  cobra.NoArgs,
		RunE: run(func(ctx context.Context, cmd *cobra.Command, c *control.Client, _ []string) error {
			var ch control.PINChange
			fl := cmd.Flags()
			if fl.Changed("pin") && none {
				return usageError{fmt.Errorf("--pin and --none: choose one")}
			}
			if fl.Changed("pin") {
				ch.PIN = &pin
			}
			if none {
				empty := ""
				ch.PIN = &empty
			}
			if fl.Changed("pin-retries") {
				ch.PINRetries = &pinRetries
			}
			if fl.Changed("uv-retries") {
				ch.UVRetries = &uvRetries
			}
			if fl.Changed("force-change") {
				ch.ForcePINChange = &forceChange
			}
			return c.SetPIN(ctx, ch)
		}),
	}
	set.Flags().StringVar(&pin, "pin", "", "the new PIN")
	set.Flags().BoolVar(&none, "none", false, "remove the PIN")
	set.Flags().IntVar(&pinRetries, "pin-retries", 0, "the PIN retry counter (0 blocks the PIN)")
	set.Flags().IntVar(&uvRetries, "uv-retries", 0, "the built-in user verification retry counter")
	set.Flags().BoolVar(&forceChange, "force-change", false, "make the PIN unusable until it is changed")
	cmd.AddCommand(set)
	var change control.ChangePIN
	changeCmd := &cobra.Command{
		Use:   "change --current-pin PIN --new-pin PIN",
		Short: "Change the PIN given the current one, through clientPIN as a platform does (a wrong one costs a retry)",
		Args:  cobra.NoArgs,
		RunE: run(func(ctx context.Context, _ *cobra.Command, c *control.Client, _ []string) error {
			return c.ChangePIN(ctx, change.CurrentPIN, change.NewPIN)
		}),
	}
	changeCmd.Flags().StringVar(&change.CurrentPIN, "current-pin", "", "the current PIN (required)")
	changeCmd.Flags().StringVar(&change.NewPIN, "new-pin", "", "the new PIN (required)")
	_ = changeCmd.MarkFlagRequired("current-pin")
	_ = changeCmd.MarkFlagRequired("new-pin")
	cmd.AddCommand(changeCmd)
	return cmd
}

func newCtlFaultsCmd(f *ctl) *cobra.Command {
	run, show := f.run, f.show
	cmd := &cobra.Command{
		Use:   "faults",
		Short: "Show or arm failures on purpose, as Chromium's virtual device does",
		Args:  cobra.NoArgs,
		RunE:  show(func(ctx context.Context, c *control.Client) (any, error) { return c.Faults(ctx) }),
	}
	var armed control.Faults
	var delay time.Duration
	set := &cobra.Command{
		Use:   "set [--corrupt-signature] [--clear-up] [--clear-uv] [--status S [--command C]] [--delay D]",
		Short: "Arm faults, replacing those armed; each but --delay strikes once",
		Long: "  --corrupt-signature  flip a bit of the next signature (assertion or attestation):\n" +
			"                       the relying party's signature check fails\n" +
			"  --clear-up, --clear-uv  clear the flag in the next authenticator data before\n" +
			"                       signing: a valid signature over wrong flags\n" +
			"  --status S           answer the next command (of --command, e.g. getAssertion)\n" +
			"                       with CTAP status S (CTAP2_ERR_OPERATION_DENIED, 0x27, ...)\n" +
			"  --delay D            hold every command for D until changed",
		Args: cobra.NoArgs,
		RunE: run(func(ctx context.Context, _ *cobra.Command, c *control.Client, _ []string) error {
			armed.Delay = control.Duration(delay)
			return c.SetFaults(ctx, armed)
		}),
	}
	set.Flags().BoolVar(&armed.CorruptSignature, "corrupt-signature", false, "corrupt the next signature")
	set.Flags().BoolVar(&armed.ClearUP, "clear-up", false, "clear UP in the next authenticator data")
	set.Flags().BoolVar(&armed.ClearUV, "clear-uv", false, "clear UV in the next authenticator data")
	set.Flags().StringVar(&armed.Status, "status", "", "answer the next command with this CTAP status")
	set.Flags().StringVar(&armed.Command, "command", "", "the CTAP command --status waits for (default: any)")
	set.Flags().DurationVar(&delay, "delay", 0, "delay every command")
	cmd.AddCommand(set)
	cmd.AddCommand(&cobra.Command{
		Use:   "clear",
		Short: "Disarm every fault",
		Args:  cobra.NoArgs,
		RunE: run(func(ctx context.Context, _ *cobra.Command, c *control.Client, _ []string) error {
			return c.SetFaults(ctx, control.Faults{})
		}),
	})
	return cmd
}
