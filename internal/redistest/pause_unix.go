//go:build unix

package redistest

import (
	"errors"
	"syscall"
)

// Pause freezes the server (SIGSTOP) without closing anything: connections stay open and
// commands are accepted but not answered, as when the server hangs or the network silently
// drops packets. Resume lets it go on. Both fail on an external server or one not running.
func (s *Server) Pause() error { return s.signal(syscall.SIGSTOP) }

// Resume continues a server Pause froze.
func (s *Server) Resume() error { return s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) error {
	if s.external {
		return errors.New("redistest: cannot signal the external server")
	}
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		return errors.New("redistest: the server is not running")
	}
	return p.Process.Signal(sig)
}
