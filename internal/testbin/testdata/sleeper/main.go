// Command sleeper says it is ready, echoes its arguments and sleeps until
// it is interrupted: a stand-in program for testbin's tests.
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	fmt.Fprintln(os.Stderr, "sleeper ready")
	fmt.Println(os.Args[1:])
	time.Sleep(time.Hour)
}
