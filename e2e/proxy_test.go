package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pi2pi/pi2pi/internal/transport"
	"github.com/pi2pi/pi2pi/internal/wire"
)

// recording is the bytes of one proxied TCP connection, in each direction.
type recording struct {
	mu         sync.Mutex
	up, down   bytes.Buffer // client→server, server→client
	done       bool
	clientAddr string
}

func (r *recording) snapshot() (up, down []byte, done bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.up.Bytes()), bytes.Clone(r.down.Bytes()), r.done
}

// recorderWriter appends what passes through to one side of a recording.
type recorderWriter struct {
	r   *recording
	buf *bytes.Buffer
}

func (w recorderWriter) Write(b []byte) (int, error) {
	w.r.mu.Lock()
	defer w.r.mu.Unlock()
	return w.buf.Write(b)
}

// proxy sits on one hop of the system: a recording TCP relay, or, once
// mitm is set, a man in the middle that ends TLS with keys of its own and
// opens its own TLS connection onwards. Upstream connections leave from the
// client's own IP address, so the server and the callee see the addresses
// they would see without the proxy.
type proxy struct {
	t      testing.TB
	ln     net.Listener
	target string
	mitm   atomic.Bool
	id     *transport.Identity // the man in the middle's keys

	mu     sync.Mutex
	conns  []*recording
	active map[net.Conn]bool // open sockets, both sides
	wg     sync.WaitGroup
}

// startProxy listens on listen and relays to target.
func startProxy(t testing.TB, listen, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatalf("proxy on %s: %v", listen, err)
	}
	id, err := transport.GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, ln: ln, target: target, id: id, active: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

// track remembers an open socket until it is closed by cut or untrack.
func (p *proxy) track(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.active[c] = true
}

func (p *proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.active, c)
}

// cut breaks every connection in progress, as taking over a network path
// does: terminals that keep a connection to the server open must dial
// again, through whatever the proxy has become.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.active {
		c.Close()
	}
}

// setMITM turns the man in the middle on or off, cutting what is open.
func (p *proxy) setMITM(on bool) {
	p.mitm.Store(on)
	p.cut()
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		rec := &recording{clientAddr: c.RemoteAddr().String()}
		p.mu.Lock()
		p.conns = append(p.conns, rec)
		p.mu.Unlock()
		p.wg.Add(1)
		p.track(c)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			if p.mitm.Load() {
				p.interpose(c, rec)
			} else {
				p.relay(c, rec)
			}
			rec.mu.Lock()
			rec.done = true
			rec.mu.Unlock()
		}()
	}
}

// dialFrom connects to the target from the client's IP address.
func (p *proxy) dialFrom(client net.Conn) (net.Conn, error) {
	ip := transport.AddrIP(client.RemoteAddr())
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: ip.AsSlice()}}
	return d.Dial("tcp", p.target)
}

// relay copies bytes both ways and records them.
func (p *proxy) relay(c net.Conn, rec *recording) {
	defer c.Close()
	up, err := p.dialFrom(c)
	if err != nil {
		return
	}
	p.track(up)
	defer p.untrack(up)
	defer up.Close()
	pipe(c, up, rec)
}

// pipe copies a↔b, recording a→b as up and b→a as down, until both sides
// are done or either breaks.
func pipe(a, b io.ReadWriteCloser, rec *recording) {
	var wg sync.WaitGroup
	wg.Add(2)
	halfClose := func(w io.ReadWriteCloser) {
		if cw, ok := w.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		} else {
			w.Close()
		}
	}
	go func() {
		defer wg.Done()
		io.Copy(io.MultiWriter(b, recorderWriter{rec, &rec.up}), a)
		halfClose(b)
	}()
	go func() {
		defer wg.Done()
		io.Copy(io.MultiWriter(a, recorderWriter{rec, &rec.down}), b)
		halfClose(a)
	}()
	wg.Wait()
}

// interpose is the man in the middle: TLS with the client using the
// proxy's own key, TLS with the target using the same key, and the clear
// text in between recorded.
func (p *proxy) interpose(c net.Conn, rec *recording) {
	defer c.Close()
	cfg := &transport.Config{Mode: transport.Secure, Identity: p.id}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	front, err := cfg.Server(ctx, c, nil)
	if err != nil {
		return // the client saw through us: what the tests want
	}
	defer front.Close()
	raw, err := p.dialFrom(c)
	if err != nil {
		return
	}
	p.track(raw)
	defer p.untrack(raw)
	back, err := cfg.Client(ctx, raw, func(ed25519.PublicKey) error { return nil })
	if err != nil {
		return
	}
	defer back.Close()
	pipe(front, back, rec)
}

// recordings returns the connections seen so far.
func (p *proxy) recordings() []*recording {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*recording(nil), p.conns...)
}

// forget drops what was recorded so far.
func (p *proxy) forget() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns = nil
}

// settle waits until every recorded connection has ended.
func (p *proxy) settle(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		open := 0
		for _, r := range p.recordings() {
			if _, _, done := r.snapshot(); !done {
				open++
			}
		}
		if open == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d proxied connections still open after %v", open, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ------------------------------------------------------------- TLS records

// TLS record content types.
const (
	recChangeCipherSpec = 0x14
	recAlert            = 0x15
	recHandshake        = 0x16
	recApplicationData  = 0x17
)

// tlsRecords splits one direction of a connection into TLS records and
// returns their content types. Every byte must belong to a well-formed
// record: known type, version 0x0303 (0x0301 is allowed on the very first
// record, the ClientHello's legacy record version), a length within the
// limit, and lengths that add up to the stream exactly.
func tlsRecords(stream []byte) ([]byte, error) {
	var types []byte
	for off := 0; off < len(stream); {
		if len(stream)-off < 5 {
			return types, fmt.Errorf("%d stray bytes at offset %d, not a TLS record header", len(stream)-off, off)
		}
		typ := stream[off]
		version := binary.BigEndian.Uint16(stream[off+1:])
		n := int(binary.BigEndian.Uint16(stream[off+3:]))
		switch typ {
		case recChangeCipherSpec, recAlert, recHandshake, recApplicationData:
		default:
			return types, fmt.Errorf("byte 0x%02x at offset %d is not a TLS record type", typ, off)
		}
		if version != 0x0303 && !(off == 0 && version == 0x0301) {
			return types, fmt.Errorf("record at offset %d has version 0x%04x", off, version)
		}
		if n > 1<<14+256 {
			return types, fmt.Errorf("record at offset %d is %d bytes, over the TLS limit", off, n)
		}
		if off+5+n > len(stream) {
			return types, fmt.Errorf("record at offset %d claims %d bytes, only %d follow", off, n, len(stream)-off-5)
		}
		types = append(types, typ)
		off += 5 + n
	}
	return types, nil
}

// --------------------------------------------------------------- attackers

// dialAs opens a connection to addr from the terminal address fromIP, as
// whoever holds id (nil in plain mode). It accepts whatever key the other
// side shows: an attacker has nothing to pin.
func dialAs(mode, fromIP, addr string, id *transport.Identity) (*transport.Conn, error) {
	cfg := &transport.Config{Mode: transport.Mode(mode), Identity: id}
	if fromIP != "" {
		cfg.LocalIP = mustAddr(fromIP)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return cfg.Dial(ctx, addr, func(ed25519.PublicKey) error { return nil })
}

// ask sends one message and returns the reply; an error when the other side
// hangs up without answering.
func ask(c net.Conn, m wire.Message) (wire.Message, error) {
	_ = c.SetDeadline(time.Now().Add(stepTimeout))
	if err := wire.Write(c, m); err != nil {
		return wire.Message{}, err
	}
	rep, err := wire.NewDecoder(c).Decode()
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return wire.Message{}, fmt.Errorf("closed without a reply")
	}
	return rep, err
}

// claimToBe connects to the callee's port as whoever holds id, from fromIP,
// and sends CONNECTREQ naming initiator. It returns the CONNECTREPLY status,
// or why there was none.
func claimToBe(mode, fromIP, callee string, id *transport.Identity, initiator string) (string, error) {
	c, err := dialAs(mode, fromIP, callee, id)
	if err != nil {
		return "", err
	}
	defer c.Close()
	rep, err := ask(c, wire.Message{Type: wire.ConnectReq, Initiator: initiator})
	if err != nil {
		return "", err
	}
	if rep.Status != wire.Accepted && rep.Reason != "" {
		return rep.Status, fmt.Errorf("reason %q", rep.Reason)
	}
	return rep.Status, nil
}

// directLookup asks the server, as terminal tm (its address and key), where
// target is. It is how the tests look into the directory.
func directLookup(t testing.TB, srv *server, tm *terminal, target string) wire.Message {
	t.Helper()
	var id *transport.Identity
	if srv.mode == "secure" {
		var err error
		if id, err = transport.LoadOrCreateIdentity(tm.identityFile()); err != nil {
			t.Fatal(err)
		}
	}
	c, err := dialAs(srv.mode, tm.ip, srv.addr, id)
	if err != nil {
		t.Fatalf("lookup as %s: %v", tm.user, err)
	}
	defer c.Close()
	rep, err := ask(c, wire.Message{Type: wire.LookupReq, UserID: tm.user, Lookup: target})
	if err != nil {
		t.Fatalf("lookup as %s: %v", tm.user, err)
	}
	return rep
}

// dialRaw opens a plain TCP connection from fromIP.
func dialRaw(fromIP, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(fromIP)}}
	return d.Dial("tcp", addr)
}
