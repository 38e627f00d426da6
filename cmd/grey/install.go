package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/greypm/grey/deb"
	"github.com/greypm/grey/deb/version"
	"github.com/greypm/grey/internal/bytesize"
	"github.com/greypm/grey/internal/cli"
	"github.com/greypm/grey/pkgdb"
	"github.com/greypm/grey/repo/fetch"
	"github.com/greypm/grey/resolver"
	"github.com/greypm/grey/transaction"
)

// Exit statuses of the commands that change a root.
const (
	// exitAborted: the user answered no at the confirmation prompt.
	exitAborted = 1
	// exitVerify: verify found damaged files (not only edited conffiles).
	exitVerify = 1
)

// memoryLimit is the soft heap limit of commands that unpack packages.
const memoryLimit = 48 << 20

// changeFlags are the flags of every command that changes a root.
type changeFlags struct {
	NoScripts bool `name:"no-scripts" help:"Do not run maintainer scripts (preinst, postinst, prerm, postrm)."`
	NoWait    bool `name:"no-wait" help:"Fail at once when another grey process is changing the root, instead of waiting for it."`
	NoSync    bool `name:"no-sync" help:"Do not fsync files before they replace the old ones (faster, not crash-safe)."`
	Jobs      int  `help:"Download at most N packages at once (default 4, or grey.conf's Grey::Parallel-Downloads)." placeholder:"N"`
	// DownloadOnly is apt-get's --download-only (-d).
	DownloadOnly bool `name:"download-only" short:"d" help:"Only download the packages into the cache; change nothing else (APT::Get::Download-Only)."`
}

// InstallCmd installs packages and their dependencies.
type InstallCmd struct {
	changeFlags
	Reinstall    bool     `help:"Install the named packages again even when that version is installed."`
	NoRecommends bool     `name:"no-install-recommends" help:"Do not install Recommends (the default is grey.conf's APT::Install-Recommends, else true)."`
	FixBroken    bool     `short:"f" name:"fix-broken" help:"Finish what a failed command left: configure unpacked and half-configured packages (as apt install -f)."`
	Packages     []string `arg:"" optional:"" name:"package" help:"PKG, PKG=VERSION, PKG/SUITE, PKG:ARCH, or a path to a .deb file (containing a / and ending in .deb)."`
}

// Help explains the plan, the prompt and the files.
func (InstallCmd) Help() string {
	return `Resolves the packages and their dependencies against the sources (run
"grey update" first), shows the plan (what is installed, upgraded, removed,
with versions, download size and disk space change) and asks before changing
anything unless -y. Packages are downloaded in parallel into
ROOT/var/cache/grey/archives and checked against the SHA256 of the signed
index; a failed download changes nothing. Then every file is staged beside its
target and renamed into place only when all packages are staged: an error
before that leaves the root as it was. A conffile the admin changed is kept
and the package's version written beside it as FILE.dpkg-new.

An argument with a "/" that ends in .deb installs that file; its dependencies
come from the sources, as with "apt install ./x.deb".`
}

// Run installs.
func (c *InstallCmd) Run(ctx context.Context, g *Globals) error {
	if len(c.Packages) == 0 && !c.FixBroken {
		return &exitError{Code: 2, Err: errors.New("name the packages to install (or --fix-broken)")}
	}
	rec, err := g.Recommends(c.NoRecommends)
	if err != nil {
		return err
	}
	req := resolver.Request{Recommends: rec}
	var local []string
	if req.Install, local, err = packageArgs(c.Packages); err != nil {
		return err
	}
	return runChange(ctx, g, c.changeFlags, transaction.ChangeRequest{Request: req, Local: local, Reinstall: c.Reinstall})
}

// RemoveCmd removes packages.
type RemoveCmd struct {
	changeFlags
	Purge                bool     `help:"Remove the conffiles too."`
	AllowRemoveEssential bool     `name:"allow-remove-essential" help:"Allow removing Essential packages (this may leave the system unusable)."`
	Autoremove           bool     `help:"Also remove the automatically installed packages nothing needs any more (apt-get remove --autoremove)."`
	Packages             []string `arg:"" name:"package" help:"Installed packages to remove."`
}

// Help explains what stays.
func (RemoveCmd) Help() string {
	return `Removes the packages and every installed package that depends on them.
Conffiles stay (the package is then listed as rc) unless --purge. Directories
another package also owns stay. Essential packages are refused unless
--allow-remove-essential.`
}

// Run removes.
func (c *RemoveCmd) Run(ctx context.Context, g *Globals) error {
	req := resolver.Request{AllowRemoveEssential: c.AllowRemoveEssential, Autoremove: c.Autoremove}
	for _, a := range c.Packages {
		j, err := resolver.ParseJob(a)
		if err != nil {
			return &exitError{Code: 2, Err: err}
		}
		req.Remove = append(req.Remove, j)
	}
	return runChange(ctx, g, c.changeFlags, transaction.ChangeRequest{Request: req, Purge: c.Purge})
}

// UpgradeCmd upgrades installed packages without removing any.
type UpgradeCmd struct {
	changeFlags
	Packages []string `arg:"" optional:"" name:"package" help:"Installed packages to upgrade (all when none)."`
}

// Run upgrades.
func (c *UpgradeCmd) Run(ctx context.Context, g *Globals) error {
	req := resolver.Request{Upgrade: c.Packages, UpgradeAll: len(c.Packages) == 0}
	return runChange(ctx, g, c.changeFlags, transaction.ChangeRequest{Request: req})
}

// FullUpgradeCmd upgrades everything, removing packages where it must.
type FullUpgradeCmd struct {
	changeFlags
}

// Run upgrades.
func (c *FullUpgradeCmd) Run(ctx context.Context, g *Globals) error {
	return runChange(ctx, g, c.changeFlags, transaction.ChangeRequest{Request: resolver.Request{FullUpgrade: true}})
}

// AutoremoveCmd removes automatically installed packages nothing needs.
type AutoremoveCmd struct {
	changeFlags
	Purge bool `help:"Remove their conffiles too."`
}

// Run removes.
func (c *AutoremoveCmd) Run(ctx context.Context, g *Globals) error {
	return runChange(ctx, g, c.changeFlags, transaction.ChangeRequest{Request: resolver.Request{Autoremove: true}, Purge: c.Purge})
}

// openRoot locks and opens g.Root for a change, telling the user when it
// waits for another process.
func openRoot(ctx context.Context, g *Globals, noWait bool) (*transaction.Root, error) {
	return openRootFor(ctx, g, noWait, false)
}

// openView opens g.Root for a command that only reads it: no dpkg lock,
// and a user who cannot write the root still gets an answer
// (transaction.OpenView).
func openView(ctx context.Context, g *Globals) (*transaction.Root, error) {
	return openRootFor(ctx, g, false, true)
}

// viewPackages returns the records of the root's packages, read from its
// database opened for reading.
func viewPackages(ctx context.Context, g *Globals) ([]*pkgdb.Package, error) {
	root, err := openView(ctx, g)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var pkgs []*pkgdb.Package
	err = root.DB.View(func(tx *bolt.Tx) (err error) { pkgs, err = pkgdb.Packages(tx); return })
	return pkgs, err
}

func openRootFor(ctx context.Context, g *Globals, noWait, readOnly bool) (*transaction.Root, error) {
	r, err := transaction.OpenRootWith(ctx, g.Root, transaction.RootOptions{ReadOnly: readOnly, Now: g.Now,
		Lock: pkgdb.LockOptions{NoWait: noWait, Waiting: func(e *pkgdb.LockedError) {
			fmt.Fprintf(g.Stderr, "grey: waiting: %v\n", e)
		}}})
	var le *pkgdb.LockedError
	if errors.As(err, &le) {
		return nil, &exitError{Code: 1, Err: err}
	}
	if r != nil && r.Recovered != "" {
		fmt.Fprintf(g.Stderr, "grey: recovered: %s\n", r.Recovered)
	}
	if r != nil && !r.Synced.Empty() {
		fmt.Fprintf(g.Stderr, "grey: %s\n", r.Synced)
	}
	return r, err
}

// planJSON is the plan as --json prints it.
type planJSON struct {
	Install   []planEntry `json:"install"`
	Upgrade   []planEntry `json:"upgrade"`
	Downgrade []planEntry `json:"downgrade"`
	Remove    []planEntry `json:"remove"`
	Reinstall []planEntry `json:"reinstall"`
	// DownloadBytes is what must be fetched; DiskDelta the change of the
	// installed size in bytes (from Installed-Size).
	DownloadBytes int64 `json:"download_bytes"`
	DiskDelta     int64 `json:"disk_delta"`
}

type planEntry struct {
	Name       string `json:"name"`
	Arch       string `json:"arch"`
	OldVersion string `json:"old_version,omitempty"`
	NewVersion string `json:"new_version,omitempty"`
	Auto       bool   `json:"auto,omitempty"`
}

func (p *planJSON) empty() bool {
	return len(p.Install)+len(p.Upgrade)+len(p.Downgrade)+len(p.Remove)+len(p.Reinstall) == 0
}

// runChange resolves, shows the plan, asks, downloads and applies, through
// the library's entry point (transaction.Prepare, Pending.Download,
// transaction.Apply); what is here is flags, the prompt and the output.
func runChange(ctx context.Context, g *Globals, fl changeFlags, cr transaction.ChangeRequest) error {
	if os.Getenv("GOMEMLIMIT") == "" {
		// Each xz member decoded allocates its dictionary (8 MiB for
		// Debian's packages), so garbage piles up fast; a soft limit makes
		// the collector keep the heap, and the peak RSS with two decoders,
		// well under 100 MB, for a little more collection work.
		debug.SetMemoryLimit(memoryLimit)
	}
	srcs, err := cli.CommandSources(g)
	if err != nil {
		return err
	}
	root, err := openRootFor(ctx, g, fl.NoWait, g.DryRun)
	if err != nil {
		return err
	}
	defer root.Close()
	var idx resolver.Index
	if len(srcs) > 0 {
		x, err := cli.OpenIndex(ctx, g)
		if err != nil {
			return err
		}
		defer x.Close()
		idx = x
		cr.Request.Policy = x.Policy
	}
	if len(cr.Request.ForeignArchs) == 0 {
		// The architectures dpkg --add-architecture (grey arch add)
		// enabled: pkg:i386 and Multi-Arch: foreign packages of them.
		archs, err := transaction.Architectures(root.Dir)
		if err != nil {
			return err
		}
		cr.Request.ForeignArchs = archs[1:]
	}
	pending, err := transaction.Prepare(ctx, root.DB, idx, cr)
	if err != nil {
		var un *resolver.Unsatisfiable
		var he *transaction.HeldError
		var up *transaction.UnknownPackageError
		var re *transaction.ReinstallError
		if errors.As(err, &un) || errors.As(err, &he) || errors.As(err, &up) || errors.As(err, &re) {
			return &exitError{Code: 100, Err: err}
		}
		return err
	}
	archives, err := archivesDir(g, root.Dir)
	if err != nil {
		return err
	}
	pj := describePlan(pending.Resolved, pending.Reinstall, archives)
	if !g.JSON {
		for _, name := range pending.NotInstalled {
			fmt.Fprintf(g.Stdout, "Package '%s' is not installed, so not removed\n", name)
		}
		printPlan(g.Stdout, pj)
	}
	if pj.empty() {
		// A retry after a failure: what is left unpacked or
		// half-configured is configured, as apt does on its next run.
		if pending, err := transaction.PendingPackages(root.DB); err != nil {
			return err
		} else if len(pending) > 0 && !g.DryRun {
			return configurePending(ctx, g, root)
		}
		if g.JSON {
			return cli.WriteJSON(g.Stdout, map[string]any{"plan": pj, "result": transaction.Result{Changes: []transaction.Change{}}})
		}
		fmt.Fprintln(g.Stdout, "Nothing to do.")
		return nil
	}
	if g.DryRun {
		if g.JSON {
			return cli.WriteJSON(g.Stdout, map[string]any{"plan": pj})
		}
		return nil
	}
	jobs, err := g.Jobs(fl.Jobs)
	if err != nil {
		return err
	}
	downloadOnly, err := g.DownloadOnly(fl.DownloadOnly)
	if err != nil {
		return err
	}
	fopts := []fetch.Option{fetch.WithConcurrency(jobs)}
	var bar *fetch.Bar
	if g.Progress(g.Stderr) {
		bar = fetch.NewBar(g.Stderr, time.Now)
		// The plan's total, fixed before any download starts.
		bar.SetTotal(pj.DownloadBytes)
		fopts = append(fopts, fetch.WithProgress(bar))
	}
	fetcher, err := newFetcher(g, fopts...)
	if err != nil {
		return err
	}
	if err := confirmChange(g); err != nil {
		return err
	}

	plan, err := pending.Download(ctx, transaction.DownloadOptions{
		Fetcher: fetcher, Dir: root.Dir, Archives: archives, URL: transaction.SourceURLs(srcs), DownloadOnly: fl.DownloadOnly,
	})
	if bar != nil {
		bar.Clear()
	}
	if err != nil {
		return err
	}
	if downloadOnly {
		if g.JSON {
			return cli.WriteJSON(g.Stdout, map[string]any{"plan": pj, "downloaded": len(plan.Install)})
		}
		fmt.Fprintf(g.Stdout, "Download complete and in download only mode (%d packages in %s)\n", len(plan.Install), archives)
		return nil
	}
	// Script output goes to stderr, so stdout stays the plan and result
	// (and valid JSON with --json).
	opts := transaction.Options{
		Root: root.Dir, NoScripts: fl.NoScripts, Sync: !fl.NoSync, ScriptOutput: g.Stderr,
		ForceEssential:   cr.Request.AllowRemoveEssential,
		ConfigurePending: true,
		Now:              g.Now,
		Command:          commandLine(g),
		User:             currentUser(),
	}
	var status *cli.StatusLine
	if g.Progress(g.Stderr) {
		// Scripts write through the status line, which keeps their
		// output off the progress line.
		status = cli.NewStatusLine(g.Stderr)
		opts.ScriptOutput = status
		opts.Progress = func(p transaction.Progress) {
			status.Set(fmt.Sprintf("%s [%d/%d] %s", p.Phase, p.Done, p.Total, p.Package))
		}
	}
	res, err := transaction.Apply(ctx, root.DB, plan, opts)
	if status != nil {
		status.Done()
	}
	if err != nil && res == nil {
		// Refused, nothing changed: the cache goes back as it was too,
		// without the package that failed verification.
		if derr := pending.Discard(); derr != nil {
			fmt.Fprintf(g.Stderr, "grey: %v\n", derr)
		}
	}
	if res != nil && !g.JSON {
		printResult(g.Stdout, res)
	}
	if g.JSON {
		if werr := cli.WriteJSON(g.Stdout, map[string]any{"plan": pj, "result": res}); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

// describePlan turns a resolver plan into the table's rows and totals.
func describePlan(rp *resolver.Plan, reinstall []*deb.Package, archives string) *planJSON {
	pj := &planJSON{Install: []planEntry{}, Upgrade: []planEntry{}, Downgrade: []planEntry{}, Remove: []planEntry{}, Reinstall: []planEntry{}}
	cost := func(p *deb.Package) {
		if _, err := os.Stat(filepath.Join(archives, transaction.CacheName(p))); err != nil {
			pj.DownloadBytes += p.Size
		}
	}
	for _, p := range rp.Install {
		r, _ := rp.Reason(p)
		pj.Install = append(pj.Install, planEntry{Name: p.Name, Arch: p.Architecture, NewVersion: p.Version.String(), Auto: r.Auto})
		pj.DiskDelta += p.InstalledSize * 1024
		cost(p)
	}
	for _, c := range rp.Upgrade {
		pj.Upgrade = append(pj.Upgrade, planEntry{Name: c.To.Name, Arch: c.To.Architecture, OldVersion: c.From.Version.String(), NewVersion: c.To.Version.String()})
		pj.DiskDelta += (c.To.InstalledSize - c.From.InstalledSize) * 1024
		cost(c.To)
	}
	for _, c := range rp.Downgrade {
		pj.Downgrade = append(pj.Downgrade, planEntry{Name: c.To.Name, Arch: c.To.Architecture, OldVersion: c.From.Version.String(), NewVersion: c.To.Version.String()})
		pj.DiskDelta += (c.To.InstalledSize - c.From.InstalledSize) * 1024
		cost(c.To)
	}
	for _, p := range rp.Remove {
		pj.Remove = append(pj.Remove, planEntry{Name: p.Name, Arch: p.Architecture, OldVersion: p.Version.String()})
		pj.DiskDelta -= p.InstalledSize * 1024
	}
	for _, p := range reinstall {
		pj.Reinstall = append(pj.Reinstall, planEntry{Name: p.Name, Arch: p.Architecture, OldVersion: p.Version.String(), NewVersion: p.Version.String()})
		cost(p)
	}
	return pj
}

// printPlan writes the plan table.
func printPlan(w io.Writer, pj *planJSON) {
	if pj.empty() {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTION\tPACKAGE\tARCH\tFROM\tTO")
	rows := []struct {
		action string
		es     []planEntry
	}{{"install", pj.Install}, {"upgrade", pj.Upgrade}, {"downgrade", pj.Downgrade}, {"reinstall", pj.Reinstall}, {"remove", pj.Remove}}
	for _, r := range rows {
		for _, e := range r.es {
			from, to := e.OldVersion, e.NewVersion
			if from == "" {
				from = "-"
			}
			if to == "" {
				to = "-"
			}
			name := e.Name
			if e.Auto {
				name += " (auto)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.action, name, e.Arch, from, to)
		}
	}
	tw.Flush()
	delta := "+" + bytesize.Format(pj.DiskDelta)
	if pj.DiskDelta < 0 {
		delta = "-" + bytesize.Format(-pj.DiskDelta)
	}
	fmt.Fprintf(w, "%d to install, %d to upgrade, %d to downgrade, %d to reinstall, %d to remove.\n",
		len(pj.Install), len(pj.Upgrade), len(pj.Downgrade), len(pj.Reinstall), len(pj.Remove))
	fmt.Fprintf(w, "Download: %s. Disk space: %s.\n", bytesize.Format(pj.DownloadBytes), delta)
}

// confirmChange asks before a change unless -y; a "no" is exitAborted.
func confirmChange(g *Globals) error {
	if g.Yes {
		return nil
	}
	ok, err := confirm(g)
	if err != nil {
		return err
	}
	if !ok {
		return &exitError{Code: exitAborted, Err: errors.New("aborted; nothing was changed")}
	}
	return nil
}

// confirm asks on g.Stdout and reads the answer from g.Stdin; the default
// (an empty line) is yes, as apt's.
func confirm(g *Globals) (bool, error) {
	fmt.Fprint(g.Stdout, "Continue? [Y/n] ")
	line, err := bufio.NewReader(g.Stdin).ReadString('\n')
	if err != nil && line == "" {
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "", "y", "yes":
		return true, nil
	}
	return false, nil
}

func printResult(w io.Writer, res *transaction.Result) {
	verbs := map[string]string{"install": "Installed", "upgrade": "Upgraded", "downgrade": "Downgraded",
		"reinstall": "Reinstalled", "remove": "Removed", "purge": "Purged", "configure": "Configured"}
	left := map[string]string{}
	for _, f := range res.Failures {
		if st := strings.Fields(f.Status); len(st) == 3 {
			left[f.Package] = st[2]
		}
	}
	for _, c := range res.Changes {
		if st, ok := left[c.Name]; ok {
			// The change stopped short: say where, as dpkg -l would.
			fmt.Fprintf(w, "Left %s %s %s: a maintainer script failed\n", c.Name, st, c.NewVersion+c.OldVersion)
			delete(left, c.Name)
			continue
		}
		switch c.Action {
		case "install", "configure":
			fmt.Fprintf(w, "%s %s %s\n", verbs[c.Action], c.Name, c.NewVersion)
		case "remove", "purge", "reinstall":
			fmt.Fprintf(w, "%s %s %s\n", verbs[c.Action], c.Name, c.OldVersion)
		default:
			fmt.Fprintf(w, "%s %s %s -> %s\n", verbs[c.Action], c.Name, c.OldVersion, c.NewVersion)
		}
	}
	for _, n := range res.Conffiles {
		fmt.Fprintf(w, "Kept your changed %s (package %s); its new version is %s\n", n.Path, n.Package, n.NewPath)
	}
}

// FilesCmd lists the files of an installed package.
type FilesCmd struct {
	Package string `arg:"" help:"Installed package."`
}

// Run lists.
func (c *FilesCmd) Run(ctx context.Context, g *Globals) error {
	root, err := openView(ctx, g)
	if err != nil {
		return err
	}
	defer root.Close()
	var p *pkgdb.Package
	if err := root.DB.View(func(tx *bolt.Tx) (err error) { p, err = pkgdb.GetPackage(tx, c.Package); return }); err != nil {
		return err
	}
	if p == nil {
		return &exitError{Code: cli.ExitNotFound, Err: fmt.Errorf("%s: %w", c.Package, transaction.ErrNotInstalled)}
	}
	if g.JSON {
		return cli.WriteJSON(g.Stdout, p.Files)
	}
	var b strings.Builder
	for _, f := range p.Files {
		b.WriteString(f.Path)
		b.WriteByte('\n')
	}
	_, err = io.WriteString(g.Stdout, b.String())
	return err
}

// OwnsCmd names the packages that own a path.
type OwnsCmd struct {
	Paths []string `arg:"" name:"path" help:"Paths inside the root, absolute (/usr/bin/hello)."`
}

// Run looks up.
func (c *OwnsCmd) Run(ctx context.Context, g *Globals) error {
	root, err := openView(ctx, g)
	if err != nil {
		return err
	}
	defer root.Close()
	out := map[string][]string{}
	var missing []error
	err = root.DB.View(func(tx *bolt.Tx) error {
		for _, p := range c.Paths {
			clean := filepath.Clean("/" + p)
			owners := pkgdb.Owners(tx, clean)
			if len(owners) == 0 {
				missing = append(missing, fmt.Errorf("no package owns %s", clean))
				continue
			}
			out[clean] = owners
			if !g.JSON {
				fmt.Fprintf(g.Stdout, "%s: %s\n", strings.Join(owners, ", "), clean)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if g.JSON {
		if err := cli.WriteJSON(g.Stdout, out); err != nil {
			return err
		}
	}
	return cli.NotFoundError(missing)
}

// VerifyCmd checks installed files against the database.
type VerifyCmd struct {
	Packages []string `arg:"" optional:"" name:"package" help:"Installed packages to check (all when none)."`
}

// Help explains the output.
func (VerifyCmd) Help() string {
	return `Compares every file of the packages with what was installed: type,
permissions, size, SHA256 and link target. Prints one line per difference,
"PACKAGE: PATH: KIND (detail)". A conffile the admin edited is reported as
"modified conffile" and is not an error; anything else makes the exit status 1.`
}

// Run verifies.
func (c *VerifyCmd) Run(ctx context.Context, g *Globals) error {
	root, err := openView(ctx, g)
	if err != nil {
		return err
	}
	defer root.Close()
	probs, err := transaction.Verify(ctx, root.DB, root.Dir, c.Packages)
	if err != nil {
		if errors.Is(err, transaction.ErrNotInstalled) {
			return &exitError{Code: cli.ExitNotFound, Err: err}
		}
		return err
	}
	bad := 0
	for _, p := range probs {
		if p.IsError() {
			bad++
		}
	}
	if g.JSON {
		if probs == nil {
			probs = []transaction.Problem{}
		}
		if err := cli.WriteJSON(g.Stdout, probs); err != nil {
			return err
		}
	} else {
		for _, p := range probs {
			fmt.Fprintln(g.Stdout, p.String())
		}
	}
	if bad > 0 {
		return &exitError{Code: exitVerify, Err: fmt.Errorf("%d damaged file(s)", bad)}
	}
	return nil
}

// MarkCmd sets and shows marks, as apt-mark does.
type MarkCmd struct {
	Mark     string   `arg:"" enum:"auto,manual,hold,unhold,showauto,showmanual,showhold" help:"auto, manual, hold, unhold, or showauto, showmanual, showhold."`
	Packages []string `arg:"" optional:"" name:"package" help:"Installed packages (show*: only these)."`
	NoWait   bool     `name:"no-wait" help:"Fail at once if another grey, apt or dpkg holds the root's locks."`
}

// Help explains the marks.
func (MarkCmd) Help() string {
	return `A package marked auto was installed only because another needed it:
autoremove removes it once nothing does. "mark manual" keeps it. The marks are
apt's (var/lib/apt/extended_states), so apt-mark and grey agree.

A held package stays at its version: upgrades leave it, and no plan removes or
replaces it unless it is named. The hold is dpkg's selection (dpkg
--get-selections, apt-mark hold).

showauto, showmanual and showhold print the installed packages with that mark,
one a line, sorted.`
}

// Run marks or shows.
func (c *MarkCmd) Run(ctx context.Context, g *Globals) error {
	if show, ok := strings.CutPrefix(c.Mark, "show"); ok {
		return c.show(ctx, g, show)
	}
	if len(c.Packages) == 0 {
		return &exitError{Code: 2, Err: fmt.Errorf("mark %s: name at least one package", c.Mark)}
	}
	root, err := openRoot(ctx, g, c.NoWait)
	if err != nil {
		return err
	}
	defer root.Close()
	changed, err := transaction.SetMarks(root, c.Packages, c.Mark)
	if errors.Is(err, transaction.ErrNotInstalled) {
		return &exitError{Code: cli.ExitNotFound, Err: err}
	}
	if err != nil {
		return err
	}
	done := map[string]bool{}
	for _, n := range changed {
		done[n] = true
	}
	for _, n := range c.Packages {
		switch {
		case !done[n]:
			fmt.Fprintf(g.Stdout, "%s was already set to %s\n", n, c.Mark)
		case c.Mark == "hold":
			fmt.Fprintf(g.Stdout, "%s set on hold.\n", n)
		case c.Mark == "unhold":
			fmt.Fprintf(g.Stdout, "Canceled hold on %s.\n", n)
		default:
			fmt.Fprintf(g.Stdout, "%s set to %s\n", n, c.Mark)
		}
	}
	return nil
}

func (c *MarkCmd) show(ctx context.Context, g *Globals, which string) error {
	pkgs, err := viewPackages(ctx, g)
	if err != nil {
		return err
	}
	only := map[string]bool{}
	for _, n := range c.Packages {
		only[n] = true
	}
	var out []string
	for _, p := range pkgs {
		if !p.IsInstalled() || len(only) > 0 && !only[p.Key()] && !only[p.Name] {
			continue
		}
		var ok bool
		switch which {
		case "auto":
			ok = p.Auto
		case "manual":
			ok = !p.Auto
		case "hold":
			ok = p.Held()
		}
		if ok {
			out = append(out, p.Key())
		}
	}
	sort.Strings(out)
	if g.JSON {
		if out == nil {
			out = []string{}
		}
		return cli.WriteJSON(g.Stdout, out)
	}
	var b strings.Builder
	for _, n := range out {
		b.WriteString(n)
		b.WriteByte('\n')
	}
	_, err = io.WriteString(g.Stdout, b.String())
	return err
}

// InstalledCmd lists installed packages.
type InstalledCmd struct {
	Upgradable bool `help:"Only packages with a newer version in the sources."`
}

// Help explains the output.
func (InstalledCmd) Help() string {
	return `Prints "name version arch [state]" for each installed package, sorted by
name; state is installed or config-files (removed, conffiles kept), with
",automatic" for packages installed as dependencies. With --upgradable, only
packages the sources have a newer version of, as "name new arch [upgradable
from: old]". The same listing as "grey list --installed / --upgradable".`
}

// Run lists.
func (c *InstalledCmd) Run(ctx context.Context, g *Globals) error {
	return listInstalled(ctx, g, c.Upgradable)
}

// listInstalled prints the installed packages (upgradable: only those
// with a newer candidate, or a rebuild of the installed version) sorted by name; ListCmd's --installed and
// --upgradable are meant to call it.
func listInstalled(ctx context.Context, g *Globals, upgradable bool) error {
	pkgs, err := viewPackages(ctx, g)
	if err != nil {
		return err
	}
	// What dpkg keeps of an undone installation has no version.
	pkgs = slices.DeleteFunc(pkgs, func(p *pkgdb.Package) bool { return p.State() == pkgdb.StateNotInstalled })
	type row struct {
		Name      string `json:"name"`
		Version   string `json:"version"`
		Arch      string `json:"architecture"`
		Status    string `json:"status"`
		State     string `json:"state"`
		Held      bool   `json:"hold,omitempty"`
		Auto      bool   `json:"auto"`
		Candidate string `json:"candidate,omitempty"`
	}
	var cands map[string]string
	if upgradable {
		x, err := cli.OpenIndex(ctx, g)
		if err != nil {
			return err
		}
		defer x.Close()
		cands = map[string]string{}
		for _, p := range pkgs {
			cur, err := version.Parse(p.Version)
			if err != nil {
				return fmt.Errorf("installed %s: %w", p.Name, err)
			}
			best := cur
			for _, c := range x.Packages(p.Name) {
				if c.Architecture == p.Architecture && version.Compare(c.Version, best) > 0 {
					best = c.Version
				}
			}
			if !x.Policy.Policy.Trivial() {
				// Under pins, the candidate apt's policy selects (a pin
				// of 1000 or more may select an older version).
				d, err := transaction.DebPackage(p)
				if err != nil {
					return err
				}
				if cv := x.Candidate(p.Name, p.Architecture, d); cv != "" && cv != p.Version {
					cands[p.Name] = cv
				}
				continue
			}
			if version.Compare(best, cur) > 0 {
				cands[p.Name] = best.String()
				continue
			}
			// A rebuild of the installed version (other control data)
			// is upgradable too, as apt lists it.
			if rebuilt, err := hasRebuild(p, cur, x.Packages(p.Name)); err != nil {
				return err
			} else if rebuilt {
				cands[p.Name] = p.Version
			}
		}
	}
	var rows []row
	for _, p := range pkgs {
		r := row{Name: p.Key(), Version: p.Version, Arch: p.Architecture, Status: p.Status, State: p.State(), Held: p.Held(), Auto: p.Auto}
		if upgradable {
			c, ok := cands[p.Name]
			if !ok {
				continue
			}
			r.Candidate = c
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	if g.JSON {
		if rows == nil {
			rows = []row{}
		}
		return cli.WriteJSON(g.Stdout, rows)
	}
	var b strings.Builder
	for _, r := range rows {
		state := r.State
		if r.Held {
			state += ",hold"
		}
		if r.Auto {
			state += ",automatic"
		}
		if upgradable {
			fmt.Fprintf(&b, "%s %s %s [upgradable from: %s]\n", r.Name, r.Candidate, r.Arch, r.Version)
			continue
		}
		fmt.Fprintf(&b, "%s %s %s [%s]\n", r.Name, r.Version, r.Arch, state)
	}
	_, err = io.WriteString(g.Stdout, b.String())
	return err
}

// hasRebuild reports whether cands holds another build of installed
// package p's version (deb.SameBuild), which the resolver upgrades to.
func hasRebuild(p *pkgdb.Package, cur version.Version, cands []*deb.Package) (bool, error) {
	var inst *deb.Package
	for _, c := range cands {
		if c.Architecture != p.Architecture || version.Compare(c.Version, cur) != 0 || c.Origin == "installed" {
			continue
		}
		if inst == nil {
			d, err := transaction.DebPackage(p)
			if err != nil {
				return false, err
			}
			inst = d
		}
		if !deb.SameBuild(inst, c) {
			return true, nil
		}
	}
	return false, nil
}

// packageArgs splits install arguments as apt does: a path to a .deb
// ("./x.deb", "/tmp/x.deb") is a local package, anything else a job
// ("name", "name=version", "name/release", "name:arch").
func packageArgs(args []string) (jobs []resolver.Job, local []string, err error) {
	for _, a := range args {
		if strings.Contains(a, "/") && strings.HasSuffix(a, ".deb") {
			local = append(local, a)
			continue
		}
		j, err := resolver.ParseJob(a)
		if err != nil {
			return nil, nil, &exitError{Code: 2, Err: err}
		}
		jobs = append(jobs, j)
	}
	return jobs, local, nil
}
