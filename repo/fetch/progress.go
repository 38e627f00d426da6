package fetch

import (
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
	"time"
)

// Bar is a Progress that draws one self-overwriting line on a terminal:
// the bytes received across all downloads against their announced total.
// Callers use it only when the output is a terminal.
type Bar struct {
	mu      sync.Mutex
	w       io.Writer
	now     func() time.Time
	last    time.Time
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
		fmt.Fprintf(b.w, "\r%s\r", strings.Repeat(" ", 79))
		b.drawn = false
	}
}

func (b *Bar) draw(force bool) {
	now := b.now()
	if !force && now.Sub(b.last) < 100*time.Millisecond {
		return
	}
	b.last = now
	var total, done int64
	for _, f := range b.files {
		total += f.size
		done += f.done
	}
	const width = 30
	frac := 0.0
	if total > 0 {
		frac = min(float64(done)/float64(total), 1)
	}
	filled := int(frac * width)
	name := b.current
	if len(name) > 24 {
		name = name[:24]
	}
	fmt.Fprintf(b.w, "\r[%s%s] %3.0f%% %s/%s %-24s", strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
		frac*100, humanBytes(done), humanBytes(total), name)
	b.drawn = true
}

// humanBytes formats n with a binary unit.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
