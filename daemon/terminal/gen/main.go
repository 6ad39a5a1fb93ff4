// Command gen writes the pi2pid statechart (Mermaid in Markdown) from the
// transition table in daemon/terminal.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/pi2pi/pi2pi/daemon/terminal"
	"github.com/pi2pi/pi2pi/internal/transport"
)

func main() {
	out := flag.String("o", "docs/statechart.md", "file to write")
	flag.Parse()
	if err := transport.WriteFileAtomic(*out, []byte(terminal.Mermaid()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
