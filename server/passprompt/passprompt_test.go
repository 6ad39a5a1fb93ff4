package passprompt

import (
	"bytes"
	"os"
	"testing"
)

func TestReadFromPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	w.WriteString("1234\r\nrest\n")
	w.Close()
	var out bytes.Buffer
	got, err := Read(r, &out, "Passcode: ")
	if err != nil || got != "1234" {
		t.Fatalf("Read = %q, %v", got, err)
	}
	if out.Len() != 0 {
		t.Errorf("prompted on a pipe: %q", out.String())
	}
	// Only the first line was consumed.
	if got, _ := Read(r, &out, ""); got != "rest" {
		t.Errorf("second line = %q", got)
	}
	if _, err := Read(r, &out, ""); err == nil {
		t.Error("no error at end of input")
	}
}
