package userstore

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestHashVerify(t *testing.T) {
	h := NewHasher([]byte("pepper-pepper-pepper"), DefaultParams, 2)
	phc, err := h.Hash(context.Background(), "cred")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("PHC %q", phc)
	}
	for cred, want := range map[string]bool{"cred": true, "Cred": false, "": false} {
		if ok, err := h.Verify(context.Background(), phc, cred); ok != want || err != nil {
			t.Errorf("Verify(%q) = %v, %v; want %v", cred, ok, err, want)
		}
	}
	// Another pepper: the same string no longer matches.
	other := NewHasher([]byte("another-pepper-value"), DefaultParams, 1)
	if ok, _ := other.Verify(context.Background(), phc, "cred"); ok {
		t.Error("hash verified under another pepper")
	}
}

func TestWeakOrBrokenHashesAreRejected(t *testing.T) {
	h := NewHasher([]byte("pepper-pepper-pepper"), DefaultParams, 1)
	for _, phc := range []string{
		"$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", // below the OWASP floor
		"$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"plaintext",
	} {
		if ok, err := h.Verify(context.Background(), phc, "x"); ok || err == nil {
			t.Errorf("Verify accepted %q", phc)
		}
		if _, err := Parse(strings.NewReader("ali " + phc + "\n")); err == nil {
			t.Errorf("Parse accepted %q", phc)
		}
	}
}

func TestBusyWhenNoSlot(t *testing.T) {
	h := NewHasher([]byte("pepper-pepper-pepper"), DefaultParams, 1)
	h.slots <- struct{}{} // the only slot is taken
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := h.Verify(ctx, "x", "y"); err != ErrBusy {
		t.Fatalf("err = %v, want ErrBusy", err)
	}
}

func TestFileRoundTripAndEdit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	h := NewHasher([]byte("pepper-pepper-pepper"), DefaultParams, 2)
	phc, _ := h.Hash(context.Background(), "c")
	var wg sync.WaitGroup
	for _, n := range []string{"ali", "bianca", "carol", "dave"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := Edit(path, func(u map[string]User) error {
				u[n] = User{Name: n, Hash: phc}
				return nil
			}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	users, err := ReadFile(path)
	if err != nil || len(users) != 4 {
		t.Fatalf("concurrent edits lost users: %v %v", users, err)
	}
	unlocked := time.Unix(0, 1700000000123456789)
	Edit(path, func(u map[string]User) error { a := u["ali"]; a.Unlocked = unlocked; u["ali"] = a; return nil })
	users, _ = ReadFile(path)
	if !users["ali"].Unlocked.Equal(unlocked) {
		t.Errorf("unlocked = %v", users["ali"].Unlocked)
	}
	for _, bad := range []string{"ali\n", "al i " + phc + "\n", "ali " + phc + "\nALI " + phc + "\n", "ali " + phc + " unlocked=x\n"} {
		if _, err := Parse(strings.NewReader(bad)); err == nil {
			t.Errorf("Parse accepted %q", bad)
		}
	}
}

func TestStoreReloadIfChanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	s, err := Open(path) // missing file: empty store
	if err != nil || s.Len() != 0 {
		t.Fatal(err)
	}
	if changed, _ := s.ReloadIfChanged(); changed {
		t.Error("reloaded a file that still does not exist")
	}
	h := NewHasher([]byte("pepper-pepper-pepper"), DefaultParams, 1)
	phc, _ := h.Hash(context.Background(), "c")
	Edit(path, func(u map[string]User) error { u["ali"] = User{Name: "ali", Hash: phc}; return nil })
	if changed, err := s.ReloadIfChanged(); !changed || err != nil {
		t.Fatalf("changed=%v err=%v", changed, err)
	}
	if _, ok := s.Lookup("ali"); !ok {
		t.Fatal("ali not loaded")
	}
	if changed, _ := s.ReloadIfChanged(); changed {
		t.Error("reloaded an unchanged file")
	}
	os.WriteFile(path, []byte("garbage line\n"), 0o600)
	if _, err := s.Reload(); err == nil {
		t.Fatal("loaded a broken file")
	}
	if _, ok := s.Lookup("ali"); !ok {
		t.Fatal("a broken file dropped the users in force")
	}
}

func TestPepper(t *testing.T) {
	dir := t.TempDir()
	p1, err := LoadOrCreatePepper(dir)
	if err != nil || len(p1) != 32 {
		t.Fatal(err)
	}
	p2, _ := LoadOrCreatePepper(dir)
	if string(p1) != string(p2) {
		t.Fatal("pepper changed between loads")
	}
	fi, _ := os.Stat(filepath.Join(dir, PepperFile))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("pepper mode %v", fi.Mode())
	}
	os.WriteFile(filepath.Join(dir, PepperFile), []byte("zz\n"), 0o600)
	if _, err := LoadOrCreatePepper(dir); err == nil {
		t.Error("accepted a damaged pepper")
	}
}
