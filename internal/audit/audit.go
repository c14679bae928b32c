// Package audit keeps the audit log of a store: one JSON line per
// credential event — registered, asserted, deleted, reset — with its time,
// relying party, user, credential, and for registrations the AAGUID and
// attestation format the relying party received, so that an administrator
// can tell which authenticator model registered what, and when.
//
// The log is audit.log in the store directory (0600), appended by the
// process that holds the store (vauth run, or the CLI when it changes a
// store directly). A registration is on disk (fsync) before the relying
// party gets its answer; other events are written through without an
// fsync each. The file is bounded: past MaxSize it is rotated to
// audit.log.1 (and .1 to .2, up to Keep old files), the oldest dropped.
// Read and Follow read the old files, then the current one.
package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/vauth/vauth/ctap2"
)

// FileName is the audit log in the store directory.
const FileName = "audit.log"

// Defaults of Options.
const (
	DefaultMaxSize = 4 << 20 // bytes per file
	DefaultKeep    = 3       // rotated files kept
)

// ResultOK is the Result of an operation that succeeded: the
// authenticator reports events after each success.
const ResultOK = "ok"

// Record is one line of the log.
type Record struct {
	Time time.Time `json:"time"`
	// Operation is a ctap2.EventType: registered, asserted, deleted or
	// reset.
	Operation       string `json:"op"`
	RPID            string `json:"rpId,omitempty"`
	UserID          Bytes  `json:"userId,omitempty"`
	UserName        string `json:"userName,omitempty"`
	UserDisplayName string `json:"userDisplayName,omitempty"`
	CredentialID    Bytes  `json:"credentialId,omitempty"`
	Discoverable    bool   `json:"discoverable,omitempty"`
	// AAGUID and AttestationFormat are what a registration's attested
	// credential data and attestation statement carried.
	AAGUID            string `json:"aaguid,omitempty"`
	AttestationFormat string `json:"attestationFormat,omitempty"`
	// SignCount, UP and UV are the authenticator data's, for registrations
	// and assertions.
	SignCount uint32 `json:"signCount,omitempty"`
	UP        bool   `json:"up,omitempty"`
	UV        bool   `json:"uv,omitempty"`
	// Transport is how the request arrived when the authenticator serves
	// more than its default USB HID (e.g. "hybrid"); empty: usb.
	Transport string `json:"transport,omitempty"`
	Result    string `json:"result"`
}

// Bytes is binary data, unpadded base64url in JSON.
type Bytes []byte

// MarshalJSON encodes b as unpadded base64url.
func (b Bytes) MarshalJSON() ([]byte, error) {
	return json.Marshal(base64.RawURLEncoding.EncodeToString(b))
}

// UnmarshalJSON decodes unpadded base64url.
func (b *Bytes) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	v, err := base64.RawURLEncoding.DecodeString(s)
	*b = v
	return err
}

// Options tune a Log. The zero value is usable.
type Options struct {
	// MaxSize is the size past which the file is rotated; 0 means
	// DefaultMaxSize.
	MaxSize int64
	// Keep is how many rotated files are kept; 0 means DefaultKeep.
	Keep int
	// Logger hears of records that could not be written (the authenticator
	// goes on); nil discards.
	Logger *slog.Logger
}

// Log appends to a store's audit log. It is safe for concurrent use.
type Log struct {
	dir  string
	opts Options

	mu   sync.Mutex
	f    *os.File
	size int64
}

// Open opens (creating it, 0600) the audit log in the store directory dir
// for appending.
func Open(dir string, opts Options) (*Log, error) {
	if opts.MaxSize <= 0 {
		opts.MaxSize = DefaultMaxSize
	}
	if opts.Keep <= 0 {
		opts.Keep = DefaultKeep
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Log{dir: dir, opts: opts}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *Log) path(generation int) string {
	if generation == 0 {
		return filepath.Join(l.dir, FileName)
	}
	return filepath.Join(l.dir, FileName+"."+strconv.Itoa(generation))
}

func (l *Log) open() error {
	f, err := os.OpenFile(l.path(0), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("audit log: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		f.Close()
		return fmt.Errorf("audit log %s is accessible by group or others (mode %04o); fix it with: chmod 600 %s", l.path(0), fi.Mode().Perm(), l.path(0))
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// Append writes r as one line, rotating the file first when it is full; a
// registration (or a reset) is synced to disk before Append returns.
func (l *Log) Append(r Record) error {
	if r.Result == "" {
		r.Result = ResultOK
	}
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("audit log: closed")
	}
	if l.size > 0 && l.size+int64(len(line)) > l.opts.MaxSize {
		if err := l.rotate(); err != nil {
			return err
		}
	}
	n, err := l.f.Write(line)
	l.size += int64(n)
	if err == nil && (r.Operation == string(ctap2.EventRegistered) || r.Operation == string(ctap2.EventReset)) {
		err = l.f.Sync()
	}
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

// rotate moves audit.log to audit.log.1, .1 to .2 and so on, dropping the
// oldest, and starts a new file.
func (l *Log) rotate() error {
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	l.f = nil
	os.Remove(l.path(l.opts.Keep))
	for g := l.opts.Keep - 1; g >= 0; g-- {
		if err := os.Rename(l.path(g), l.path(g+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("audit log: rotate: %w", err)
		}
	}
	return l.open()
}

// Close closes the file. A nil Log closes as nothing.
func (l *Log) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Source is what the authenticator tells relying parties at registration
// that its events do not carry.
type Source struct {
	AAGUID            string // as attestation.FormatAAGUID writes it
	AttestationFormat string // the fmt of its attestation statements
	Transport         string // Record.Transport of every event
}

// Observer returns a ctap2.Observer that appends each event to the log,
// then passes it on to next (when not nil). A record that cannot be
// written is logged; the authenticator goes on.
func (l *Log) Observer(src Source, next ctap2.Observer) ctap2.Observer {
	return func(e ctap2.Event) {
		r := Record{
			Time:            e.Time.UTC(),
			Operation:       string(e.Type),
			RPID:            e.RPID,
			UserID:          e.User.ID,
			UserName:        e.User.Name,
			UserDisplayName: e.User.DisplayName,
			CredentialID:    e.CredentialID,
			Discoverable:    e.Discoverable,
			SignCount:       e.SignCount,
			UP:              e.UP,
			UV:              e.UV,
			Transport:       src.Transport,
		}
		if e.Type == ctap2.EventRegistered {
			r.AAGUID, r.AttestationFormat = src.AAGUID, src.AttestationFormat
		}
		if err := l.Append(r); err != nil {
			l.opts.Logger.Warn("audit log: record not written", "op", r.Operation, "err", err)
		}
		if next != nil {
			next(e)
		}
	}
}

// lines splits complete lines off data; an incomplete last line (a write
// in progress) stays in the remainder.
func lines(data []byte) (complete [][]byte, rest []byte) {
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return complete, data
		}
		if i > 0 {
			complete = append(complete, data[:i])
		}
		data = data[i+1:]
	}
}
