package audit

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// PollInterval is how often Follow looks for new records.
const PollInterval = 200 * time.Millisecond

// maxLine bounds a line Follow waits to see completed; a longer one is not
// a record and is skipped.
const maxLine = 1 << 20

// rotated lists the rotated files in dir, oldest first.
func rotated(dir string) []string {
	var paths []string
	for g := 1; ; g++ {
		p := filepath.Join(dir, FileName+"."+strconv.Itoa(g))
		if _, err := os.Stat(p); err != nil {
			break
		}
		paths = append([]string{p}, paths...)
	}
	return paths
}

// decodeLines turns complete lines into records at or after since,
// counting the lines that are not records.
func decodeLines(ls [][]byte, since time.Time, out []Record) ([]Record, int) {
	bad := 0
	for _, l := range ls {
		var r Record
		if len(l) > maxLine || json.Unmarshal(l, &r) != nil || r.Operation == "" {
			bad++
			continue
		}
		if !r.Time.Before(since) {
			out = append(out, r)
		}
	}
	return out, bad
}

// Read returns the records of the audit log in the store directory dir at
// or after since (the zero time: all), oldest first, and how many lines
// were not records. A log that does not exist yet has no records.
func Read(dir string, since time.Time) ([]Record, int, error) {
	var out []Record
	bad := 0
	for _, p := range append(rotated(dir), filepath.Join(dir, FileName)) {
		data, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		complete, _ := lines(data) // an incomplete last line is a write in progress
		var n int
		out, n = decodeLines(complete, since, out)
		bad += n
	}
	return out, bad, nil
}

// Follow calls fn with the records at or after since that the log already
// holds, then with each record appended later, as `tail -F` would, until
// ctx ends (Follow then returns nil) or fn returns an error. It notices
// rotation and a log that appears only later.
func Follow(ctx context.Context, dir string, since time.Time, fn func(Record) error) error {
	// Open the current file first, then read the rotated ones but the one
	// it may have become meanwhile: nothing is lost or seen twice.
	t := &tail{path: filepath.Join(dir, FileName), since: since}
	if err := t.open(); err != nil {
		return err
	}
	defer t.close()
	for _, p := range rotated(dir) {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if fi, err := os.Stat(p); err == nil && t.is(fi) {
			continue
		}
		complete, _ := lines(data)
		records, _ := decodeLines(complete, since, nil)
		for _, r := range records {
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	for {
		got, err := t.poll()
		if err != nil {
			return err
		}
		for _, r := range got {
			if err := fn(r); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// tail reads what is appended to one path, across rotations.
type tail struct {
	path    string
	since   time.Time
	f       *os.File
	partial []byte
}

// open opens the file, if it exists, to read it from the start.
func (t *tail) open() error {
	f, err := os.Open(t.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	t.f, t.partial = f, nil
	return nil
}

// is reports whether fi is the file the tail has open.
func (t *tail) is(fi os.FileInfo) bool {
	if t.f == nil {
		return false
	}
	mine, err := t.f.Stat()
	return err == nil && os.SameFile(mine, fi)
}

// poll returns the records completed since the last poll.
func (t *tail) poll() ([]Record, error) {
	var out []Record
	if t.f != nil {
		got, err := t.readMore()
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	// Rotated, or created after we started: switch to the new file, having
	// read the old one to its end above.
	cur, err := os.Stat(t.path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	if t.is(cur) {
		return out, nil
	}
	t.close()
	if err := t.open(); err != nil {
		return nil, err
	}
	got, err := t.readMore()
	return append(out, got...), err
}

// readMore returns the records completed since the last read, reading to
// the end of the file a chunk at a time.
func (t *tail) readMore() ([]Record, error) {
	var out []Record
	buf := make([]byte, 64<<10)
	for t.f != nil {
		n, err := t.f.Read(buf)
		if n > 0 {
			var complete [][]byte
			complete, t.partial = lines(append(t.partial, buf[:n]...))
			if len(t.partial) > maxLine {
				t.partial = nil
			}
			out, _ = decodeLines(complete, t.since, out)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (t *tail) close() {
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
}
