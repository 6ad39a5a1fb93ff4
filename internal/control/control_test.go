package control

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadLine(t *testing.T) {
	long := strings.Repeat("y", 100)
	in := "short\r\n" + long + "\nlast"
	r := bufio.NewReaderSize(strings.NewReader(in), 16) // long spans many buffers
	var scratch []byte
	for _, want := range []string{"short", long, "last"} {
		line, err := ReadLine(r, &scratch)
		if err != nil || string(line) != want {
			t.Fatalf("ReadLine = %q, %v; want %q", line, err, want)
		}
	}
	if _, err := ReadLine(r, &scratch); err != io.EOF {
		t.Fatalf("at the end: %v, want EOF", err)
	}
	r = bufio.NewReaderSize(strings.NewReader(strings.Repeat("x", MaxLine+1)+"\n"), 4096)
	if _, err := ReadLine(r, &scratch); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("line over MaxLine: %v, want ErrLineTooLong", err)
	}
	r = bufio.NewReaderSize(strings.NewReader(strings.Repeat("x", MaxLine)+"\n"), 4096)
	if line, err := ReadLine(r, &scratch); err != nil || len(line) != MaxLine {
		t.Fatalf("line of MaxLine bytes: %d bytes, %v", len(line), err)
	}
}
