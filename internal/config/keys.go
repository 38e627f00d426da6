package config

import (
	"fmt"
	"sort"
	"strings"
)

// The settings grey reads besides the network ones of package fetch, with
// apt's names where apt has the setting.
const (
	// KeyInstallRecommends is apt's APT::Install-Recommends: install
	// Recommends (true by default); --no-install-recommends overrides it.
	KeyInstallRecommends = "APT::Install-Recommends"
	// KeyAssumeYes is apt-get's APT::Get::Assume-Yes (-y).
	KeyAssumeYes = "APT::Get::Assume-Yes"
	// KeySimulate is apt-get's APT::Get::Simulate (-s).
	KeySimulate = "APT::Get::Simulate"
	// KeyDownloadOnly is apt-get's APT::Get::Download-Only (-d).
	KeyDownloadOnly = "APT::Get::Download-Only"
	// KeyColor is apt's APT::Color: true (always), false (never), or
	// grey's auto, always, never; --color overrides it.
	KeyColor = "APT::Color"
	// KeyQuiet is apt's quiet: a level above 0 omits progress indicators
	// (-q).
	KeyQuiet = "quiet"
	// KeyArchives is apt's Dir::Cache::archives: where downloaded
	// packages are kept (absolute, or relative to ROOT/var/cache/grey/).
	KeyArchives = "Dir::Cache::archives"
	// KeyParallelDownloads is how many packages are downloaded at once
	// (grey's own: apt has no such setting); --jobs overrides it.
	KeyParallelDownloads = "Grey::Parallel-Downloads"
	// KeyAppsDir is the directory of per-app roots (grey's own);
	// --apps-dir overrides it; relative to --root when not absolute.
	KeyAppsDir = "Grey::Apps-Dir"
)

// known are the names Check accepts: grey's own settings above and the
// network settings (repo/fetch's Key* names, which a test there holds to
// this list). A name ending in "::" takes any last part (a host).
var known = []string{
	KeyInstallRecommends, KeyAssumeYes, KeySimulate, KeyDownloadOnly, KeyColor, KeyParallelDownloads, KeyAppsDir, KeyArchives, KeyQuiet,
	"Acquire::http::Proxy", "Acquire::http::Proxy::",
	"Acquire::https::Proxy", "Acquire::https::Proxy::",
	"Acquire::No-Proxy",
	"Acquire::https::CAInfo",
	"Acquire::http::Timeout", "Acquire::https::Timeout",
	"Acquire::http::Low-Speed-Limit", "Acquire::http::Low-Speed-Time",
	"Acquire::http::Max-Time",
	"Acquire::Retries",
}

// Known returns the names of the settings grey reads, sorted ("NAME::HOST"
// for the per-host ones).
func Known() []string {
	out := make([]string, 0, len(known))
	for _, k := range known {
		if strings.HasSuffix(k, "::") {
			k += "HOST"
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Check returns an error unless grey reads the setting name. grey.conf may
// hold settings grey does not read (they are ignored, as apt ignores what
// it does not know), but a command line's -o naming one is refused, so
// that an option grey would not honour is not silently dropped.
func Check(name string) error {
	l := strings.ToLower(name)
	for _, k := range known {
		kl := strings.ToLower(k)
		if strings.HasSuffix(kl, "::") {
			if host, ok := strings.CutPrefix(l, kl); ok && host != "" && !strings.Contains(host, "::") {
				return nil
			}
		} else if l == kl {
			return nil
		}
	}
	return fmt.Errorf("%s: grey does not know this setting (it reads %s)", name, strings.Join(Known(), ", "))
}

// Setting describes one of grey's own settings for docs/cli.md and the
// man page.
type Setting struct {
	Name    string
	Flag    string // the command-line flag over it, "" for none
	Default string
	Meaning string
}

// Settings are grey's own settings (the network ones, Acquire::..., are
// repo/fetch's), in the order the documentation lists them.
func Settings() []Setting {
	return []Setting{
		{KeyInstallRecommends, "--no-install-recommends", "true", "install Recommends (install, why)"},
		{KeyAssumeYes, "-y", "false", "answer yes to the prompt"},
		{KeySimulate, "-s", "false", "show the plan only"},
		{KeyDownloadOnly, "-d", "false", "install: only download"},
		{KeyColor, "--color", "auto", "true (always), false (never), or auto, always, never"},
		{KeyQuiet, "-q", "0", "above 0, no progress indicators"},
		{KeyParallelDownloads, "--jobs", "4", "packages downloaded at once"},
		{KeyAppsDir, "--apps-dir", "/var/lib/grey/apps", "per-app roots (grey app), inside --root"},
		{KeyArchives, "", "archives", "where downloaded packages are kept: an absolute directory, or one relative to ROOT/var/cache/grey/ (install, clean, autoclean)"},
	}
}
