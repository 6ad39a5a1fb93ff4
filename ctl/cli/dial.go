package cli

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/pi2pi/pi2pi/ctl/tty"
	"github.com/pi2pi/pi2pi/internal/control"
)

func dial(ctx context.Context, socket string) (*control.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return control.Dial(ctx, socket)
}

func isTerminal(fd int) bool { return tty.IsTerminal(fd) }

// isTerminalWriter reports whether w is a terminal.
func isTerminalWriter(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isTerminal(int(f.Fd()))
}

func callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), callTimeout)
}
