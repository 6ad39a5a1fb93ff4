//go:build windows

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/pi2pi/pi2pi/server/logfile"
)

const (
	// serviceName names the Windows service, in sc.exe and services.msc,
	// and the event log source.
	serviceName = "pi2pi-server"
	// serviceLogFile is the service's log, in its --state-dir.
	serviceLogFile = "pi2pi-server.log"
	// maxServiceLog bounds DIR\pi2pi-server.log; one older file is kept.
	maxServiceLog = 10 << 20
	// pendingHint is the wait hint given with StartPending and StopPending:
	// loading a large state, or writing it, takes a few seconds at most.
	pendingHint = 30 * time.Second
	// controlWait is how long `service start` and `service stop` wait for
	// the service to get there.
	controlWait = 40 * time.Second
)

// runAsService runs serve under svc.Run when the service control manager
// started this process, and reports whether it did.
func runAsService(args []string) (code int, ok bool) {
	is, err := svc.IsWindowsService()
	if err != nil || !is {
		return 0, false
	}
	return runService(args), true
}

// runService is the service's main. The service has no console: its log
// goes to DIR\pi2pi-server.log, and whatever keeps it from starting or
// stops it with an error goes to the Application event log too (source
// pi2pi-server), since the log file may be what failed.
func runService(args []string) int {
	ev := openEvents()
	defer ev.close()
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	c, _, err := parseServe(args, os.Getenv, io.Discard)
	if err != nil {
		ev.error(fmt.Sprintf("pi2pi-server: the service's command line is not valid (%v); "+
			"reinstall it with `pi2pi-server service uninstall` and `pi2pi-server service install ...`", err))
		return 2
	}
	if err := os.MkdirAll(c.stateDir, 0o700); err != nil {
		ev.error(fmt.Sprintf("pi2pi-server: state directory: %v", err))
		return 1
	}
	lf, err := logfile.Open(filepath.Join(c.stateDir, serviceLogFile), maxServiceLog)
	if err != nil {
		ev.error(fmt.Sprintf("pi2pi-server: cannot open its log file: %v", err))
		return 1
	}
	defer lf.Close()
	h := &handler{cfg: c, log: lf, ev: ev}
	if err := svc.Run(serviceName, h); err != nil {
		fmt.Fprintf(lf, "pi2pi-server: service: %v\n", err)
		ev.error(fmt.Sprintf("pi2pi-server: service: %v", err))
		return 1
	}
	return h.code
}

// handler answers the service control manager for one run of serve.
type handler struct {
	cfg  *serveConfig
	log  io.Writer
	ev   events
	code int // process exit code once Execute has returned
}

// Execute implements svc.Handler: Stop and Shutdown end serve the way
// SIGTERM does on Linux (connections closed, sessions and counters
// written); ParamChange (`sc.exe control pi2pi-server paramchange`)
// re-reads the users file, as SIGHUP does.
func (h *handler) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	const accepts = svc.AcceptStop | svc.AcceptShutdown | svc.AcceptParamChange
	cur := svc.Status{State: svc.StartPending, WaitHint: uint32(pendingHint / time.Millisecond)}
	status <- cur

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reload := make(chan struct{}, 1)
	listening := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, h.cfg, h.log, reload, func() { close(listening) })
	}()
	ready := (<-chan struct{})(listening) // nil once reported
	stopping := false
	for {
		select {
		case <-ready:
			ready = nil
			cur = svc.Status{State: svc.Running, Accepts: accepts}
			status <- cur
			h.ev.info("pi2pi-server: running, log in " + filepath.Join(h.cfg.stateDir, serviceLogFile))
		case err := <-done:
			if err == nil && stopping {
				h.ev.info("pi2pi-server: stopped")
				return false, 0
			}
			if err == nil {
				err = errors.New("the server stopped by itself")
			}
			fmt.Fprintf(h.log, "pi2pi-server: %v\n", err)
			h.ev.error(fmt.Sprintf("pi2pi-server: %v", err))
			h.code = 1
			return true, 1
		case r := <-req:
			switch r.Cmd {
			case svc.Interrogate:
				status <- cur
			case svc.Stop, svc.Shutdown:
				if !stopping {
					stopping = true
					cur = svc.Status{State: svc.StopPending, WaitHint: uint32(pendingHint / time.Millisecond)}
					status <- cur
					cancel()
				}
			case svc.ParamChange:
				select {
				case reload <- struct{}{}:
				default: // one is already waiting
				}
				status <- cur
			}
		}
	}
}

// events writes to the Application event log; a failure to reach it is
// ignored, as there is nowhere left to report it.
type events struct{ l *eventlog.Log }

func openEvents() events {
	l, err := eventlog.Open(serviceName)
	if err != nil {
		return events{}
	}
	return events{l}
}

func (e events) info(msg string) {
	if e.l != nil {
		_ = e.l.Info(1, msg)
	}
}

func (e events) error(msg string) {
	if e.l != nil {
		_ = e.l.Error(1, msg)
	}
}

func (e events) close() {
	if e.l != nil {
		_ = e.l.Close()
	}
}

// controlService installs, removes, starts or stops the service.
func controlService(c serviceCommand, stdout io.Writer) error {
	m, err := mgr.Connect()
	if err != nil {
		return scmError("connect to the service control manager", err)
	}
	defer m.Disconnect()
	switch c.action {
	case "install":
		return installService(m, c.args, stdout)
	case "uninstall":
		return uninstallService(m, stdout)
	case "start":
		return startService(m, stdout)
	case "stop":
		return stopService(m, stdout)
	}
	return usagef("unknown service action %q", c.action)
}

func installService(m *mgr.Mgr, args []string, stdout io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("service install: cannot find this program's path: %w", err)
	}
	if s, err := m.OpenService(serviceName); err == nil {
		s.Close()
		return fmt.Errorf("service %s is already installed; to change its settings run "+
			"`pi2pi-server service uninstall`, then install it again", serviceName)
	}
	s, err := m.CreateService(serviceName, exe, mgr.Config{
		DisplayName: "pi2pi directory server",
		Description: "Logs pi2pi terminals in and tells them where their peers are (pi2pi-server serve).",
		StartType:   mgr.StartAutomatic,
	}, args...)
	if err != nil {
		return scmError("create service "+serviceName, err)
	}
	defer s.Close()
	// Like systemd's Restart=on-failure: restart after a crash or an
	// error exit, twice quickly, then once a minute; forgotten after a day.
	actions := []mgr.RecoveryAction{
		{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
		{Type: mgr.ServiceRestart, Delay: time.Minute},
	}
	if err := s.SetRecoveryActions(actions, 24*60*60); err != nil {
		fmt.Fprintf(stdout, "warning: restart-on-failure not set: %v\n", err)
	} else if err := s.SetRecoveryActionsOnNonCrashFailures(true); err != nil {
		fmt.Fprintf(stdout, "warning: restart on error exit not set: %v\n", err)
	}
	_ = eventlog.Remove(serviceName) // left over from an earlier install
	if err := eventlog.InstallAsEventCreate(serviceName, eventlog.Error|eventlog.Warning|eventlog.Info); err != nil {
		fmt.Fprintf(stdout, "warning: event log source not registered (events will show without their text): %v\n", err)
	}
	fmt.Fprintf(stdout, "installed service %s (automatic start): %s", serviceName, exe)
	for _, a := range args {
		fmt.Fprintf(stdout, " %s", a)
	}
	fmt.Fprintf(stdout, "\nstart it now with `pi2pi-server service start`\n")
	return nil
}

func uninstallService(m *mgr.Mgr, stdout io.Writer) error {
	s, err := openService(m)
	if err != nil {
		return err
	}
	defer s.Close()
	if st, err := s.Query(); err == nil && st.State != svc.Stopped {
		if err := stop(s); err != nil {
			return err
		}
	}
	if err := s.Delete(); err != nil {
		return scmError("delete service "+serviceName, err)
	}
	_ = eventlog.Remove(serviceName)
	fmt.Fprintf(stdout, "removed service %s (its users file and state directory are kept)\n", serviceName)
	return nil
}

func startService(m *mgr.Mgr, stdout io.Writer) error {
	s, err := openService(m)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Start(); err != nil {
		if errors.Is(err, windows.ERROR_SERVICE_ALREADY_RUNNING) {
			fmt.Fprintf(stdout, "service %s is already running\n", serviceName)
			return nil
		}
		return scmError("start service "+serviceName, err)
	}
	st, err := waitState(s, svc.Running)
	if err != nil {
		return err
	}
	if st.State != svc.Running {
		return fmt.Errorf("service %s did not start (exit code %d); read pi2pi-server.log in its --state-dir, "+
			"or the Application event log (source pi2pi-server)", serviceName, st.ServiceSpecificExitCode)
	}
	fmt.Fprintf(stdout, "service %s is running\n", serviceName)
	return nil
}

func stopService(m *mgr.Mgr, stdout io.Writer) error {
	s, err := openService(m)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := stop(s); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "service %s is stopped\n", serviceName)
	return nil
}

// stop asks the service to stop and waits until it has.
func stop(s *mgr.Service) error {
	if _, err := s.Control(svc.Stop); err != nil && !errors.Is(err, windows.ERROR_SERVICE_NOT_ACTIVE) {
		return scmError("stop service "+serviceName, err)
	}
	st, err := waitState(s, svc.Stopped)
	if err != nil {
		return err
	}
	if st.State != svc.Stopped {
		return fmt.Errorf("service %s did not stop within %v", serviceName, controlWait)
	}
	return nil
}

// waitState polls the service until it is in state want, has stopped, or
// controlWait has passed, and returns the last status.
func waitState(s *mgr.Service, want svc.State) (svc.Status, error) {
	deadline := time.Now().Add(controlWait)
	for {
		st, err := s.Query()
		if err != nil {
			return st, scmError("query service "+serviceName, err)
		}
		if st.State == want || st.State == svc.Stopped || time.Now().After(deadline) {
			return st, nil
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func openService(m *mgr.Mgr) (*mgr.Service, error) {
	s, err := m.OpenService(serviceName)
	if err != nil {
		return nil, scmError("open service "+serviceName, err)
	}
	return s, nil
}

// scmError turns the service control manager's common refusals into what
// to do about them.
func scmError(what string, err error) error {
	switch {
	case errors.Is(err, windows.ERROR_ACCESS_DENIED):
		return fmt.Errorf("%s: access denied: run this from an elevated prompt "+
			"(right-click Command Prompt or PowerShell, Run as administrator)", what)
	case errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST):
		return fmt.Errorf("%s: the service is not installed; install it with "+
			"`pi2pi-server service install --users FILE --state-dir DIR`", what)
	case errors.Is(err, windows.ERROR_SERVICE_EXISTS):
		return fmt.Errorf("%s: it is already installed; run `pi2pi-server service uninstall` first", what)
	case errors.Is(err, windows.ERROR_SERVICE_MARKED_FOR_DELETE):
		return fmt.Errorf("%s: a removed service of that name is still held open; "+
			"close the Services window (services.msc) and try again", what)
	}
	return fmt.Errorf("%s: %w", what, err)
}
