package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Mail is a message the dashboard sends: an invitation or a password reset. Its Link holds a
// single-use secret for the recipient alone.
type Mail struct {
	To, Subject, Body string
	// Link is the address the message asks the recipient to open.
	Link string
}

// Mailer delivers mail. The dashboard hands it invitations and password resets and never
// shows their links to anyone else (an inviter who saw the link could accept in the invitee's
// place).
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// dirMailer writes each mail as a file in a directory, readable by its owner only, in place
// of sending it: the dashboard's default, for trying it out. The log says where each mail
// went, never what its link is.
type dirMailer struct {
	dir string
	log *slog.Logger
	mu  sync.Mutex
	n   int
}

func newDirMailer(dir string, log *slog.Logger) (*dirMailer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mail directory: %w", err)
	}
	return &dirMailer{dir: dir, log: log}, nil
}

// Send writes m to a new file of the directory.
func (d *dirMailer) Send(ctx context.Context, m Mail) error {
	d.mu.Lock()
	d.n++
	n := d.n
	d.mu.Unlock()
	name := filepath.Join(d.dir, fmt.Sprintf("%s-%03d.eml", time.Now().UTC().Format("20060102T150405"), n))
	var b strings.Builder
	fmt.Fprintf(&b, "To: %s\r\nSubject: %s\r\nDate: %s\r\n\r\n%s\r\n\r\n%s\r\n", m.To, m.Subject,
		time.Now().UTC().Format(time.RFC1123Z), m.Body, m.Link)
	if err := os.WriteFile(name, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("writing mail: %w", err)
	}
	d.log.InfoContext(ctx, "mail written instead of sent", "to", m.To, "subject", m.Subject, "file", name)
	return nil
}
