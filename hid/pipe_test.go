package hid

import (
	"bytes"
	"testing"
	"time"
)

func TestPipe(t *testing.T) {
	host, dev := Pipe()
	for i, tr := range []struct{ from, to Transport }{{host, dev}, {dev, host}} {
		r := bytes.Repeat([]byte{byte(i + 1)}, ReportSize)
		if err := tr.from.WriteReport(r); err != nil {
			t.Fatal(err)
		}
		r[0] = 0 // the pipe must have copied the report
		got, err := tr.to.ReadReport()
		if err != nil || !bytes.Equal(got, bytes.Repeat([]byte{byte(i + 1)}, ReportSize)) {
			t.Fatalf("ReadReport = % x, %v", got, err)
		}
	}
	for _, n := range []int{0, 63, 65} {
		if err := host.WriteReport(make([]byte, n)); err == nil {
			t.Errorf("WriteReport of %d bytes succeeded", n)
		}
	}

	// Reports written before Close still arrive, then both ends read EOF.
	if err := dev.WriteReport(make([]byte, ReportSize)); err != nil {
		t.Fatal(err)
	}
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := host.ReadReport(); err != nil {
		t.Fatalf("report written before Close: %v", err)
	}
	for name, end := range map[string]Transport{"host": host, "device": dev} {
		if _, err := end.ReadReport(); !isEOF(err) {
			t.Errorf("%s ReadReport after Close: %v, want EOF", name, err)
		}
		if err := end.WriteReport(make([]byte, ReportSize)); err == nil {
			t.Errorf("%s WriteReport after Close succeeded", name)
		}
	}
	if err := host.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestPipeWriteReports checks the whole-message path: reports written
// together arrive in order, one at a time, and interleave correctly with
// single writes; a batch is refused unless it is whole reports.
func TestPipeWriteReports(t *testing.T) {
	host, dev := Pipe()
	w := host.(reportsWriter)
	batch := make([]byte, 3*ReportSize)
	for i := range batch {
		batch[i] = byte(i / ReportSize)
	}
	if err := w.WriteReports(batch); err != nil {
		t.Fatal(err)
	}
	if err := host.WriteReport(bytes.Repeat([]byte{3}, ReportSize)); err != nil {
		t.Fatal(err)
	}
	batch[0] = 9 // the pipe must have copied the batch
	for want := range byte(4) {
		got, err := dev.ReadReport()
		if err != nil || !bytes.Equal(got, bytes.Repeat([]byte{want}, ReportSize)) {
			t.Fatalf("report %d = % x, %v", want, got, err)
		}
	}
	if err := w.WriteReports(make([]byte, ReportSize+1)); err == nil {
		t.Error("WriteReports of a partial report succeeded")
	}
}

// TestPipeLargeBatch checks that a batch longer than the queue waits for
// the queue to empty and then goes in whole, while the reader drains it.
func TestPipeLargeBatch(t *testing.T) {
	host, dev := Pipe()
	r := make([]byte, ReportSize)
	if err := host.WriteReport(r); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- host.(reportsWriter).WriteReports(make([]byte, (pipeDepth+10)*ReportSize)) }()
	for i := range pipeDepth + 11 {
		if _, err := dev.ReadReport(); err != nil {
			t.Fatalf("report %d: %v", i, err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestPipeCloseUnblocksReader(t *testing.T) {
	host, dev := Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := dev.ReadReport()
		done <- err
	}()
	host.Close()
	if err := <-done; !isEOF(err) {
		t.Fatalf("blocked ReadReport after peer Close: %v, want EOF", err)
	}
}

func TestPipeCloseUnblocksWriter(t *testing.T) {
	host, dev := Pipe()
	r := make([]byte, ReportSize)
	for range pipeDepth {
		if err := host.WriteReport(r); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- host.WriteReport(r) }()
	time.Sleep(20 * time.Millisecond) // let the write block on the full queue
	dev.Close()
	if err := <-done; err == nil {
		t.Fatal("WriteReport to a full, closed pipe succeeded")
	}
}
