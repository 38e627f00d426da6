// Package index is grey's parsed package index: the verified Packages files
// of every source, turned once into a compact binary cache that each later
// command maps into memory and reads in place.
//
// # Why a cache
//
// Decompressing and parsing bookworm's 50 MB Packages file takes seconds;
// every command after `grey update` needs the index, and the resolver's
// whole-process budget is about 100 ms. So Build writes, per input, a cache
// file whose name is the SHA256 of the verified Packages file it came from
// (plus the format version): it is rebuilt only when that file changes, and
// Load then costs a few milliseconds whatever the size of the index.
//
// # The file
//
// All integers are little-endian. A 128-byte header is followed by seven
// sections (see the constants sec*): a fixed-size record per package, the
// sorted table of package names with their posting lists, the sorted table
// of provided names with theirs (package and provided version), a pool of
// small strings (names, versions, architectures, short descriptions,
// provided names and versions) and the stanzas' text. Every package's
// stanza is kept in the canonical form control.AppendStanza writes, so it is
// decoded lazily, only when someone asks for that package.
//
// Nothing read from disk is trusted: Load checks the magic, the format
// version, the length, the SHA256 of the Packages file, a CRC-32C over the
// header and every table and string, and the bounds of every offset in the
// tables before it answers a single query. Each stanza carries its own
// CRC-32C, checked when it is decoded, so the 50 MB of stanza text is never
// read at load time. A cache that fails any check is rebuilt from the
// verified Packages file.
//
// # Lifetime
//
// An Index maps its cache files read-only. Strings in a Summary or a
// Provider and those yielded by Names alias that mapping: they are valid
// until Close, and must be copied (strings.Clone) to be kept longer. Touching
// them after Close faults the process. Packages returned by Packages,
// Providers, All and Decode are ordinary Go values that own their memory and
// outlive Close.
package index
