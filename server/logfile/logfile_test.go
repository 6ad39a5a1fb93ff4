package logfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestRotatesAndKeepsOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.log")
	l, err := Open(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	for i := range 12 {
		line := fmt.Sprintf("line %02d xxxxxxxxxxxxxxxxxxxxxxxx\n", i) // 33 bytes
		all.WriteString(line)
		if _, err := l.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	cur, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(path + ".1")
	if err != nil {
		t.Fatalf("no rotated file: %v", err)
	}
	if len(cur) > 100 || len(old) > 100 {
		t.Errorf("files exceed the limit: %d and %d bytes", len(cur), len(old))
	}
	// Three lines fit in 100 bytes: the last six lines survive, in order.
	if got, want := string(old)+string(cur), all.String()[6*33:]; got != want {
		t.Errorf("kept %q, want %q", got, want)
	}
	if _, err := l.Write([]byte("late\n")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("write after Close: %v, want os.ErrClosed", err)
	}
}

func TestAppendsToExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.log")
	if err := os.WriteFile(path, []byte("before\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path, 10)
	if err != nil {
		t.Fatal(err)
	}
	// "before\n" + "after\n" is 13 bytes > 10: the old content rotates out.
	if _, err := l.Write([]byte("after\n")); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if b, _ := os.ReadFile(path + ".1"); string(b) != "before\n" {
		t.Errorf("rotated file = %q", b)
	}
	if b, _ := os.ReadFile(path); string(b) != "after\n" {
		t.Errorf("current file = %q", b)
	}
}

func TestOversizedLineIsWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.log")
	l, err := Open(path, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if n, err := l.Write([]byte("longer than four\n")); err != nil || n != 17 {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if b, _ := os.ReadFile(path); string(b) != "longer than four\n" {
		t.Errorf("file = %q", b)
	}
}
