package backend

import (
	"strings"
	"testing"

	"github.com/pi2pi/pi2pi/internal/control"
	"github.com/pi2pi/pi2pi/internal/transport"
)

// BenchmarkBulkInProcess measures chat throughput from one control client
// to the other through two in-process terminals: the same path as the
// binaries' BenchmarkBulk in daemon/, but in one process so that
// -cpuprofile and -memprofile see both daemons and both clients.
func BenchmarkBulkInProcess(b *testing.B) {
	for _, mode := range []transport.Mode{transport.Plain, transport.Secure} {
		b.Run(string(mode), func(b *testing.B) {
			_, _, _, ali, bianca := pair(b, mode)
			ali.Must(control.Request{Op: control.OpChat, UserID: "bianca"})
			bianca.Next(control.EventChatStart)
			chunk := strings.Repeat("x", 64<<10)
			b.SetBytes(int64(len(chunk)))
			done := make(chan int)
			go func() {
				n := 0
				for n < b.N*len(chunk) {
					ev, ok := <-bianca.C.Events()
					if !ok {
						break
					}
					n += len(ev.Text)
				}
				done <- n
			}()
			b.ResetTimer()
			for range b.N {
				if err := ali.C.Send(control.Request{Op: control.OpSend, Text: chunk}); err != nil {
					b.Fatal(err)
				}
			}
			if n := <-done; n != b.N*len(chunk) {
				b.Fatalf("received %d bytes", n)
			}
		})
	}
}
