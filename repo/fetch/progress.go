package fetch

import (
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/greypm/grey/internal/bytesize"
)

// Bar is a Progress that draws one self-overwriting line on a terminal:
// the bytes received across all downloads against the total the caller set
// before they started (SetTotal), or, without one, the bytes received
// alone: a total summed as downloads start would grow, and the percentage
// jump back (100% -> 31% -> 100%, issue 18). Callers use it only when the
// output is a terminal.
type Bar struct {
	mu      sync.Mutex
	w       io.Writer
	now     func() time.Time
	last    time.Time
	total   int64
	files   map[string]*barFile
	current string
	drawn   bool
}

type barFile struct{ size, done int64 }

// NewBar returns a Bar writing to w; now is the clock used to redraw at most
// ten times a second.
func NewBar(w io.Writer, now func() time.Time) *Bar {
	return &Bar{w: w, now: now, files: map[string]*barFile{}}
}

// SetTotal sets the bytes all the downloads will receive, computed before
// any starts (a plan's download size), so that the percentage only grows.
func (b *Bar) SetTotal(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total = n
}

// Start implements Progress. A download started again (a retry) replaces
// its earlier attempt in the totals.
func (b *Bar) Start(name string, size, offset int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.files[name] = &barFile{size: size, done: offset}
	b.current = path.Base(name)
	b.draw(true)
}

// Add implements Progress.
func (b *Bar) Add(name string, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if f := b.files[name]; f != nil {
		f.done += n
	}
	b.draw(false)
}

// Finish implements Progress.
func (b *Bar) Finish(name string, _ error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.files[name] != nil { // attempts that never started draw nothing
		b.draw(true)
	}
}

// Clear erases the bar's line, so that ordinary output can follow.
func (b *Bar) Clear() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		fmt.Fprint(b.w, "\r\x1b[K")
		b.drawn = false
	}
}

func (b *Bar) draw(force bool) {
	now := b.now()
	if !force && now.Sub(b.last) < 100*time.Millisecond {
		return
	}
	b.last = now
	var done int64
	for _, f := range b.files {
		done += f.done
	}
	name := b.current
	if len(name) > 24 {
		name = name[:24]
	}
	if b.total <= 0 {
		fmt.Fprintf(b.w, "\r\x1b[KDownloading %s %s", humanBytes(done), name)
		b.drawn = true
		return
	}
	const width = 30
	frac := min(float64(done)/float64(b.total), 1)
	filled := int(frac * width)
	fmt.Fprintf(b.w, "\r\x1b[K[%s%s] %3.0f%% %s/%s %s", strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
		frac*100, humanBytes(min(done, b.total)), humanBytes(b.total), name)
	b.drawn = true
}

// humanBytes formats n with a binary unit.
func humanBytes(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	}
	return bytesize.Format(n)
}
