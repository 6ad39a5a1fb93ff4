module github.com/pi2pi/pi2pi

go 1.26.0

require (
	github.com/chzyer/readline v1.5.1
	github.com/coreos/go-systemd/v22 v22.7.0
	github.com/stianeikeland/go-rpio/v4 v4.6.0
	github.com/warthog618/go-gpiocdev v0.9.1
	golang.org/x/crypto v0.58.0
	golang.org/x/sys v0.49.0
)
