package statefile

import (
	"fmt"
	"os"
	"path/filepath"
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
