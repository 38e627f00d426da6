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
// Load then costs well under a millisecond whatever the size of the index.
//
// # The file
//
// All integers are little-endian. A 160-byte header is followed by a table
// of block checksums and by seven sections (see the constants sec*): a
// fixed-size record per package (offsets of its strings and stanza, its
// line in the Packages file, a key of its .deb's SHA256), the sorted table
// of package names with their posting lists, the sorted table of provided
// names with theirs (package and provided version), a pool of small strings
// (names, versions, architectures, short descriptions, provided names and
// versions), the stanzas' text, and a hash table over each name table (a
// lookup reads one or two slots instead of a binary search's sixteen). Every package's stanza is kept in the
// canonical form control.AppendStanza writes, so it is decoded lazily, only
// when someone asks for that package, and the decoded package is memoized.
//
// Nothing read from disk is trusted. Load checks the magic, the format
// version, the length, the SHA256 of the Packages file the cache was built
// from, and a CRC-32C of the header and of the block table; a file that
// fails is rebuilt from the verified Packages file. Everything after the
// block table is checksummed in 4 KiB blocks, and a block's CRC-32C is
// checked the first time anything in it is read, so Load costs the same for
// 40 packages or 60,000 and a query pays for the few blocks it touches.
// Every offset read from the tables is bounds-checked where it is used. A
// block that fails its check (or an offset out of bounds) makes the reads
// in it yield nothing, is reported by Index.Err as a *CorruptError, and
// removes the file, so the next Load rebuilds it.
//
// # Lifetime
//
// An Index maps its cache files read-only. Strings in a Summary or a
// Provider and those yielded by Names alias that mapping: they are valid
// until Close, and must be copied (strings.Clone) to be kept longer. Touching
// them after Close faults the process. Packages returned by Packages,
// Providers, All and Decode are ordinary Go values that own their memory and
// outlive Close. The caches are replaced by rename, never rewritten in
// place, so a mapping stays valid while another process rebuilds a file.
package index
