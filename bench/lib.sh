# bench/lib.sh: shell functions the bench scripts share. Source it.

# scratch_apt DIR SOURCES [EXTRA]: a private apt root in DIR whose apt.conf
# (exported as APT_CONFIG) reads none of the host's apt.conf.d (which here
# turns apt's binary cache off and keeps lists lz4-compressed), keeps its
# package cache on (pkgcache.bin, as on a stock Debian system) and its lists
# uncompressed, uses an empty dpkg status, one architecture, no
# translations. SOURCES is the sources.list text; EXTRA, more apt.conf lines.
scratch_apt() {
  local A=$1 sources=$2 extra=${3:-}
  mkdir -p "$A"/etc/{apt.conf.d,preferences.d,sources.list.d} "$A"/state/lists/partial "$A"/cache/archives/partial "$A"/log
  : > "$A/state/status"
  printf '%s\n' "$sources" > "$A/etc/sources.list"
  cat > "$A/apt.conf" <<CONF
Dir::Etc "$A/etc/";
Dir::Etc::sourcelist "sources.list";
Dir::Etc::sourceparts "sources.list.d";
Dir::Etc::parts "apt.conf.d";
Dir::Etc::main "/dev/null";
Dir::Etc::preferences "preferences";
Dir::Etc::preferencesparts "preferences.d";
Dir::State "$A/state/";
Dir::State::lists "lists/";
Dir::State::status "$A/state/status";
Dir::State::extended_states "$A/state/extended_states";
Dir::Cache "$A/cache/";
Dir::Cache::archives "archives/";
Dir::Cache::pkgcache "pkgcache.bin";
Dir::Cache::srcpkgcache "srcpkgcache.bin";
Dir::Log "$A/log/";
Debug::NoLocking "1";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
Acquire::Languages "none";
Acquire::GzipIndexes "false";
$extra
CONF
  export APT_CONFIG=$A/apt.conf
}
