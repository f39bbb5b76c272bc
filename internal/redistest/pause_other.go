//go:build !unix

package redistest

import "errors"

// Pause freezes the server; it needs SIGSTOP, so it fails on this platform.
func (s *Server) Pause() error { return errors.New("redistest: Pause needs a Unix system") }

// Resume continues a server Pause froze; it fails on this platform.
func (s *Server) Resume() error { return errors.New("redistest: Resume needs a Unix system") }
