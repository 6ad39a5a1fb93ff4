package lab

import (
	"fmt"
	"os/exec"
	"strings"
)

// Net is a bridge in a network namespace of its own; every machine has
// its own namespace with one interface, eth0, on that bridge. Addresses
// exist only inside these namespaces.
type Net struct {
	Prefix string // namespace names start with it: unique per lab
	Subnet string // e.g. "10.85.0": machines are .1, .2, ...
}

func (n *Net) bridgeNS() string { return n.Prefix + "-br" }

// NS is the name of a machine's network namespace (under /run/netns).
func (n *Net) NS(machine string) string { return n.Prefix + "-" + machine }

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Up creates the bridge's namespace.
func (n *Net) Up() error {
	br := n.bridgeNS()
	for _, a := range [][]string{
		{"netns", "add", br},
		{"-n", br, "link", "set", "lo", "up"},
		{"-n", br, "link", "add", "br0", "type", "bridge"},
		{"-n", br, "link", "set", "br0", "up"},
	} {
		if err := ip(a...); err != nil {
			return err
		}
	}
	return nil
}

// Add makes the namespace of machine number i (1, 2, ...) with address
// Subnet.i/24 on eth0, and returns the namespace's path.
func (n *Net) Add(machine string, i int) (string, error) {
	br, ns := n.bridgeNS(), n.NS(machine)
	veth := fmt.Sprintf("v%d", i)
	for _, a := range [][]string{
		{"netns", "add", ns},
		{"-n", br, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"-n", br, "link", "set", veth, "master", "br0", "up"},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "addr", "add", fmt.Sprintf("%s.%d/24", n.Subnet, i), "dev", "eth0"},
		{"-n", ns, "link", "set", "eth0", "up"},
	} {
		if err := ip(a...); err != nil {
			return "", err
		}
	}
	return "/run/netns/" + ns, nil
}

// Down deletes the namespaces of the bridge and of the given machines.
func (n *Net) Down(machines []string) {
	for _, m := range machines {
		_ = ip("netns", "del", n.NS(m))
	}
	_ = ip("netns", "del", n.bridgeNS())
}
