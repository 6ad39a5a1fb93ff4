package e2e

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pi2pi/pi2pi/internal/control"

	"github.com/pi2pi/pi2pi/internal/wire"
)

// network is a set of hosts, each in its own network namespace, wired to a
// bridge that lives in a namespace of its own (the switch).
type network struct {
	t      testing.TB
	prefix string
	sw     string            // the switch's namespace
	hosts  map[string]string // host name → namespace
	ports  map[string]string // host name → its port on the switch
	ips    map[string]string
}

// needNetns skips unless network namespaces can be made.
func needNetns(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root (CI runs as root): skipping the multi-host tests")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip is missing (apt-get install iproute2): skipping the multi-host tests")
	}
}

// newNetwork makes one namespace per host on 10.77.0.0/24, hosts numbered
// from .1 in the order given. Everything is deleted when the test ends,
// failed or not.
func newNetwork(t testing.TB, names ...string) *network {
	t.Helper()
	n := &network{
		t:      t,
		prefix: fmt.Sprintf("p2p%d", os.Getpid()%100000),
		hosts:  map[string]string{},
		ports:  map[string]string{},
		ips:    map[string]string{},
	}
	n.sw = n.prefix + "-sw"
	t.Cleanup(n.destroy)
	n.destroy() // leftovers of a killed run with the same pid
	n.ip("netns", "add", n.sw)
	n.ip("-n", n.sw, "link", "add", "br0", "type", "bridge")
	n.ip("-n", n.sw, "link", "set", "br0", "up")
	for i, name := range names {
		ns := n.prefix + "-" + name
		host := fmt.Sprintf("%sh%d", n.prefix, i)
		port := fmt.Sprintf("%ss%d", n.prefix, i)
		ip := fmt.Sprintf("10.77.0.%d", i+1)
		n.hosts[name], n.ports[name], n.ips[name] = ns, port, ip
		n.ip("netns", "add", ns)
		n.ip("link", "add", host, "type", "veth", "peer", "name", port)
		n.ip("link", "set", host, "netns", ns)
		n.ip("link", "set", port, "netns", n.sw)
		n.ip("-n", n.sw, "link", "set", port, "master", "br0", "up")
		n.ip("-n", ns, "addr", "add", ip+"/24", "dev", host)
		n.ip("-n", ns, "link", "set", host, "up")
		n.ip("-n", ns, "link", "set", "lo", "up")
	}
	return n
}

func (n *network) ip(args ...string) {
	n.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		n.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// destroy deletes every namespace of this run (and with them the links).
func (n *network) destroy() {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 && strings.HasPrefix(f[0], n.prefix+"-") {
			exec.Command("ip", "netns", "del", f[0]).Run()
		}
	}
}

// inNetns runs f on a thread switched into namespace ns: sockets f opens
// belong to that host.
func inNetns(ns string, f func() error) error {
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := os.Open("/run/netns/" + ns)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns %s: %w", ns, err)
	}
	ferr := f()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: Go retires it with this goroutine.
		return fmt.Errorf("back from %s: %w", ns, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// ----------------------------------------------------------------- sniffer

// flowKey names one direction of a TCP connection.
type flowKey struct {
	src, dst string // ip:port
}

// sniffer records the TCP payloads crossing one switch port, like tcpdump
// on a mirror port, with an AF_PACKET socket in the switch's namespace.
type sniffer struct {
	fd   int
	mu   sync.Mutex
	segs map[flowKey]map[uint32][]byte
	done chan struct{}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// sniff starts recording on the switch port of host.
func (n *network) sniff(host string) *sniffer {
	n.t.Helper()
	s := &sniffer{segs: map[flowKey]map[uint32][]byte{}, done: make(chan struct{})}
	err := inNetns(n.sw, func() error {
		ifi, err := net.InterfaceByName(n.ports[host])
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return err
		}
		tv := unix.Timeval{Usec: 100_000}
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		s.fd = fd
		return nil
	})
	if err != nil {
		n.t.Fatalf("capture on %s's port: %v", host, err)
	}
	stop := make(chan struct{})
	go s.loop(stop)
	n.t.Cleanup(func() { close(stop); <-s.done; unix.Close(s.fd) })
	return s
}

func (s *sniffer) loop(stop chan struct{}) {
	defer close(s.done)
	buf := make([]byte, 65536)
	for {
		select {
		case <-stop:
			return
		default:
		}
		n, _, err := unix.Recvfrom(s.fd, buf, 0)
		if err != nil {
			continue
		}
		s.frame(buf[:n])
	}
}

// frame keeps the payload of an Ethernet/IPv4/TCP frame.
func (s *sniffer) frame(f []byte) {
	if len(f) < 14+20 || binary.BigEndian.Uint16(f[12:]) != 0x0800 {
		return
	}
	ip := f[14:]
	ihl := int(ip[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(ip[2:]))
	if ip[9] != 6 || ihl < 20 || total > len(ip) || total < ihl+20 {
		return
	}
	tcp := ip[ihl:total]
	off := int(tcp[12]>>4) * 4
	if off < 20 || off > len(tcp) {
		return
	}
	payload := tcp[off:]
	if len(payload) == 0 {
		return
	}
	k := flowKey{
		src: fmt.Sprintf("%s:%d", net.IP(ip[12:16]), binary.BigEndian.Uint16(tcp[0:])),
		dst: fmt.Sprintf("%s:%d", net.IP(ip[16:20]), binary.BigEndian.Uint16(tcp[2:])),
	}
	seq := binary.BigEndian.Uint32(tcp[4:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.segs[k] == nil {
		s.segs[k] = map[uint32][]byte{}
	}
	s.segs[k][seq] = bytes.Clone(payload)
}

// streams returns the reassembled payload of each flow to dst (any, when
// empty), keyed by flow.
func (s *sniffer) streams(dst string) map[flowKey][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[flowKey][]byte{}
	for k, segs := range s.segs {
		if dst != "" && k.dst != dst {
			continue
		}
		seqs := make([]uint32, 0, len(segs))
		for q := range segs {
			seqs = append(seqs, q)
		}
		sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
		var b []byte
		for _, q := range seqs {
			b = append(b, segs[q]...)
		}
		out[k] = b
	}
	return out
}

// -------------------------------------------------------------------- test

// TestNetns is the story on separate hosts: a server, ali, bianca and
// mallory on a bridge. Mallory spoofs no address but lies: she claims to be
// ali, replays ali's recorded connections, and floods. Ali and bianca chat
// all the same, and a capture on ali's switch port shows only TLS.
func TestNetns(t *testing.T) {
	needNetns(t)
	needBinaries(t)
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			n := newNetwork(t, "server", "ali", "bianca", "mallory")
			srv := startServer(t, mode, []string{"ali", "bianca", "mallory"},
				withServerAddr(n.ips["server"]+":8082"), inNamespace(n.hosts["server"]))
			host := func(name string) *terminal {
				return startTerminal(t, srv, atIP(n.ips[name]), terminalInNamespace(n.hosts[name]))
			}
			tap := n.sniff("ali")
			ali, bianca, mallory := host("ali"), host("bianca"), host("mallory")
			ali.login("ali")
			bianca.login("bianca")
			mallory.login("mallory")
			roundTrip(t, ali, bianca)

			// What crossed ali's port.
			time.Sleep(200 * time.Millisecond)
			flows := tap.streams("")
			if len(flows) == 0 {
				t.Fatal("nothing captured on ali's switch port")
			}
			if mode == "secure" {
				for k, b := range flows {
					if _, err := tlsRecords(b); err != nil {
						t.Errorf("captured %s→%s is not TLS: %v", k.src, k.dst, err)
					}
					for name, secret := range secrets() {
						if bytes.Contains(b, secret) {
							t.Errorf("%s crossed the wire in clear (%s→%s)", name, k.src, k.dst)
						}
					}
				}
			}
			toBianca := tap.streams(bianca.listenAddr())
			if len(toBianca) == 0 {
				t.Fatal("ali's connection to bianca was not captured")
			}

			in := attach(t, bianca)
			lie := func(what string, f func() error) {
				t.Helper()
				if err := inNetns(n.hosts["mallory"], f); err != nil {
					t.Logf("mallory, %s: %v", what, err)
				}
			}
			// 1. Mallory, logged in as herself, claims to be ali.
			id := terminalIdentity(t, mallory)
			lie("claiming to be ali", func() error {
				status, err := claimToBe(mode, "", bianca.listenAddr(), id, "ali")
				if status == wire.Accepted {
					t.Errorf("mallory claiming to be ali was ACCEPTED")
				}
				return err
			})
			// 2. She replays ali's recorded chat connection, byte for byte.
			for _, rec := range toBianca {
				lie("replaying ali's connection", func() error {
					c, err := net.DialTimeout("tcp", bianca.listenAddr(), 5*time.Second)
					if err != nil {
						return err
					}
					defer c.Close()
					c.SetDeadline(time.Now().Add(2 * time.Second))
					c.Write(rec)
					rep, err := wire.NewDecoder(c).Decode()
					if err == nil && rep.Status == wire.Accepted {
						t.Errorf("a replay of ali's connection from mallory's host was ACCEPTED")
					}
					return nil
				})
			}
			// 3. She floods bianca and the server with idle and garbage
			// connections.
			var held []net.Conn
			lie("flooding", func() error {
				for i := range 200 {
					for _, addr := range []string{bianca.listenAddr(), srv.addr} {
						c, err := net.DialTimeout("tcp", addr, time.Second)
						if err != nil {
							return err
						}
						if i%2 == 0 {
							c.Write([]byte("{\"msgtype\":\"CONNECTREQ\",\"initiator\":\"ali\"" + strings.Repeat(" ", 100)))
						}
						held = append(held, c)
					}
				}
				return nil
			})
			defer func() {
				for _, c := range held {
					c.Close()
				}
			}()
			if ev, ok := in.next(control.EventChatStart, 300*time.Millisecond); ok {
				t.Fatalf("bianca was handed a chat through mallory's lies: %+v", ev)
			}
			in.c.Close()

			// Through the flood, ali and bianca still look each other up
			// and chat.
			roundTrip(t, ali, bianca)
			roundTrip(t, bianca, ali)
			// And mallory gets nothing for ali from the directory.
			lie("looking up", func() error {
				c, err := dialAs(mode, "", srv.addr, id)
				if err != nil {
					return err
				}
				defer c.Close()
				rep, err := ask(c, wire.Message{Type: wire.LookupReq, UserID: "ali", Lookup: "bianca"})
				if err == nil && rep.Status == wire.Success {
					t.Errorf("mallory's lookup in ali's name succeeded: %+v", rep)
				}
				return nil
			})
		})
	}
}

// TestNetnsHarness checks the hosts and the sniffer themselves: a message
// from ali's host to bianca's crosses the bridge and is captured whole.
func TestNetnsHarness(t *testing.T) {
	needNetns(t)
	n := newNetwork(t, "ali", "bianca")
	tap := n.sniff("ali")
	var ln net.Listener
	if err := inNetns(n.hosts["bianca"], func() (err error) {
		ln, err = net.Listen("tcp", n.ips["bianca"]+":8085")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 64)
		k, _ := c.Read(b)
		got <- b[:k]
	}()
	msg := []byte(`{"msgtype":"CONNECTREQ","initiator":"ali"}`)
	if err := inNetns(n.hosts["ali"], func() error {
		c, err := net.DialTimeout("tcp", n.ips["bianca"]+":8085", 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write(msg)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, msg) {
		t.Fatalf("bianca's host got %q", b)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		flows := tap.streams(n.ips["bianca"] + ":8085")
		var all []byte
		for _, b := range flows {
			all = append(all, b...)
		}
		if bytes.Equal(all, msg) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the capture on ali's port holds %q, want %q", all, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
