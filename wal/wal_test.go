package wal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/pace-tracing/pace/model"
)

func entry(i int) Entry {
	var id model.TraceID
	id[15] = byte(i)
	id[0] = 1
	return Entry{ID: id, Data: bytes.Repeat([]byte(fmt.Sprintf("span-%d;", i)), 10+i)}
}

func replayAll(t *testing.T, path string) ([]Entry, error) {
	t.Helper()
	var got []Entry
	_, err := Replay(path, func(e Entry) error {
		got = append(got, Entry{ID: e.ID, Data: append([]byte(nil), e.Data...)})
		return nil
	})
	return got, err
}

func TestReplayReturnsEveryAppendedEntryInOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a"+Ext)
	s, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []Entry
	for i := 0; i < 20; i++ {
		batch := []Entry{entry(i), entry(i + 100)}
		if err := s.Append(batch); err != nil {
			t.Fatal(err)
		}
		want = append(want, batch...)
	}
	// No Close: a killed process never closes its segment.
	got, err := replayAll(t, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("replayed %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Fatalf("entry %d differs", i)
		}
	}
	_ = s.Close()
}

func TestReplayStopsAtTornTailAndKeepsEverythingBefore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b"+Ext)
	s, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := s.Append([]Entry{entry(i)}); err != nil {
			t.Fatal(err)
		}
	}
	full := s.Size()
	if err := s.Append([]Entry{entry(99)}); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	// Simulate a crash in the middle of the last write(2).
	if err := os.Truncate(path, full+5); err != nil {
		t.Fatal(err)
	}
	got, err := replayAll(t, path)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("want ErrCorrupt for a torn tail, got %v", err)
	}
	if len(got) != 5 {
		t.Fatalf("replayed %d entries before the torn record, want 5", len(got))
	}
}

func TestReplayDetectsFlippedByte(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c"+Ext)
	s, _ := Create(path)
	_ = s.Append([]Entry{entry(1)})
	_ = s.Append([]Entry{entry(2)})
	_ = s.Close()
	b, _ := os.ReadFile(path)
	b[len(b)-3] ^= 0xff
	_ = os.WriteFile(path, b, 0o644)
	got, err := replayAll(t, path)
	if !errors.Is(err, ErrCorrupt) || len(got) != 1 {
		t.Fatalf("got %d entries, err %v; want 1 entry and ErrCorrupt", len(got), err)
	}
}

func TestAppendAfterRemoveFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d"+Ext)
	s, _ := Create(path)
	if err := s.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := s.Append([]Entry{entry(1)}); err == nil {
		t.Fatal("append to a removed segment succeeded")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("segment file still exists after Remove")
	}
}

// FuzzReplay feeds arbitrary bytes to the replay decoder: it must never
// panic, and whatever it delivers must come from complete, checksummed records.
func FuzzReplay(f *testing.F) {
	dir := f.TempDir()
	seed := filepath.Join(dir, "seed"+Ext)
	s, _ := Create(seed)
	_ = s.Append([]Entry{entry(1), entry(2)})
	_ = s.Append([]Entry{entry(3)})
	_ = s.Close()
	b, _ := os.ReadFile(seed)
	f.Add(b)
	f.Add(b[:len(b)-4])
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "f"+Ext)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		good, err := Replay(path, func(Entry) error { return nil })
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("replay error is not ErrCorrupt: %v", err)
		}
		if good < 0 || good > int64(len(data)) {
			t.Fatalf("good prefix %d outside 0..%d", good, len(data))
		}
	})
}
