package backend

import (
	"net/netip"
	"sync"
	"time"
)

// Limits of the peer port. A terminal takes one chat at a time, and a
// caller makes one connection per call, so the caps are far above what
// honest callers need and far below what hurts a Pi Zero: before them,
// 8,000 idle connections took pi2pid to 173 MB (issue 11).
const (
	// MaxPeerConns caps the peer connections being set up at once (TLS
	// handshake, CONNECTREQ, the lookup); a chat already running does
	// not count.
	MaxPeerConns = 64
	// MaxPeerConnsPerIP caps them per source address.
	MaxPeerConnsPerIP = 4
	// PeerBurst chat requests may come from one address at once, then
	// one every PeerRefill: a flood from one address costs a few lookups
	// a minute, not thousands, and leaves the callee free for real calls.
	PeerBurst  = 8
	PeerRefill = 5 * time.Second
	// peerBuckets bounds the addresses remembered for the rate limit.
	peerBuckets = 4096
	// peerLogBurst log lines about peer connections may come at once,
	// then one every peerLogRefill; the lines dropped are counted in
	// the next one.
	peerLogBurst  = 20
	peerLogRefill = 2 * time.Second
)

// peerGate admits connections on the peer port: caps in total and per
// address (an IPv6 /64 counts as one address), and a token bucket of
// chat requests per address.
type peerGate struct {
	now func() time.Time

	mu      sync.Mutex
	total   int
	perIP   map[netip.Addr]int
	buckets map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newPeerGate() *peerGate {
	return &peerGate{now: time.Now, perIP: map[netip.Addr]int{}, buckets: map[netip.Addr]*bucket{}}
}

// source is what the per-address limits count: the address, or for IPv6
// its /64, which one host commonly holds whole.
func source(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return ip
}

// enter admits a connection from ip, or says why not. Each admitted
// connection must leave.
func (g *peerGate) enter(ip netip.Addr) (ok bool, why string) {
	ip = source(ip)
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.total >= MaxPeerConns:
		return false, "too many peer connections"
	case g.perIP[ip] >= MaxPeerConnsPerIP:
		return false, "too many peer connections from one address"
	case !g.take(ip):
		return false, "too many chat requests from one address"
	}
	g.total++
	g.perIP[ip]++
	return true, ""
}

// leave ends what enter admitted.
func (g *peerGate) leave(ip netip.Addr) {
	ip = source(ip)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.total--
	if g.perIP[ip]--; g.perIP[ip] <= 0 {
		delete(g.perIP, ip)
	}
}

// refund gives back the token that the request of a caller at ip took,
// once the directory has vouched for that caller: a user who calls often
// is not held back by a limit meant for strangers.
func (g *peerGate) refund(ip netip.Addr) {
	ip = source(ip)
	g.mu.Lock()
	defer g.mu.Unlock()
	if b, ok := g.buckets[ip]; ok {
		b.tokens = min(PeerBurst, b.tokens+1)
	}
}

// take takes a token from ip's bucket.
func (g *peerGate) take(ip netip.Addr) bool {
	now := g.now()
	b, ok := g.buckets[ip]
	if !ok {
		if len(g.buckets) >= peerBuckets {
			g.prune(now)
		}
		b = &bucket{tokens: PeerBurst, at: now}
		g.buckets[ip] = b
	}
	b.tokens = min(PeerBurst, b.tokens+float64(now.Sub(b.at))/float64(PeerRefill))
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// prune forgets full buckets, and, should every address still be
// limited, half of them: an attacker with many addresses then gets fresh
// buckets sooner, but pi2pid's memory stays bounded.
func (g *peerGate) prune(now time.Time) {
	for ip, b := range g.buckets {
		if b.tokens+float64(now.Sub(b.at))/float64(PeerRefill) >= PeerBurst {
			delete(g.buckets, ip)
		}
	}
	for ip := range g.buckets {
		if len(g.buckets) < peerBuckets/2 {
			break
		}
		delete(g.buckets, ip)
	}
}
