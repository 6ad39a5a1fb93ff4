package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Subnet of the lab's bridge: the server is .1, the terminals .2 and .3.
const Subnet = "10.85.0"

// Spec asks for one machine.
type Spec struct {
	Name  string
	Image string // root file system (from Image)
	// BootTimeout: 0 means 2 minutes; emulated machines need more.
	BootTimeout time.Duration
}

// Lab is a set of machines on one bridge.
type Lab struct {
	Name     string // prefix of the namespace names
	Dir      string
	Net      Net
	Machines []*Machine
}

// Up creates the network and boots the machines, in parallel; on an error
// it tears down what it made. name must be unique on this host (tests put
// their pid in it); dir holds the machines' files.
func Up(ctx context.Context, name, dir string, specs []Spec) (*Lab, error) {
	l := &Lab{Name: name, Dir: dir, Net: Net{Prefix: name, Subnet: Subnet}}
	if err := l.Net.Up(); err != nil {
		l.Net.Down(nil)
		return nil, err
	}
	hosts := ""
	for i, s := range specs {
		hosts += fmt.Sprintf("%s.%d\t%s\n", Subnet, i+1, s.Name)
	}
	for i, s := range specs {
		ns, err := l.Net.Add(s.Name, i+1)
		m := &Machine{Name: s.Name, IP: fmt.Sprintf("%s.%d", Subnet, i+1), Dir: filepath.Join(dir, s.Name),
			Image: s.Image, NetNS: ns, BootTimeout: s.BootTimeout}
		l.Machines = append(l.Machines, m)
		if err == nil {
			err = m.Prepare(hosts)
		}
		if err != nil {
			l.Down()
			return nil, err
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(l.Machines))
	for i, m := range l.Machines {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = m.Boot(ctx) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		l.Down()
		return nil, err
	}
	return l, nil
}

// Machine returns the machine called name, or nil.
func (l *Lab) Machine(name string) *Machine {
	for _, m := range l.Machines {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Down stops every machine and removes the network.
func (l *Lab) Down() error {
	var wg sync.WaitGroup
	errs := make([]error, len(l.Machines))
	var names []string
	for i, m := range l.Machines {
		names = append(names, m.Name)
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = m.Stop() }()
	}
	wg.Wait()
	l.Net.Down(names)
	return errors.Join(errs...)
}

// Save writes the lab's description (for `pi2pi-lab down` and `enter`).
func (l *Lab) Save(path string) error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// Load reads what Save wrote.
func Load(path string) (*Lab, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var l Lab
	return &l, json.Unmarshal(b, &l)
}
