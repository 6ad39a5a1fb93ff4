package cli

import (
	"bufio"
	"errors"
	"io"
	"strings"

	"github.com/chzyer/readline"
)

// errInterrupted is CTRL-C typed at a readline prompt.
var errInterrupted = errors.New("interrupted")

// lineSource reads what the person types, one line at a time.
type lineSource interface {
	ReadLine() (string, error)
}

// maxInputLine bounds one line read from a pipe; longer lines are sent in
// pieces.
const maxInputLine = 16 << 10

// pipeLines reads lines from stdin when it is not a terminal.
type pipeLines struct {
	r *bufio.Reader
}

func newPipeLines(r io.Reader) *pipeLines {
	return &pipeLines{r: bufio.NewReaderSize(r, maxInputLine)}
}

func (p *pipeLines) ReadLine() (string, error) {
	b, err := p.r.ReadSlice('\n')
	line := string(b)
	switch {
	case err == nil:
		return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
	case errors.Is(err, bufio.ErrBufferFull):
		return line, nil
	case line != "" && errors.Is(err, io.EOF):
		return line, nil // the last line lacked its newline
	}
	return "", err
}

// readlineLines reads lines with chzyer/readline on a terminal.
type readlineLines struct {
	rl *readline.Instance
}

func (r readlineLines) ReadLine() (string, error) {
	line, err := r.rl.Readline()
	if errors.Is(err, readline.ErrInterrupt) {
		return "", errInterrupted
	}
	return line, err
}
