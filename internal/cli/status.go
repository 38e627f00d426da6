package cli

import (
	"io"
	"sync"
)

// StatusLine is a self-overwriting status line on a terminal ("configure
// [3/22] base-files") that other output shares without being glued onto
// it: what goes through it as an io.Writer (maintainer scripts' output)
// first erases the status, and the status is drawn again only on a line
// of its own. Use it only on a terminal; Done leaves the cursor at the
// start of a clean line.
type StatusLine struct {
	mu sync.Mutex
	w  io.Writer
	// text is the status now shown, or "" when none is.
	text string
	// midLine: other output ended without a newline, so the next status
	// must start a new line.
	midLine bool
}

// NewStatusLine returns a StatusLine drawing on w.
func NewStatusLine(w io.Writer) *StatusLine { return &StatusLine{w: w} }

// eraseLine returns the cursor to the line's start and erases the line.
const eraseLine = "\r\x1b[K"

// Set shows text as the status, replacing the one shown.
func (s *StatusLine) Set(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prefix := eraseLine
	if s.midLine {
		prefix = "\n"
		s.midLine = false
	}
	io.WriteString(s.w, prefix+text)
	s.text = text
}

// Write writes p (other output) on lines of its own: the status is erased
// first and drawn again after p when p ends a line.
func (s *StatusLine) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.text != "" && !s.midLine {
		if _, err := io.WriteString(s.w, eraseLine); err != nil {
			return 0, err
		}
	}
	n, err := s.w.Write(p)
	if err != nil {
		return n, err
	}
	s.midLine = p[len(p)-1] != '\n'
	if !s.midLine && s.text != "" {
		_, err = io.WriteString(s.w, s.text)
	}
	return n, err
}

// Done erases the status; output that ended mid-line gets its newline.
func (s *StatusLine) Done() {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.midLine:
		io.WriteString(s.w, "\n")
	case s.text != "":
		io.WriteString(s.w, eraseLine)
	}
	s.text, s.midLine = "", false
}
