package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/greypm/grey/internal/config"
)

// The built-in defaults of the settings a flag, -o or grey.conf can change.
const (
	// DefaultJobs is how many packages are downloaded at once.
	DefaultJobs = 4
)

// settle reads the configuration once the command line is parsed:
// ROOT/etc/grey/grey.conf with the -o settings over it, then the global
// flags grey.conf and -o can set (-y, -s) where the command line did not.
// Precedence everywhere is flag, then -o, then grey.conf, then the
// built-in default.
func (g *Globals) settle() error {
	if g.Getenv == nil {
		g.Getenv = os.Getenv
	}
	switch g.Color {
	case "", "auto", "always", "never":
	default:
		return fmt.Errorf("--color %q: want auto, always or never", g.Color)
	}
	cfg, err := config.Load(g.Root)
	if err != nil {
		return err
	}
	for _, o := range g.Options {
		name, value, ok := strings.Cut(o, "=")
		if !ok || name == "" {
			return fmt.Errorf("-o %q: want NAME=VALUE", o)
		}
		if err := config.Check(name); err != nil {
			return fmt.Errorf("-o %w", err)
		}
		cfg.Set(name, value)
	}
	g.cfg = cfg
	for _, b := range []struct {
		key  string
		flag *bool
	}{{config.KeyAssumeYes, &g.Yes}, {config.KeySimulate, &g.DryRun}} {
		v, set, err := cfg.Bool(b.key)
		if err != nil {
			return err
		}
		if set && !*b.flag {
			*b.flag = v
		}
	}
	if _, err := g.colorSetting(); err != nil {
		return err
	}
	if _, err := cfg.Int(config.KeyQuiet); err != nil {
		return err
	}
	return nil
}

// Config returns the command's configuration: grey.conf with the -o
// settings over it. Commands that run outside Run (tests) get grey.conf
// alone.
func (g *Globals) Config() (*config.Config, error) {
	if g.cfg == nil {
		if err := g.settle(); err != nil {
			return nil, err
		}
	}
	return g.cfg, nil
}

// Recommends reports whether Recommends are installed: false with
// --no-install-recommends (noFlag), else APT::Install-Recommends from -o
// or grey.conf, else true.
func (g *Globals) Recommends(noFlag bool) (bool, error) {
	if noFlag {
		return false, nil
	}
	cfg, err := g.Config()
	if err != nil {
		return false, &ExitError{Code: ExitUsage, Err: err}
	}
	v, set, err := cfg.Bool(config.KeyInstallRecommends)
	if err != nil {
		return false, &ExitError{Code: ExitUsage, Err: err}
	}
	return v || !set, nil
}

// DownloadOnly reports whether only downloading is asked: -d (flag), else
// APT::Get::Download-Only from -o or grey.conf.
func (g *Globals) DownloadOnly(flag bool) (bool, error) {
	if flag {
		return true, nil
	}
	cfg, err := g.Config()
	if err != nil {
		return false, &ExitError{Code: ExitUsage, Err: err}
	}
	v, _, err := cfg.Bool(config.KeyDownloadOnly)
	if err != nil {
		return false, &ExitError{Code: ExitUsage, Err: err}
	}
	return v, nil
}

// Jobs returns how many packages to download at once: --jobs (flag, 0 when
// not given), else Grey::Parallel-Downloads from -o or grey.conf, else
// DefaultJobs.
func (g *Globals) Jobs(flag int) (int, error) {
	if flag > 0 {
		return flag, nil
	}
	cfg, err := g.Config()
	if err != nil {
		return 0, &ExitError{Code: ExitUsage, Err: err}
	}
	if _, set := cfg.Get(config.KeyParallelDownloads); !set {
		return DefaultJobs, nil
	}
	n, err := cfg.Int(config.KeyParallelDownloads)
	if err == nil && n == 0 {
		err = fmt.Errorf("%s: not a positive number", config.KeyParallelDownloads)
	}
	if err != nil {
		return 0, &ExitError{Code: ExitUsage, Err: err}
	}
	return int(n), nil
}

// colorSetting returns auto, always or never: --color, else APT::Color
// from -o or grey.conf (true is always, false never), else auto.
func (g *Globals) colorSetting() (string, error) {
	if g.Color != "" {
		return g.Color, nil
	}
	if g.cfg == nil {
		return "auto", nil
	}
	v, set := g.cfg.Get(config.KeyColor)
	if !set {
		return "auto", nil
	}
	switch w := strings.ToLower(strings.TrimSpace(v)); w {
	case "auto", "always", "never":
		return w, nil
	}
	b, ok := config.ParseBool(v)
	if !ok {
		return "", g.cfg.Invalid(config.KeyColor, "auto, always, never, true or false")
	}
	if b {
		return "always", nil
	}
	return "never", nil
}

// Progress reports whether progress is drawn on w: on a terminal, without
// --json, and neither -q nor grey.conf's quiet (a number, as apt's).
func (g *Globals) Progress(w io.Writer) bool {
	if g.JSON || g.Quiet > 0 || !g.IsTerminal(w) {
		return false
	}
	if g.cfg != nil {
		if n, err := g.cfg.Int(config.KeyQuiet); err == nil && n > 0 {
			return false
		}
	}
	return true
}

// Colorize reports whether output to w is coloured: always and never are
// what they say; auto (the default) colours a terminal unless the
// environment sets NO_COLOR (no-color.org), which --color=always and
// APT::Color override.
func (g *Globals) Colorize(w io.Writer) bool {
	mode, err := g.colorSetting()
	if err != nil {
		return false
	}
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	if g.Getenv != nil && g.Getenv("NO_COLOR") != "" {
		return false
	}
	return g.IsTerminal(w)
}

// IsTerminal reports whether w is a terminal, through g.Terminal when set.
func (g *Globals) IsTerminal(w io.Writer) bool {
	if g.Terminal != nil {
		return g.Terminal(w)
	}
	return IsTerminal(w)
}

// IsTerminal reports whether w is a terminal: progress bars and colour
// are only drawn there.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
