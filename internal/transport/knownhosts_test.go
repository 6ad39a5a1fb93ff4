package transport

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKnownHostsTrustOnFirstUse(t *testing.T) {
	srvID, newSrvID, cliID := newIdentity(t), newIdentity(t), newIdentity(t)
	path := filepath.Join(t.TempDir(), "state", "known_hosts")
	kh := &KnownHosts{Path: path}

	l, ch := listen(t, secure(srvID), "", nil)
	addr := l.Addr().String()
	if _, ok := kh.Lookup(addr); ok {
		t.Fatal("empty known_hosts knows a host")
	}

	// First use: accepted and recorded.
	c, err := secure(cliID).Dial(testCtx(t), addr, kh.Verify(addr, ""))
	if err != nil {
		t.Fatalf("first use: %v", err)
	}
	c.Close()
	wait(t, ch)
	fp, ok := kh.Lookup(addr)
	if !ok || fp != Fingerprint(srvID.Public) {
		t.Fatalf("recorded %q, %v; want %s", fp, ok, Fingerprint(srvID.Public))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != addr+" "+Fingerprint(srvID.Public)+"\n" {
		t.Errorf("known_hosts holds %q", data)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("known_hosts mode %v, want 0600", fi.Mode().Perm())
	}

	// Second use, same key: accepted, file unchanged.
	c, err = secure(cliID).Dial(testCtx(t), addr, kh.Verify(addr, ""))
	if err != nil {
		t.Fatalf("second use: %v", err)
	}
	c.Close()
	wait(t, ch)

	// The server comes back with another key on the same address.
	l.Close()
	l2, ch2 := listen(t, secure(newSrvID), addr, nil)
	_ = l2
	_, err = secure(cliID).Dial(testCtx(t), addr, kh.Verify(addr, ""))
	if !errors.Is(err, ErrServerKeyChanged) {
		t.Fatalf("changed server key: %v, want ErrServerKeyChanged", err)
	}
	for _, s := range []string{Fingerprint(newSrvID.Public), Fingerprint(srvID.Public), path, "pi2pi-server fingerprint"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	if s := wait(t, ch2); s.err == nil {
		t.Error("server side completed a handshake the client refused")
	}
	if again, _ := os.ReadFile(path); string(again) != string(data) {
		t.Errorf("known_hosts changed after a refusal: %q", again)
	}
}

func TestKnownHostsFile(t *testing.T) {
	a, b, c := newIdentity(t).Public, newIdentity(t).Public, newIdentity(t).Public
	path := filepath.Join(t.TempDir(), "known_hosts")
	// Comments, blank lines and a last line without a newline are kept.
	orig := "# pinned by hand\n\nsrv-a:8082 " + Fingerprint(a)
	if err := os.WriteFile(path, []byte(orig), 0o600); err != nil {
		t.Fatal(err)
	}
	kh := &KnownHosts{Path: path}
	if err := kh.Verify("srv-a:8082", "")(a); err != nil {
		t.Fatalf("pinned host with its key: %v", err)
	}
	if err := kh.Verify("srv-a:8082", "")(b); !errors.Is(err, ErrServerKeyChanged) {
		t.Fatalf("pinned host with another key: %v", err)
	}
	// Pins are per host: another host is trusted on its first use.
	if err := kh.Verify("srv-b:8082", "")(b); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	want := orig + "\nsrv-b:8082 " + Fingerprint(b) + "\n"
	if string(data) != want {
		t.Errorf("known_hosts:\n%s\nwant:\n%s", data, want)
	}
	if err := kh.Verify("srv-b:8082", "")(c); !errors.Is(err, ErrServerKeyChanged) {
		t.Fatalf("second host with another key: %v", err)
	}
	if err := kh.Verify("srv-a:8082", "")(a); err != nil {
		t.Fatalf("first host after adding a second: %v", err)
	}
}

// TestKnownHostsConfiguredFingerprint: a fingerprint given by flag or
// config is the only key accepted, and the file is neither read nor
// written.
func TestKnownHostsConfiguredFingerprint(t *testing.T) {
	srvID, otherID, cliID := newIdentity(t), newIdentity(t), newIdentity(t)
	path := filepath.Join(t.TempDir(), "known_hosts")
	kh := &KnownHosts{Path: path}
	l, ch := listen(t, secure(srvID), "", nil)
	addr := l.Addr().String()
	// A stale first-use record for the host must not override the flag.
	if err := os.WriteFile(path, []byte(addr+" "+Fingerprint(otherID.Public)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	c, err := secure(cliID).Dial(testCtx(t), addr, kh.Verify(addr, Fingerprint(srvID.Public)))
	if err != nil {
		t.Fatalf("configured fingerprint, right key: %v", err)
	}
	c.Close()
	wait(t, ch)

	_, err = secure(cliID).Dial(testCtx(t), addr, kh.Verify(addr, Fingerprint(otherID.Public)))
	if !errors.Is(err, ErrServerKeyChanged) {
		t.Fatalf("configured fingerprint, other key: %v, want ErrServerKeyChanged", err)
	}
	if !strings.Contains(err.Error(), "--server-fingerprint") {
		t.Errorf("error %q does not say what to update", err)
	}
	wait(t, ch)
	if data, _ := os.ReadFile(path); string(data) != addr+" "+Fingerprint(otherID.Public)+"\n" {
		t.Errorf("known_hosts written despite a configured fingerprint: %q", data)
	}
}

func TestKnownHostsUnreadable(t *testing.T) {
	// known_hosts is a directory: no silent trust.
	kh := &KnownHosts{Path: t.TempDir()}
	if err := kh.Verify("srv:8082", "")(newIdentity(t).Public); err == nil {
		t.Fatal("unreadable known_hosts accepted a key")
	}
}

func TestReadFingerprints(t *testing.T) {
	path := filepath.Join(t.TempDir(), "known_hosts")
	if m, err := ReadFingerprints(path); err != nil || len(m) != 0 {
		t.Fatalf("missing file: %v, %v", m, err)
	}
	a, c := Fingerprint(newIdentity(t).Public), Fingerprint(newIdentity(t).Public)
	data := "# comment\n\n  srv-a:8082 " + a + "  \n#srv-b SHA256:bbb\nsrv-c " + c
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := ReadFingerprints(path)
	if err != nil || len(m) != 2 || m["srv-a:8082"] != a || m["srv-c"] != c {
		t.Fatalf("ReadFingerprints = %v, %v", m, err)
	}
	if _, err := ReadFingerprints(t.TempDir()); err == nil {
		t.Fatal("ReadFingerprints(a directory) succeeded")
	}
	for _, bad := range []string{"lonely", "srv-a:8082 SHA256:aaa", "srv-a:8082 " + a[:20], "srv-c " + a, "srv-d \xff" + a} {
		if err := os.WriteFile(path, []byte(data+"\n"+bad+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := ReadFingerprints(path)
		if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "line 6") || !strings.Contains(err.Error(), path) {
			t.Errorf("line %q: err = %v, want ErrDamaged naming line 6 and the file", bad, err)
		}
	}
}

// A damaged line must not make a pinned server look unpinned: the next key
// it presents would be trusted as if met for the first time.
func TestKnownHostsDamagedLineFailsClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "known_hosts")
	kh := &KnownHosts{Path: path}
	if err := kh.Verify("srv:8082", "")(newIdentity(t).Public); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The pinned line loses its fingerprint (a half-written edit).
	cut := data[:len("srv:8082")]
	if err := os.WriteFile(path, cut, 0o600); err != nil {
		t.Fatal(err)
	}
	err = kh.Verify("srv:8082", "")(newIdentity(t).Public)
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("another key with the pin damaged: err = %v, want ErrDamaged", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(cut) {
		t.Fatalf("known_hosts changed to %q", after)
	}
}
