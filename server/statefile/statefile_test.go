package statefile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSaveIsDurableAndGrouped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	var v atomic.Int64
	var writes atomic.Int64
	w := New(path, time.Hour, func() []byte {
		writes.Add(1)
		return []byte(fmt.Sprint(v.Load()))
	})
	defer w.Close()
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := v.Add(1)
			if err := w.Save(); err != nil {
				t.Error(err)
			}
			data, _ := os.ReadFile(path)
			var got int64
			fmt.Sscan(string(data), &got)
			if got < n {
				t.Errorf("after Save the file holds %d, want at least %d", got, n)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d writes for 100 saves", writes.Load())
}

func TestMarkDirtyWritesSoon(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	w := New(path, 10*time.Millisecond, func() []byte { return []byte("x") })
	defer w.Close()
	w.MarkDirty()
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("dirty state not written")
}

func TestNilWriterKeepsStateInMemory(t *testing.T) {
	var w *Writer
	w.MarkDirty()
	if err := w.Save(); err != nil {
		t.Fatalf("Save on nil Writer: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close on nil Writer: %v", err)
	}
}

func TestReadMissingFileIsEmpty(t *testing.T) {
	data, err := Read(filepath.Join(t.TempDir(), "absent"))
	if err != nil || len(data) != 0 {
		t.Fatalf("Read(missing) = %q, %v; want empty, nil", data, err)
	}
	if _, err := Read(t.TempDir()); err == nil {
		t.Fatal("Read(a directory) succeeded")
	}
}

func TestRecords(t *testing.T) {
	data := []byte("# header\n\n a 1 \n  # indented comment\nb\t2\n")
	var got []string
	err := Records(data, 2, func(f []string) error {
		got = append(got, strings.Join(f, "="))
		return nil
	})
	if err != nil || strings.Join(got, ",") != "a=1,b=2" {
		t.Fatalf("Records = %q, %v; want [a=1 b=2]", got, err)
	}
	for _, c := range []struct{ data, want string }{
		{"a 1\nb 2 3\n", "line 2: want 2 fields"},
		{"# x\nbad 1\n", "line 2: bad record"},
	} {
		err := Records([]byte(c.data), 2, func(f []string) error {
			if f[0] == "bad" {
				return errors.New("bad record")
			}
			return nil
		})
		if err == nil || err.Error() != c.want {
			t.Errorf("Records(%q) error = %v, want %q", c.data, err, c.want)
		}
	}
}
