package terminal

import (
	"fmt"
	"strings"
)

// Mermaid returns docs/statechart.md: the transition table drawn as a
// Mermaid state diagram, plus the table itself.
func Mermaid() string {
	var b strings.Builder
	b.WriteString("# pi2pid statechart\n\n")
	b.WriteString("Generated from `daemon/terminal.Table` by `go generate ./daemon/terminal`; do not edit.\n")
	b.WriteString("A test fails when this file and the table disagree.\n\n")
	b.WriteString("```mermaid\nstateDiagram-v2\n")
	for _, s := range States() {
		fmt.Fprintf(&b, "    state \"%s\" as %s\n", s, ident(s))
	}
	fmt.Fprintf(&b, "    [*] --> %s\n", ident(LoggedOut))
	for _, e := range Table {
		fmt.Fprintf(&b, "    %s --> %s: %s\n", ident(e.From), ident(e.To), e.Event)
	}
	b.WriteString("```\n\n| from | to | on |\n|---|---|---|\n")
	for _, e := range Table {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", e.From, e.To, e.Event)
	}
	return b.String()
}

// ident turns "reading-passcode" into "ReadingPasscode" for Mermaid.
func ident(s State) string {
	parts := strings.Split(s.String(), "-")
	for i, p := range parts {
		parts[i] = strings.ToUpper(p[:1]) + p[1:]
	}
	return strings.Join(parts, "")
}
