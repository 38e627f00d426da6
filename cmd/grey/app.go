package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/greypm/grey/apps"
	"github.com/greypm/grey/image"
	"github.com/greypm/grey/internal/bytesize"
	"github.com/greypm/grey/internal/cli"
	"github.com/greypm/grey/internal/config"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/repo"
	"github.com/greypm/grey/repo/fetch"
	"github.com/greypm/grey/resolver"
	"github.com/greypm/grey/transaction"
)

// AppCmd groups the per-app root commands (package apps, docs/apps.md).
type AppCmd struct {
	Install  AppInstallCmd  `cmd:"" help:"Compose a new generation of an app's own root and make it current."`
	Run      AppRunCmd      `cmd:"" help:"Run an app's command inside its root (bubblewrap)."`
	Rollback AppRollbackCmd `cmd:"" help:"Make an earlier generation current again (no unpacking)."`
	History  AppHistoryCmd  `cmd:"" help:"List an app's generations."`
	List     AppListCmd     `cmd:"" help:"List apps: name, current generation, sizes (apparent, on disk, not shared), packages."`
	Remove   AppRemoveCmd   `cmd:"" help:"Remove an app, every generation, and store objects nothing uses."`
	Upgrade  AppUpgradeCmd  `cmd:"" help:"Compose a new generation from the same request when the sources have newer packages."`
	Gc       AppGcCmd       `cmd:"" help:"Delete old generations beyond --keep and store objects nothing uses."`
	Verify   AppVerifyCmd   `cmd:"" help:"Check that no file an app shares through the store was changed outside grey; --repair puts them back."`
	Export   AppExportCmd   `cmd:"" help:"Write a launcher that runs an app by its name (or, with -o, its current generation as a tar file or an OCI image layout)."`
}

// AppsDirFlag is the --apps-dir flag every app command has.
type AppsDirFlag struct {
	AppsDir string `name:"apps-dir" help:"Directory of the app roots (default Grey::Apps-Dir from grey.conf, else ROOT/var/lib/grey/apps); a relative one is inside --root." placeholder:"DIR"`
}

// appsOf opens the apps directory: --apps-dir, else Grey::Apps-Dir, else
// apps.DirOf(root); either setting is a path inside the root.
func appsOf(g *Globals, f AppsDirFlag) (*apps.Apps, error) {
	dir := f.AppsDir
	if dir == "" {
		cfg, err := g.Config()
		if err != nil {
			return nil, &exitError{Code: 2, Err: err}
		}
		dir, _ = cfg.Get(config.KeyAppsDir)
	}
	if dir == "" {
		return apps.Open(apps.DirOf(g.Root)), nil
	}
	return apps.Open(filepath.Join(g.Root, dir)), nil
}

// appError gives missing apps and generations apt's exit status 100.
func appError(err error) error {
	var nf *apps.NotFoundError
	if errors.As(err, &nf) {
		return &exitError{Code: 100, Err: err}
	}
	var in *apps.InvalidNameError
	if errors.As(err, &in) {
		return &exitError{Code: 2, Err: err}
	}
	return err
}

// AppInstallCmd composes a generation.
type AppInstallCmd struct {
	AppsDirFlag
	Essential  bool     `help:"Add every Essential: yes and Priority: required package, as an image spec's essential: true."`
	Scripts    bool     `help:"Run maintainer scripts inside the app root (it needs a shell: use with --essential)."`
	Recommends bool     `help:"Install Recommends too (off by default: an app root holds what its program needs)."`
	Command    string   `help:"The program 'grey app run' starts (default: the spec's command:, else NAME in /usr/bin, /bin, ...); upgrades keep it until app upgrade --command or --reset-command." placeholder:"PROG"`
	NoSync     bool     `name:"no-sync" help:"Do not fsync the new generation before it becomes current."`
	Spec       string   `help:"Take the packages (and essential, scripts, recommends, command) from an image spec; its sources are resolved into its lock (FILE.lock), as grey image build does." placeholder:"FILE.yaml" type:"path"`
	Locked     bool     `help:"With --spec: install exactly the spec's lock, resolving nothing; refused when the lock does not match the spec."`
	Name       string   `arg:"" help:"App name."`
	Packages   []string `arg:"" optional:"" name:"package" help:"PKG, PKG=VERSION, PKG/SUITE, or a path to a .deb file (not with --spec)."`

	// commandGiven: Command was given on a command line (this one's
	// --command, or an earlier install's or upgrade's), so it wins over
	// the spec's command: and is recorded as apps.CommandFlag.
	commandGiven bool
	// commandChosen: an upgrade was given --command or --reset-command,
	// so a change of where the command comes from alone makes a new
	// generation, even over one written before Meta.CommandFrom.
	commandChosen bool
}

// Help explains generations.
func (AppInstallCmd) Help() string {
	return `Resolves the packages against the root's sources (run "grey update" first) as
if into an empty root, downloads them into the root's archive cache, and
installs them into a new generation ROOT/var/lib/grey/apps/NAME/gen/N: a
Debian root with its own grey database and dpkg status. Files outside /etc and
/var become hard links to one shared content store. Then NAME/current is
switched to gen/N with one rename; until then the app stays at its previous
generation.`
}

// Run installs.
func (c *AppInstallCmd) Run(ctx context.Context, g *Globals) error {
	c.commandGiven = c.Command != ""
	return installApp(ctx, g, c, nil)
}

// errUpToDate stops an upgrade whose closure is the current one.
var errUpToDate = errors.New("up to date")

// installApp composes a generation for c; when prev (the current
// generation) is set, it stops with errUpToDate before downloading if
// the resolved packages and the spec's extras are prev's.
func installApp(ctx context.Context, g *Globals, c *AppInstallCmd, prev *apps.Meta) error {
	if (c.Spec == "") == (len(c.Packages) == 0) {
		return &exitError{Code: 2, Err: errors.New("app install: give packages or --spec FILE.yaml (not both)")}
	}
	if c.Locked && c.Spec == "" {
		return &exitError{Code: 2, Err: errors.New("app install: --locked needs --spec")}
	}
	if c.Scripts && os.Geteuid() != 0 {
		return &exitError{Code: 2, Err: errors.New("app install: --scripts needs root: maintainer scripts run chrooted in the app root, in a new mount namespace (install without --scripts, or as root)")}
	}
	ap, err := appsOf(g, c.AppsDirFlag)
	if err != nil {
		return err
	}
	if c.Spec != "" {
		return installAppSpec(ctx, g, ap, c, prev)
	}
	req := resolver.Request{Recommends: c.Recommends}
	var local []string
	if req.Install, local, err = packageArgs(c.Packages); err != nil {
		return err
	}
	srcs, err := cli.CommandSources(g)
	if err != nil {
		return err
	}
	var idx resolver.Index
	if len(srcs) > 0 {
		x, err := cli.OpenIndex(ctx, g)
		if err != nil {
			return err
		}
		defer x.Close()
		idx = x
		// The host's apt preferences pin what an app gets, as they
		// pin the host's own installs.
		req.Policy = x.Policy
		if c.Essential {
			arch := req.Architecture
			if arch == "" {
				arch = repo.HostArch()
			}
			names, err := x.RequiredNames(ctx, arch)
			if err != nil {
				return err
			}
			for _, n := range names {
				req.Install = append(req.Install, resolver.Job{Name: n})
			}
		}
	}
	fetcher, err := newFetcher(g, fetch.WithConcurrency(4))
	if err != nil {
		return err
	}
	// The host root's archive cache receives the downloads: hold its
	// lock meanwhile, as an image build does.
	lk, err := pkgdb.LockRoot(ctx, g.Root, pkgdb.LockOptions{Waiting: func(e *pkgdb.LockedError) {
		fmt.Fprintf(g.Stderr, "grey: waiting: %v\n", e)
	}})
	if err != nil {
		return err
	}
	defer lk.Unlock()
	from := ""
	if c.commandGiven {
		from = apps.CommandFlag
	}
	m, err := ap.Install(ctx, c.Name, apps.InstallOptions{
		Index: idx, Request: req, Local: local, Requested: c.Packages,
		Download:  transaction.DownloadOptions{Fetcher: fetcher, Dir: g.Root, URL: transaction.SourceURLs(srcs)},
		Essential: c.Essential, Scripts: c.Scripts, Command: c.Command, CommandFrom: from, ScriptOutput: g.Stderr, Now: g.Now, Sync: !c.NoSync,
		Prepared: sameAs(prev, "", c.Command, from, c.commandChosen),
	})
	return appInstalled(g, c.Name, m, err)
}

// sameAs stops a change with errUpToDate when it installs exactly prev's
// packages, writes prev's extras and runs prev's command from the same
// origin (prev nil: never). The origin of a generation written before
// Meta.CommandFrom ("") is compared only when chosen (app upgrade
// --command or --reset-command), so that such an app with nothing new
// stays up to date, as it did.
func sameAs(prev *apps.Meta, extras, command, from string, chosen bool) func(*transaction.Pending) error {
	return func(p *transaction.Pending) error {
		if prev == nil || prev.Extras != extras || prev.Command != command {
			return nil
		}
		if prev.CommandFrom != from && (prev.CommandFrom != "" || chosen) {
			return nil
		}
		same := prev.Packages
		var got []string
		for _, w := range p.Install {
			got = append(got, w.Package.Name+"="+w.Package.Version.String())
		}
		sort.Strings(got)
		if slices.Equal(got, same) {
			return errUpToDate
		}
		return nil
	}
}

// installAppSpec installs the packages of an image spec: its lock with
// --locked, else the spec resolved (by package image, from the spec's own
// sources, into a state directory beside the apps) and its lock rewritten.
func installAppSpec(ctx context.Context, g *Globals, ap *apps.Apps, c *AppInstallCmd, prev *apps.Meta) error {
	s, err := image.ReadSpec(c.Spec)
	if err != nil {
		return &exitError{Code: 2, Err: err}
	}
	extras, err := extrasSum(s)
	if err != nil {
		return &exitError{Code: 2, Err: err}
	}
	fetcher, err := newFetcher(g, fetch.WithConcurrency(4))
	if err != nil {
		return err
	}
	state := filepath.Join(ap.Dir, ".spec-state")
	var l *image.Lock
	if c.Locked {
		lp := image.LockPath(s.Path)
		if l, err = image.ReadLock(lp); err != nil {
			return &exitError{Code: 2, Err: err}
		}
		if err := l.CheckFresh(s, lp); err != nil {
			return &exitError{Code: 2, Err: err}
		}
	} else if err = os.MkdirAll(state, 0o755); err != nil { // resolving locks it as a root
		return err
	} else if l, _, err = image.LockSpec(ctx, s, image.ResolveOptions{StateDir: state, Now: g.Now, Fetcher: fetcher}); err != nil {
		return err
	}
	pending, url, err := l.Pending()
	if err != nil {
		return err
	}
	// The downloads go into the state directory, as an image's do.
	if err := os.MkdirAll(state, 0o755); err != nil {
		return err
	}
	lk, err := pkgdb.LockRoot(ctx, state, pkgdb.LockOptions{})
	if err != nil {
		return err
	}
	defer lk.Unlock()
	spec, err := filepath.Abs(s.Path)
	if err != nil {
		return err
	}
	// A command given on the command line (now or at an earlier
	// install or upgrade) wins over the spec's command:; otherwise the
	// spec's is taken, as its packages are, on every upgrade. c.Command
	// is then "" (the default program when the spec has none), except
	// for an upgrade of a generation written before Meta.CommandFrom,
	// which keeps its command when the spec has none, as it did.
	command, from := c.Command, apps.CommandFlag
	if !c.commandGiven {
		from = apps.CommandSpec
		if s.Command != "" {
			command = s.Command
		}
	}
	m, err := ap.Install(ctx, c.Name, apps.InstallOptions{
		Pending: pending, Request: resolver.Request{Recommends: s.Recommends}, Requested: s.Packages, Spec: spec,
		Download:  transaction.DownloadOptions{Fetcher: fetcher, Dir: state, URL: url},
		Essential: s.Essential, Scripts: s.Scripts || c.Scripts, Command: command, CommandFrom: from, ScriptOutput: g.Stderr, Now: g.Now, Sync: !c.NoSync,
		Prepared: sameAs(prev, extras, command, from, c.commandChosen),
		// The spec's files, users and groups, as grey image build
		// writes them.
		Extras:    func(dir string) error { return image.AddExtras(dir, s) },
		ExtrasSum: extras,
	})
	return appInstalled(g, c.Name, m, err)
}

// extrasSum is a digest of what image.AddExtras writes for s (the
// files' contents read from their sources): "" when s adds nothing.
func extrasSum(s *image.Spec) (string, error) {
	if len(s.Files) == 0 && len(s.Users) == 0 && len(s.Groups) == 0 {
		return "", nil
	}
	files := slices.Clone(s.Files)
	for i, f := range files {
		if f.Source == "" {
			continue
		}
		b, err := os.ReadFile(f.Source)
		if err != nil {
			return "", fmt.Errorf("%s: extra file %s: %w", s.Path, f.Path, err)
		}
		files[i].Source, files[i].Content = "", string(b)
	}
	b, err := json.Marshal(struct {
		Files  []image.File
		Users  []image.User
		Groups []image.Group
	}{files, s.Users, s.Groups})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// appInstalled reports an install's result.
func appInstalled(g *Globals, name string, m *apps.Meta, err error) error {
	if errors.Is(err, errUpToDate) {
		if g.JSON {
			return cli.WriteJSON(g.Stdout, map[string]any{"name": name, "up_to_date": true})
		}
		fmt.Fprintf(g.Stdout, "%s: up to date\n", name)
		return nil
	}
	if err != nil {
		var un *resolver.Unsatisfiable
		var up *transaction.UnknownPackageError
		if errors.As(err, &un) || errors.As(err, &up) {
			return &exitError{Code: 100, Err: err}
		}
		return appError(err)
	}
	if g.JSON {
		return cli.WriteJSON(g.Stdout, m)
	}
	fmt.Fprintf(g.Stdout, "%s: generation %d (%d packages, %d taken from the store without unpacking, %d files shared through the store)\n", m.Name, m.Generation, len(m.Packages), m.FromStore, m.SharedFiles)
	return nil
}

// AppRunCmd runs an app.
type AppRunCmd struct {
	AppsDirFlag
	Command   string   `help:"Run this program of the app root instead of the app's command." placeholder:"PROG"`
	NoDisplay bool     `name:"no-display" help:"Do not bind the Wayland and X11 sockets in (and unset WAYLAND_DISPLAY, DISPLAY, XAUTHORITY)."`
	NoSound   bool     `name:"no-sound" help:"Do not bind the PulseAudio and PipeWire sockets in (and unset PULSE_SERVER)."`
	Name      string   `arg:"" help:"App name."`
	Args      []string `arg:"" optional:"" passthrough:"" help:"Arguments for the command (after --)."`
}

// Run runs.
func (c *AppRunCmd) Run(ctx context.Context, g *Globals) error {
	args := c.Args
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	home, _ := os.UserHomeDir()
	a, err := appsOf(g, c.AppsDirFlag)
	if err != nil {
		return err
	}
	state, cleanup, err := appStateDir(a, c.Name, home)
	if err != nil {
		return err
	}
	defer cleanup()
	cmd, err := a.RunCommand(c.Name, apps.RunOptions{
		Command: c.Command, Args: args, Home: home, StateDir: state,
		Env: os.Environ(), NoDisplay: c.NoDisplay, NoSound: c.NoSound,
	})
	if err != nil {
		return appError(err)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = g.Stdin, g.Stdout, g.Stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &exitError{Code: ee.ExitCode()}
	}
	return err
}

// appStateDir returns where the app's writable /etc and /var live: beside
// its generations for root; for another user under $XDG_STATE_HOME (or
// ~/.local/state)/grey/apps/NAME, or, when that cannot be made, a
// temporary directory that cleanup removes after the run.
func appStateDir(a *apps.Apps, name, home string) (string, func(), error) {
	if os.Geteuid() == 0 {
		return a.StateDirOf(name), func() {}, nil
	}
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" && home != "" {
		base = filepath.Join(home, ".local", "state")
	}
	if base != "" {
		d := filepath.Join(base, "grey", "apps", name)
		if err := os.MkdirAll(d, 0o700); err == nil {
			return d, func() {}, nil
		}
	}
	d, err := os.MkdirTemp("", "grey-app-"+name+"-")
	if err != nil {
		return "", nil, err
	}
	return d, func() { os.RemoveAll(d) }, nil
}

// AppRollbackCmd switches back.
type AppRollbackCmd struct {
	AppsDirFlag
	Name       string `arg:"" help:"App name."`
	Generation int    `arg:"" optional:"" help:"Generation to make current (default: the one before the current)."`
}

// Run switches.
func (c *AppRollbackCmd) Run(ctx context.Context, g *Globals) error {
	a, err := appsOf(g, c.AppsDirFlag)
	if err != nil {
		return err
	}
	gen := c.Generation
	if gen == 0 {
		var err error
		if gen, err = a.Previous(c.Name); err != nil {
			return appError(err)
		}
	}
	if err := a.Switch(c.Name, gen); err != nil {
		return appError(err)
	}
	if g.JSON {
		return cli.WriteJSON(g.Stdout, map[string]any{"name": c.Name, "generation": gen})
	}
	fmt.Fprintf(g.Stdout, "%s: generation %d is current\n", c.Name, gen)
	return nil
}

// AppHistoryCmd lists generations.
type AppHistoryCmd struct {
	AppsDirFlag
	Name string `arg:"" help:"App name."`
}

// Run lists.
func (c *AppHistoryCmd) Run(ctx context.Context, g *Globals) error {
	ap, err := appsOf(g, c.AppsDirFlag)
	if err != nil {
		return err
	}
	h, err := ap.History(c.Name)
	if err != nil {
		return appError(err)
	}
	if g.JSON {
		return cli.WriteJSON(g.Stdout, h)
	}
	tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GEN\tCREATED\tPACKAGES\tREQUESTED")
	for _, m := range h {
		mark := strconv.Itoa(m.Generation)
		if m.Current {
			mark += "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", mark, m.Created.Format("2006-01-02 15:04:05"), len(m.Packages), strings.Join(m.Requested, " "))
	}
	return tw.Flush()
}

// AppListCmd lists apps.
type AppListCmd struct {
	AppsDirFlag
}

// Run lists.
func (c *AppListCmd) Run(ctx context.Context, g *Globals) error {
	ap, err := appsOf(g, c.AppsDirFlag)
	if err != nil {
		return err
	}
	l, err := ap.ListSizes()
	if err != nil {
		return err
	}
	if g.JSON {
		if l == nil {
			l = []*apps.Meta{}
		}
		return cli.WriteJSON(g.Stdout, l)
	}
	tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tGEN\tSIZE\tDISK\tUNIQUE\tPACKAGES")
	for _, m := range l {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", m.Name, m.Generation,
			bytesize.Format(m.Size.Apparent), bytesize.Format(m.Size.Disk), bytesize.Format(m.Size.Unique), strings.Join(m.Requested, " "))
	}
	return tw.Flush()
}

// AppRemoveCmd removes an app.
type AppRemoveCmd struct {
	AppsDirFlag
	Name string `arg:"" help:"App name."`
}

// Run removes.
func (c *AppRemoveCmd) Run(ctx context.Context, g *Globals) error {
	ap, err := appsOf(g, c.AppsDirFlag)
	if err != nil {
		return err
	}
	if err := ap.Remove(c.Name); err != nil {
		return appError(err)
	}
	if !g.JSON {
		fmt.Fprintf(g.Stdout, "%s: removed\n", c.Name)
		return nil
	}
	return cli.WriteJSON(g.Stdout, map[string]any{"name": c.Name, "removed": true})
}

// AppUpgradeCmd re-resolves an app's request.
type AppUpgradeCmd struct {
	AppsDirFlag
	NoSync       bool   `name:"no-sync" help:"Do not fsync the new generation before it becomes current."`
	All          bool   `help:"Upgrade every app; one that fails is reported and the others are still upgraded."`
	Command      string `xor:"command" placeholder:"PROG" help:"Make PROG the program 'grey app run' starts, from the new generation on; later upgrades keep it over a spec's command: (as app install --command)."`
	ResetCommand bool   `name:"reset-command" xor:"command" help:"Forget a command given with --command: take the spec's command: again (without one, or without a spec, NAME in /usr/bin, /bin, ...)."`
	Name         string `arg:"" optional:"" help:"App name."`
}

// Run upgrades: the current generation's request, resolved against the
// sources as they are now, becomes a new generation unless it resolves
// to the same packages. With --all an app that fails (its request
// cannot be had any more, a download fails) is reported and the others
// are still upgraded: each app's upgrade is its own switch, and one
// pinned app must not hold back the rest. The exit status is then the
// first failure's.
func (c *AppUpgradeCmd) Run(ctx context.Context, g *Globals) error {
	if c.All == (c.Name != "") {
		return &exitError{Code: 2, Err: errors.New("app upgrade: give an app name or --all")}
	}
	if c.All && (c.Command != "" || c.ResetCommand) {
		return &exitError{Code: 2, Err: errors.New("app upgrade: --command and --reset-command change one app: give its name, not --all")}
	}
	ap, err := appsOf(g, c.AppsDirFlag)
	if err != nil {
		return err
	}
	var metas []*apps.Meta
	if c.All {
		var err error
		if metas, err = ap.List(); err != nil {
			return err
		}
	} else {
		_, m, err := ap.CurrentRoot(c.Name)
		if err != nil {
			return appError(err)
		}
		metas = []*apps.Meta{m}
	}
	// With --json, --all prints one array (as app gc does): each app's
	// object, or {"name", "error"} for one that failed.
	jsonAll := g.JSON && c.All
	stdout := g.Stdout
	defer func() { g.Stdout = stdout }()
	results := []json.RawMessage{}
	var first error
	failed := 0
	for _, m := range metas {
		packages := m.Requested
		if m.Spec != "" {
			packages = nil // the spec again, resolved anew
		}
		var buf bytes.Buffer
		if jsonAll {
			g.Stdout = &buf
		}
		// A command given on a command line stays; one from the spec
		// is taken from the spec again; --command and --reset-command
		// change that.
		command, given := m.Command, m.CommandFrom == apps.CommandFlag
		if m.CommandFrom == apps.CommandSpec {
			command = ""
		}
		if c.Command != "" {
			command, given = c.Command, true
		}
		if c.ResetCommand {
			command, given = "", false
		}
		err := installApp(ctx, g, &AppInstallCmd{AppsDirFlag: c.AppsDirFlag, Name: m.Name, Spec: m.Spec, Packages: packages, Command: command, NoSync: c.NoSync,
			Essential: m.Essential, Scripts: m.Scripts, Recommends: m.Recommends,
			commandGiven: given, commandChosen: c.Command != "" || c.ResetCommand}, m)
		g.Stdout = stdout
		if err == nil {
			if jsonAll {
				results = append(results, json.RawMessage(bytes.TrimSpace(buf.Bytes())))
			}
			continue
		}
		err = appFailed(m.Name, err)
		if !c.All || ctx.Err() != nil {
			return err
		}
		fmt.Fprintf(g.Stderr, "grey: %v\n", err)
		if jsonAll {
			b, jerr := json.Marshal(map[string]string{"name": m.Name, "error": err.Error()})
			if jerr != nil {
				return jerr
			}
			results = append(results, b)
		}
		failed++
		if first == nil {
			first = err
		}
	}
	if jsonAll {
		if err := cli.WriteJSON(stdout, results); err != nil {
			return err
		}
	}
	if first == nil {
		return nil
	}
	code := cli.ExitFailed
	var ee *exitError
	if errors.As(first, &ee) {
		code = ee.Code
	}
	return &exitError{Code: code, Err: fmt.Errorf("app upgrade --all: %d of %d apps not upgraded", failed, len(metas))}
}

// appFailed names the app in err's message, keeping its exit status
// (the message of an exitError is its Err, which the status would
// otherwise hide the name from).
func appFailed(name string, err error) error {
	var ee *exitError
	if errors.As(err, &ee) && ee.Err != nil {
		return &exitError{Code: ee.Code, Err: fmt.Errorf("app %s: %w", name, ee.Err)}
	}
	return fmt.Errorf("app %s: %w", name, err)
}

// AppGcCmd deletes old generations.
type AppGcCmd struct {
	AppsDirFlag
	Keep int    `default:"3" help:"Keep the newest N generations (the current one always stays)." placeholder:"N"`
	Name string `arg:"" optional:"" help:"App name (default: every app)."`
}

// Run deletes, for the app named or every app; with --json one object
// per app (an array when no name was given).
func (c *AppGcCmd) Run(ctx context.Context, g *Globals) error {
	ap, err := appsOf(g, c.AppsDirFlag)
	if err != nil {
		return err
	}
	names := []string{c.Name}
	if c.Name == "" {
		// Every app directory: one a first install killed before its
		// switch has no current generation and goes.
		if names, err = ap.Names(); err != nil {
			return err
		}
	}
	var results []map[string]any
	for _, name := range names {
		gone, err := ap.GC(name, c.Keep)
		if err != nil {
			return appError(err)
		}
		if gone == nil {
			gone = []int{}
		}
		results = append(results, map[string]any{"name": name, "deleted": gone})
		if !g.JSON {
			fmt.Fprintf(g.Stdout, "%s: deleted %d generations\n", name, len(gone))
		}
	}
	if !g.JSON {
		return nil
	}
	if c.Name != "" {
		return cli.WriteJSON(g.Stdout, results[0])
	}
	if results == nil {
		results = []map[string]any{}
	}
	return cli.WriteJSON(g.Stdout, results)
}

// AppExportCmd writes a launcher for an app, or with -o its current
// generation as an image.
type AppExportCmd struct {
	AppsDirFlag
	BinDir string `name:"bin-dir" xor:"out" placeholder:"DIR" type:"path" help:"Write the launcher into DIR (default ROOT/usr/local/bin for root, ~/.local/bin for other users)."`
	Grey   string `placeholder:"PATH" type:"path" help:"The grey program the launcher runs (default: this one)."`
	Output string `short:"o" xor:"out" placeholder:"OUT" help:"Instead of a launcher, write the current generation to FILE.tar (.tar.gz, .tgz, .tar.zst) or oci:DIR, as grey image build -o."`
	Epoch  int64  `name:"source-date-epoch" placeholder:"SECONDS" help:"With -o: clamp every mtime to this time and use it as the OCI creation time (default: the generation's creation time)."`
	Name   string `arg:"" help:"App name."`
}

// Help explains the two kinds of export.
func (AppExportCmd) Help() string {
	return `Without -o, writes the launcher BIN-DIR/NAME: a shell script that runs
"grey app run NAME -- ARGS" with this command's --root and --apps-dir, so the
app starts by its name from PATH. A file there that is not a grey launcher is
never overwritten. "grey app remove NAME" deletes the launchers it wrote.
With -o, writes the current generation as an image instead.`
}

// Run writes a launcher, or with -o exports with package image's
// writers: the generation's root as it is (store links are written as
// the files they are).
func (c *AppExportCmd) Run(ctx context.Context, g *Globals) error {
	ap, err := appsOf(g, c.AppsDirFlag)
	if err != nil {
		return err
	}
	if c.Output == "" {
		return c.launcher(g, ap)
	}
	root, m, err := ap.CurrentRoot(c.Name)
	if err != nil {
		return appError(err)
	}
	out, err := image.ParseOutput(c.Output)
	if err != nil {
		return &exitError{Code: 2, Err: err}
	}
	epoch := c.Epoch
	if epoch == 0 {
		epoch = m.Created.Unix()
	}
	switch out.Kind {
	case image.Tarball:
		err = image.WriteTarFile(ctx, root, out.Path, out.Compression, epoch)
	case image.OCILayout:
		err = image.WriteOCI(ctx, root, out.Path, repo.HostArch(), epoch, m.Command)
	default:
		return &exitError{Code: 2, Err: fmt.Errorf("app export: %s: give FILE.tar (.tar.gz, .tgz, .tar.zst) or oci:DIR", c.Output)}
	}
	if err != nil {
		return err
	}
	if g.JSON {
		return cli.WriteJSON(g.Stdout, map[string]any{"name": c.Name, "generation": m.Generation, "output": out.Path})
	}
	fmt.Fprintf(g.Stdout, "%s: generation %d written to %s\n", c.Name, m.Generation, out.Path)
	return nil
}

// launcher writes the app's launcher into the bin directory.
func (c *AppExportCmd) launcher(g *Globals, ap *apps.Apps) error {
	if c.Epoch != 0 {
		return &exitError{Code: 2, Err: errors.New("app export: --source-date-epoch needs -o")}
	}
	grey := c.Grey
	if grey == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("app export: the path of this program: %w", err)
		}
		grey = exe
	}
	root, err := filepath.Abs(g.Root)
	if err != nil {
		return err
	}
	appsDir, err := filepath.Rel(root, ap.Dir)
	if err != nil || strings.HasPrefix(appsDir, "..") {
		return fmt.Errorf("app export: %s is not inside %s", ap.Dir, root)
	}
	bin := c.BinDir
	if bin == "" {
		if os.Geteuid() == 0 {
			bin = filepath.Join(root, "usr", "local", "bin")
		} else {
			home, err := os.UserHomeDir()
			if err != nil {
				return &exitError{Code: 2, Err: fmt.Errorf("app export: no home directory for ~/.local/bin (give --bin-dir): %w", err)}
			}
			bin = filepath.Join(home, ".local", "bin")
		}
	}
	path, recorded, err := ap.WriteLauncher(c.Name, bin, apps.Launcher{Grey: grey, Root: root, AppsDir: "/" + filepath.ToSlash(appsDir)})
	var nl *apps.NotLauncherError
	if errors.As(err, &nl) {
		return &exitError{Code: 1, Err: err}
	}
	if err != nil {
		return appError(err)
	}
	if g.JSON {
		return cli.WriteJSON(g.Stdout, map[string]any{"name": c.Name, "launcher": path, "recorded": recorded})
	}
	fmt.Fprintf(g.Stdout, "%s: launcher %s\n", c.Name, path)
	if !recorded {
		fmt.Fprintf(g.Stderr, "grey: note: the app directory is not writable: grey app remove %s will not delete %s\n", c.Name, path)
	}
	return nil
}

// AppVerifyCmd checks the shared files of app roots.
type AppVerifyCmd struct {
	AppsDirFlag
	Repair bool     `help:"Put damaged files back: a store object gets its package's bytes again from the .deb in the archive cache, into a new inode every app that shared it links to."`
	Names  []string `arg:"" optional:"" name:"name" help:"App names (default: every app)."`
}

// Help explains what verify finds.
func (AppVerifyCmd) Help() string {
	return `Files outside /etc and /var of an app root are hard links to one store object
shared with every app and generation of the same content. "grey app run" keeps
the root read-only, but root writing into NAME/gen/N/... directly writes into
that object. Every generation records its shared files as composed
(NAME/gen/N.seal); verify compares each with it (size, time, mode, owner) and
hashes every store object against its name. Exits 1 when something is
damaged (and, with --repair, could not be put back).`
}

// Run verifies.
func (c *AppVerifyCmd) Run(ctx context.Context, g *Globals) error {
	ap, err := appsOf(g, c.AppsDirFlag)
	if err != nil {
		return err
	}
	damage, err := ap.Verify(ctx, c.Names, apps.VerifyOptions{Repair: c.Repair, Archives: []string{
		filepath.Join(g.Root, transaction.ArchivesDir), filepath.Join(ap.Dir, ".spec-state", transaction.ArchivesDir),
	}})
	if err != nil && damage == nil {
		return appError(err)
	}
	left := 0
	for _, d := range damage {
		if !d.Repaired {
			left++
		}
	}
	if g.JSON {
		if damage == nil {
			damage = []apps.Damage{}
		}
		if werr := cli.WriteJSON(g.Stdout, damage); werr != nil {
			return werr
		}
	} else {
		for _, d := range damage {
			state := "damaged"
			if d.Repaired {
				state = "repaired"
			}
			fmt.Fprintf(g.Stdout, "%s %d %s: %s (%s)\n", d.Name, d.Generation, d.Path, d.Problem, state)
		}
	}
	if err != nil {
		return err
	}
	if left > 0 {
		hint := ""
		if !c.Repair {
			hint = "; grey app verify --repair puts them back"
		}
		return &exitError{Code: 1, Err: fmt.Errorf("app verify: %d shared file(s) changed outside grey%s", left, hint)}
	}
	return nil
}
